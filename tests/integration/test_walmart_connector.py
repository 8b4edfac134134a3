"""The Walmart channel connector against the real sandbox seller, in process, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from crossdock.connectors.capabilities import ChannelOrderRef, OrderSource, SalesChannel
from crossdock.connectors.kinds import connector_kind
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.walmart.config import WalmartConfig
from crossdock.connectors.walmart.connector import WalmartChannel
from crossdock.domain.shipments import Shipment, ShipmentLine
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord
from crossdock.sandbox.app import SANDBOX, Sandbox, create_sandbox_app
from crossdock.sandbox.state import SandboxConfig, WalmartSellerConfig
from tests.support.clock import FakeClock

SELLER = WalmartSellerConfig()


@dataclass
class World:
    channel: WalmartChannel
    sandbox: Sandbox
    clock: FakeClock
    lineage: list[LineageRecord]
    session: aiohttp.ClientSession
    base: str

    async def faults(self, spec: dict[str, Any]) -> None:
        async with self.session.post(f"{self.base}/_sandbox/faults", json={"walmart": spec}) as resp:
            assert resp.status == 200

    async def state(self) -> dict[str, Any]:
        async with self.session.get(f"{self.base}/_sandbox/state") as resp:
            return (await resp.json())["walmart"]

    def order(self, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        [created] = self.sandbox.walmart.create_orders(1, lines)
        return created


Factory = Callable[..., Awaitable[World]]


@pytest.fixture
async def make_world() -> AsyncIterator[Factory]:
    servers: list[TestServer] = []
    session = aiohttp.ClientSession()
    clock = FakeClock(1_780_000_000.0)

    async def make(**config: Any) -> World:
        app = create_sandbox_app(SandboxConfig(clock=clock, speed=100.0))
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
        base = str(server.make_url("")).rstrip("/")
        lineage: list[LineageRecord] = []
        ctx = ConnectorContext("walmart-us", "tenant-1", session, lineage.append, clock=clock)
        settings = {"base_url": f"{base}/walmart", "client_id": SELLER.client_id,
                    "client_secret": SELLER.client_secret, "timeout_seconds": 1.0, **config}  # fmt: skip
        channel = connector_kind("walmart").build(WalmartConfig(**settings), ctx)
        return World(channel, app[SANDBOX], clock, lineage, session, base)

    yield make
    for server in servers:
        await server.close()
    await session.close()


@pytest.fixture
async def world(make_world: Factory) -> World:
    return await make_world()


def ref(order: dict[str, Any]) -> ChannelOrderRef:
    return ChannelOrderRef("walmart", order["purchaseOrderId"])


def shipment(order: dict[str, Any], quantities: dict[str, int], tracking: str) -> Shipment:
    return Shipment(
        shipment_id=f"S-{tracking}",
        order_ref=order["purchaseOrderId"],
        lines=tuple(ShipmentLine(line, Decimal(qty)) for line, qty in quantities.items()),
        carrier="UPS",
        service="Ground",
        tracking_number=tracking,
        shipped_at=datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
    )


async def poll_all(channel: WalmartChannel, cursor: str | None) -> tuple[list[dict], str, int]:
    orders, pages, more = [], 0, True
    while more:
        page = await channel.poll_orders(cursor)
        orders += page.orders
        cursor, more, pages = page.cursor, page.more, pages + 1
    return orders, cursor, pages


async def test_the_connector_is_a_polled_sales_channel_that_requires_acknowledgement(world):
    assert isinstance(world.channel, SalesChannel) and isinstance(world.channel, OrderSource)
    assert world.channel.channel == "walmart" and world.channel.requires_acknowledgement is True


async def test_polling_pages_250_orders_then_the_next_poll_sees_only_changed_ones(make_world):
    world = await make_world(page_size=100, poll_overlap_seconds=10)
    placed = {o["purchaseOrderId"] for o in world.sandbox.walmart.create_orders(250)}
    world.clock.advance(60)  # beyond the overlap of the next listing
    orders, cursor, pages = await poll_all(world.channel, None)
    assert pages == 3 and {o["purchaseOrderId"] for o in orders} == placed
    world.clock.advance(60)
    newer = world.order()
    older = next(iter(placed))
    await world.channel.acknowledge_order(ChannelOrderRef("walmart", older))  # a change Walmart lists again
    world.clock.advance(2)  # a listing ends a second ago
    orders, _, pages = await poll_all(world.channel, cursor)
    assert pages == 1 and sorted(o["purchaseOrderId"] for o in orders) == sorted([newer["purchaseOrderId"], older])
    listed = next(o for o in orders if o["purchaseOrderId"] == older)
    assert world.channel.snapshot_ref(listed)[0] == older
    assert world.channel.snapshot_ref(listed) != world.channel.snapshot_ref(world.order())


async def test_orders_changed_while_a_listing_is_paged_do_not_hide_the_others(make_world):
    """Walmart pages a listing by position: orders of the first page acknowledged meanwhile
    leave the listing's window, the later pages shift forward, and the orders at the page
    boundary are on no page. The next listing starts no later than the first page's last
    change, so they are listed then."""
    world = await make_world(page_size=100, poll_overlap_seconds=10)
    placed = [o["purchaseOrderId"] for o in world.sandbox.walmart.create_orders(250)]
    world.clock.advance(60)  # the next listings' overlap reaches back less than this
    first = await world.channel.poll_orders(None)
    assert first.more and len(first.orders) == 100
    for po in placed[:30]:  # the hub acknowledges the first orders while it pages
        await world.channel.acknowledge_order(ChannelOrderRef("walmart", po))
    world.clock.advance(1)
    rest, cursor, _ = await poll_all(world.channel, first.cursor)
    seen = {o["purchaseOrderId"] for o in first.orders + rest}
    world.clock.advance(60)
    again, _, _ = await poll_all(world.channel, cursor)
    seen |= {o["purchaseOrderId"] for o in again}
    assert set(placed) <= seen, f"never listed: {sorted(set(placed) - seen)}"


async def test_the_next_listing_starts_an_overlap_before_the_last_one_ended(make_world):
    world = await make_world(poll_overlap_seconds=30)
    first = world.order()
    world.clock.advance(2)  # a listing ends a second ago
    orders, cursor, _ = await poll_all(world.channel, None)
    assert [o["purchaseOrderId"] for o in orders] == [first["purchaseOrderId"]]
    world.clock.advance(20)  # within the overlap: listed again, the same snapshot
    orders, _, _ = await poll_all(world.channel, cursor)
    assert [world.channel.snapshot_ref(o) for o in orders] == [world.channel.snapshot_ref(first)]
    assert orjson.loads(cursor)["after"] < datetime.fromtimestamp(world.clock.now, UTC).isoformat()


async def test_an_unusable_page_cursor_lists_the_window_again(world):
    world.sandbox.walmart.create_orders(3)
    after = "2026-05-28T00:00:00Z"
    cursor = orjson.dumps({"after": after, "before": "2026-05-28T20:00:00Z",
                           "next": "?limit=2&hasMoreElements=true&poIndex=not-a-number"}).decode()  # fmt: skip
    page = await world.channel.poll_orders(cursor)
    assert page.orders == [] and page.more and orjson.loads(page.cursor) == {"after": after}
    with pytest.raises(PermanentError) as caught:
        await world.channel.poll_orders("not json")
    assert caught.value.category == "config.cursor"


async def test_acknowledgement_is_recorded_once_and_asking_again_is_harmless(world):
    order = world.order()
    await world.channel.acknowledge_order(ref(order))
    await world.channel.acknowledge_order(ref(order))  # Walmart refuses: nothing Created any more
    state = await world.state()
    placed = state["orders"][order["purchaseOrderId"]]
    assert placed["statuses"] == ["Acknowledged"] and placed["acknowledged_at"]
    assert [a["status"] for a in state["acknowledgements"]] == [200, 400]


async def test_an_order_the_customer_cancelled_needs_no_acknowledgement(world):
    order = world.order()
    async with world.session.post(f"{world.base}/walmart/_sandbox/orders/{order['purchaseOrderId']}/cancel") as r:
        assert r.status == 200
    await world.channel.acknowledge_order(ref(order))
    with pytest.raises(PermanentError) as caught:
        await world.channel.acknowledge_order(ChannelOrderRef("walmart", "404404404"))
    assert caught.value.category == "remote.not_found"


async def test_partial_shipments_are_confirmed_per_line_with_carrier_and_tracking(world):
    order = world.order([{"sku": "CD-1001", "quantity": 3}, {"sku": "CD-1002", "quantity": 1}])
    await world.channel.acknowledge_order(ref(order))
    first, second = shipment(order, {"1": 2}, "1Z-A"), shipment(order, {"1": 1, "2": 1}, "1Z-B")
    assert await world.channel.find_shipment_confirmation(ref(order), first) is None
    assert await world.channel.confirm_shipment(ref(order), first) == f"{order['purchaseOrderId']}:1Z-A"
    assert await world.channel.find_shipment_confirmation(ref(order), first) == f"{order['purchaseOrderId']}:1Z-A"
    assert await world.channel.find_shipment_confirmation(ref(order), second) is None
    await world.channel.confirm_shipment(ref(order), second)
    state = await world.state()
    lines = {li["line"]: li for li in state["orders"][order["purchaseOrderId"]]["lines"]}
    assert (lines["1"]["shipped"], lines["1"]["acknowledged"], lines["2"]["shipped"]) == (3, 0, 1)
    recorded = [(li["line"], li["quantity"], li["carrier"], li["method"], li["tracking_number"])
                for s in state["shipments"] for li in s["lines"]]  # fmt: skip
    assert recorded == [("1", 2, "UPS", "Standard", "1Z-A"), ("1", 1, "UPS", "Standard", "1Z-B"),
                        ("2", 1, "UPS", "Standard", "1Z-B")]  # fmt: skip


async def test_shipping_before_acknowledging_is_refused(world):
    order = world.order([{"sku": "CD-1001", "quantity": 1}])
    with pytest.raises(PermanentError) as caught:
        await world.channel.confirm_shipment(ref(order), shipment(order, {"1": 1}, "1Z-C"))
    assert caught.value.category == "remote.rejected" and "acknowledge" in caught.value.detail


@pytest.mark.parametrize("mode", ["drop", "hang"])
async def test_a_confirmation_lost_in_transit_is_ambiguous_then_found_done(world, mode):
    order = world.order([{"sku": "CD-1003", "quantity": 2}])
    await world.channel.acknowledge_order(ref(order))
    await world.faults({"commit_then_timeout": {"next": 1, "mode": mode, "hang_seconds": 3}})
    sent = shipment(order, {"1": 2}, "1Z-D")
    with pytest.raises(TransientError) as caught:
        await world.channel.confirm_shipment(ref(order), sent)
    assert caught.value.ambiguous
    assert await world.channel.find_shipment_confirmation(ref(order), sent) == f"{order['purchaseOrderId']}:1Z-D"
    assert len((await world.state())["shipments"]) == 1


async def test_lines_that_will_not_ship_are_cancelled_with_a_reason(world):
    order = world.order([{"sku": "CD-1004", "quantity": 4}])
    await world.channel.acknowledge_order(ref(order))
    await world.channel.cancel_lines(ref(order), {"1": Decimal(1)}, "short pick")
    state = await world.state()
    [cancellation] = state["cancellations"]
    assert cancellation["lines"][0]["reason"] == "SELLER_CANCEL_OUT_OF_STOCK"
    assert state["orders"][order["purchaseOrderId"]]["lines"][0] | {"sku": None} == {
        "line": "1", "sku": None, "ordered": 4, "created": 0, "acknowledged": 3, "shipped": 0, "cancelled": 1
    }


async def test_acknowledgements_keep_to_walmarts_limit_before_walmart_has_to(make_world):
    world = await make_world(rate_limits={"acknowledgeOrders": {"per_minute": 3}})
    orders = world.sandbox.walmart.create_orders(4)
    for order in orders[:3]:
        await world.channel.acknowledge_order(ref(order))
    with pytest.raises(ThrottledError) as caught:
        await world.channel.acknowledge_order(ref(orders[3]))
    assert caught.value.local and caught.value.retry_after > 1
    assert len((await world.state())["acknowledgements"]) == 3
    world.clock.advance(20)  # one token per 20 s
    await world.channel.acknowledge_order(ref(orders[3]))


async def test_walmarts_429_is_a_throttle_for_every_worker(make_world):
    world = await make_world(rate_limits={"acknowledgeOrders": {"per_minute": 10_000}})
    orders = world.sandbox.walmart.create_orders(61)
    for order in orders[:60]:  # the sandbox's bucket holds a minute's worth: 60
        await world.channel.acknowledge_order(ref(order))
    with pytest.raises(ThrottledError) as caught:
        await world.channel.acknowledge_order(ref(orders[60]))
    assert not caught.value.local and caught.value.retry_after >= 1
    assert (await world.state())["orders_throttled"] == {"acknowledgeOrders": 1}


async def test_lineage_records_every_call_without_the_secret_or_the_token(world):
    order = world.order()
    await world.channel.acknowledge_order(ref(order))
    urls = [r.url for r in world.lineage]
    assert urls[-1].endswith(f"/walmart/v3/orders/{order['purchaseOrderId']}/acknowledge")
    text = orjson.dumps([r.__dict__ if hasattr(r, "__dict__") else str(r) for r in world.lineage], default=str)
    assert SELLER.client_secret.encode() not in text
    token = next(iter(world.sandbox.walmart.tokens))
    assert token.encode() not in text
