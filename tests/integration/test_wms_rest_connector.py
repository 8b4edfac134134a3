"""The generic REST WMS connector against the real sandbox WMS, in process, over real HTTP.

The sandbox warehouse sends its signed events to a small receiver standing in for the
hub's intake; the receiver verifies them with `WmsEventVerifier` and decodes them with
the connector's codec, as the hub does."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from crossdock.connectors.capabilities import (
    InboundEvent,
    ReleaseLine,
    ReleaseRequest,
    SignatureError,
    Warehouse,
)
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.webhook.verify import sign
from crossdock.connectors.wms_rest import codec
from crossdock.connectors.wms_rest.config import WmsRestConfig
from crossdock.connectors.wms_rest.connector import KIND, RestWarehouse
from crossdock.domain.parties import Address
from crossdock.domain.shipments import WarehouseEventKind
from crossdock.errors import PermanentError, TransientError
from crossdock.sandbox.app import SANDBOX, Sandbox, create_sandbox_app
from crossdock.sandbox.state import SandboxConfig, WmsConfig

SECRET = WmsConfig().webhook_secret
SHIP_TO = Address(name="Ada Archer", line1="12 Chen Street", city="Austin", postal_code="78701", country="US")


def release(ref: str = "R-1", order_ref: str = "shopify:1001", **quantities: int) -> ReleaseRequest:
    lines = tuple(
        ReleaseLine(line_ref, f"CD-100{n}", Decimal(qty))
        for n, (line_ref, qty) in enumerate((quantities or {"L1": 3, "L2": 1}).items(), start=1)
    )
    return ReleaseRequest(ref, "MAIN", order_ref, lines, SHIP_TO, carrier="UPS", service="Ground")


@dataclass
class Receiver:
    """The hub's intake in miniature: verify, then decode; 401 for a bad signature."""

    config: WmsRestConfig | None = None
    accepted: list[tuple[InboundEvent, codec.WmsEvent]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    fail_next: int = 0  # answer 500 to this many verified deliveries: the WMS delivers them again

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        assert KIND.inbound is not None and self.config is not None
        try:
            event = KIND.inbound.verify(
                self.config,
                request.match_info["conn"],
                request.match_info["topic"],
                request.headers,
                body,
                time.time(),
            )
        except SignatureError as exc:
            self.refused.append(exc.reason)
            return web.Response(status=401)
        self.accepted.append((event, codec.decode_event(body)))
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=500)
        return web.Response(status=202)

    def topics(self) -> list[str]:
        return [event.topic for event, _ in self.accepted]


class Harness:
    def __init__(
        self, sandbox_server: TestServer, receiver: Receiver, session: aiohttp.ClientSession
    ) -> None:
        self.server, self.receiver, self.session = sandbox_server, receiver, session
        self.sandbox: Sandbox = sandbox_server.app[SANDBOX]
        self.config = WmsRestConfig(
            base_url=str(sandbox_server.make_url("/wms")),
            api_key="wms-sandbox-key",
            webhook_secret=SECRET,
            # Short, for the one test that waits out a hanging answer; not so short that an
            # answer from the in-process sandbox misses it while the suite loads both cores
            # (0.5 s did, once, in CI).
            timeout_seconds=2.0,
        )
        receiver.config = self.config

    def wms(self) -> RestWarehouse:
        assert KIND.build is not None
        return KIND.build(
            self.config, ConnectorContext("wms", "tenant-1", self.session, lambda _record: None)
        )

    async def settle(self) -> None:
        """Wait until every release's warehouse work is done and its events delivered."""
        for _ in range(500):
            if not self.sandbox.wms.tasks:
                break
            await asyncio.sleep(0.01)
        await self.sandbox.drain(10)


async def _harness(wms: WmsConfig):
    receiver = Receiver()
    hub = web.Application()
    hub.router.add_post("/hooks/{conn}/{topic}", receiver.handle)
    hub_server = TestServer(hub)
    await hub_server.start_server()
    sandbox = TestServer(
        create_sandbox_app(
            SandboxConfig(hub_url=str(hub_server.make_url("")), wms=wms, webhook_retry_factor=0.001)
        )
    )
    await sandbox.start_server()
    return hub_server, sandbox, receiver


@pytest.fixture
def wms_config() -> WmsConfig:
    return WmsConfig(event_delay_s=0.01)


@pytest.fixture
async def hx(wms_config):
    hub_server, sandbox, receiver = await _harness(wms_config)
    async with aiohttp.ClientSession() as session:
        yield Harness(sandbox, receiver, session)
    await sandbox.close()
    await hub_server.close()


async def test_release_is_followed_by_signed_events_verified_and_decoded(hx):
    wms = hx.wms()
    assert isinstance(wms, Warehouse)
    assert await wms.release(release()) == "R-1"
    await hx.settle()

    assert hx.receiver.refused == [] and hx.receiver.topics() == ["picked", "packed", "shipped"]
    for inbound, _ in hx.receiver.accepted:
        assert inbound.kind == "order.warehouse_event" and ":msg_" in inbound.idempotency_key
        assert inbound.ordering_key == inbound.correlation_id == "shopify:1001"
    (_, picked), (_, packed), (_, shipped) = hx.receiver.accepted
    assert [(e.kind, e.line_id, e.quantity) for e in picked.lines] == [
        (WarehouseEventKind.PICKED, "L1", Decimal(3)),
        (WarehouseEventKind.PICKED, "L2", Decimal(1)),
    ]
    assert packed.packages == 1 and packed.lines == ()
    shipment = shipped.shipment
    assert shipped.final and shipment.shipment_id == "R-1-S1" and shipment.order_ref == "shopify:1001"
    assert (shipment.carrier, shipment.service, shipment.location_ref) == ("UPS", "Ground", "MAIN")
    assert shipment.tracking_number.startswith("1Z") and shipment.shipped_at is not None
    assert {ln.line_id: ln.quantity for ln in shipment.lines} == {"L1": Decimal(3), "L2": Decimal(1)}
    assert [(e.kind, e.package_reference) for e in shipped.lines] == [
        (WarehouseEventKind.SHIPPED, "R-1-S1")
    ] * 2
    assert hx.sandbox.wms.releases["R-1"]["ship_to"]["city"] == "Austin"


@pytest.mark.parametrize(
    "wms_config",
    [WmsConfig(event_delay_s=0.01, short_pick_probability=1.0, partial_shipment_probability=1.0)],
)
async def test_short_pick_then_split_shipments_add_up_to_what_was_picked(hx):
    await hx.wms().release(release(L1=10, L2=8))
    await hx.settle()

    events = [decoded for _, decoded in hx.receiver.accepted]
    assert events[0].topic == "short_picked"
    picked = {e.line_id: e.quantity for e in events[0].lines}
    assert all(e.kind is WarehouseEventKind.SHORT_PICKED and e.shortfall > 0 for e in events[0].lines)
    assert {e.line_id: e.requested for e in events[0].lines} == {"L1": Decimal(10), "L2": Decimal(8)}
    shipments = [e.shipment for e in events if e.topic == "shipped"]
    shipped: dict[str, Decimal] = {}
    for shipment in shipments:
        for line in shipment.lines:
            shipped[line.line_id] = shipped.get(line.line_id, Decimal(0)) + line.quantity
    assert shipped == {k: v for k, v in picked.items() if v > 0}
    assert [e.final for e in events if e.topic == "shipped"][-1] is True


async def test_a_repeated_release_answers_the_existing_one(hx):
    wms = hx.wms()
    assert await wms.find_release("R-1") is None
    assert await wms.release(release()) == "R-1"
    assert await wms.release(release()) == "R-1"  # 409 duplicate_release: the first got through
    assert await wms.find_release("R-1") == "R-1"
    state = hx.sandbox.wms.snapshot()
    assert state["release_requests"] == {"R-1": 2} and list(state["releases"]) == ["R-1"]


async def test_ambiguous_release_is_found_and_not_released_twice(hx):
    wms = hx.wms()
    async with hx.session.post(
        hx.server.make_url("/_sandbox/faults"),
        json={"wms": {"commit_then_timeout": {"next": 1, "hang_seconds": 30}}},
    ) as resp:
        assert resp.status == 200
    with pytest.raises(TransientError) as caught:
        await wms.release(release())
    assert caught.value.ambiguous is True
    assert await wms.find_release("R-1") == "R-1"


@pytest.mark.parametrize("wms_config", [WmsConfig(event_delay_s=0.3)])
async def test_cancel_before_shipping_stops_the_warehouse(hx):
    wms = hx.wms()
    await wms.release(release())
    assert await wms.cancel_release("R-1") is True
    await asyncio.sleep(0.4)
    await hx.settle()
    assert hx.sandbox.wms.releases["R-1"]["status"] == "cancelled" and hx.receiver.accepted == []
    assert await wms.cancel_release("R-unknown") is True  # never reached the warehouse: nothing will ship


async def test_cancel_after_shipping_is_too_late(hx):
    wms = hx.wms()
    await wms.release(release())
    await hx.settle()
    assert await wms.cancel_release("R-1") is False
    assert hx.sandbox.wms.releases["R-1"]["status"] == "shipped"


async def test_fractional_quantities_are_refused_before_anything_is_sent(hx):
    bad = ReleaseRequest("R-9", "MAIN", "shopify:9", (ReleaseLine("L1", "CD-1001", Decimal("1.5")),), None)
    with pytest.raises(PermanentError) as caught:
        await hx.wms().release(bad)
    assert caught.value.category == "validation.fractional_quantity"
    assert hx.sandbox.wms.snapshot()["release_requests"] == {}


async def test_a_redelivered_event_keeps_its_idempotency_key(hx):
    hx.receiver.fail_next = 1  # the first event is answered 500 and delivered again
    await hx.wms().release(release())
    await hx.settle()
    keys = [event.idempotency_key for event, _ in hx.receiver.accepted]
    assert sorted(Counter(keys).values()) == [1, 1, 2]  # one business event, one key


def test_forged_stale_or_unsigned_events_are_refused():
    config = WmsRestConfig(base_url="http://wms.test", api_key="k", webhook_secret=SECRET)
    body = b'{"type": "release.picked", "data": {"order_reference": "shopify:1", "release_reference": "R-1"}}'
    now = 1_780_000_000
    good = sign(SECRET, "msg_1", now, body.decode())
    verifier = KIND.inbound
    event = verifier.verify(config, "wms", "url-topic", {k.title(): v for k, v in good.items()}, body, now)
    assert (event.topic, event.ordering_key, event.idempotency_key) == ("picked", "shopify:1", "wms:msg_1")

    cases = {
        "bad_signature": (good, body.replace(b"shopify:1", b"shopify:2"), now),
        "stale_timestamp": (good, body, now + 3600),
        "missing_header": ({}, body, now),
    }
    for reason, (headers, payload, at) in cases.items():
        with pytest.raises(SignatureError) as caught:
            verifier.verify(config, "wms", "picked", headers, payload, at)
        assert caught.value.reason == reason
