"""The Amazon connector against the real sandbox seller account, in process, over real HTTP."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from crossdock.connectors.amazon.config import DEFAULT_RATE_LIMITS, FIXED_RATE_LIMITS, AmazonConfig, RateLimit
from crossdock.connectors.amazon.connector import KIND, AmazonChannel
from crossdock.connectors.capabilities import ChannelOrderRef, OrderSource, SalesChannel
from crossdock.connectors.registry import ConnectorContext
from crossdock.domain.shipments import Package, Shipment, ShipmentLine
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord
from crossdock.sandbox.app import SANDBOX, Sandbox, create_sandbox_app
from crossdock.sandbox.state import AmazonAccountConfig, SandboxConfig
from tests.support.clock import FakeClock

ACCOUNT = AmazonAccountConfig()
SPEED = 100.0  # the sandbox's usage plans run 100× faster and its listing lag is 1.2 s


@dataclass
class World:
    channel: AmazonChannel
    sandbox: Sandbox
    clock: FakeClock
    lineage: list[LineageRecord]
    session: aiohttp.ClientSession
    base: str

    async def faults(self, spec: dict[str, Any]) -> None:
        async with self.session.post(f"{self.base}/_sandbox/faults", json={"amazon": spec}) as resp:
            assert resp.status == 200

    def order(self, lines: list[dict[str, Any]] | None = None) -> tuple[str, list[dict[str, Any]]]:
        [created] = self.sandbox.amazon.create_orders(1, lines)
        return created["order"]["AmazonOrderId"], created["items"]


Factory = Callable[..., Awaitable[World]]


@pytest.fixture
async def make_world() -> AsyncIterator[Factory]:
    servers: list[TestServer] = []
    session = aiohttp.ClientSession()
    clock = FakeClock(1_780_000_000.0)

    async def make(speed: float = SPEED, account: AmazonAccountConfig = ACCOUNT, **config: Any) -> World:
        app = create_sandbox_app(SandboxConfig(clock=clock, speed=speed, amazon=account))
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
        base = str(server.make_url("")).rstrip("/")
        lineage: list[LineageRecord] = []
        ctx = ConnectorContext("amazon-us", "tenant-1", session, lineage.append, clock=clock)
        rate_limits = {
            op: RateLimit(rate=r * speed, burst=b)
            for op, (r, b) in DEFAULT_RATE_LIMITS.items()
            if op not in FIXED_RATE_LIMITS
        }
        settings = {
            "endpoint": f"{base}/amazon",
            "lwa_endpoint": f"{base}/amazon/auth/o2/token",
            "client_id": account.client_id,
            "client_secret": account.client_secret,
            "refresh_token": account.refresh_token,
            "marketplace_ids": [account.marketplace_id],
            "timeout_seconds": 1.0,
            "rate_limits": rate_limits,
            **config,
        }
        channel = KIND.build(AmazonConfig(**settings), ctx)
        return World(channel, app[SANDBOX], clock, lineage, session, base)

    yield make
    for server in servers:
        await server.close()
    await session.close()


@pytest.fixture
async def world(make_world: Factory) -> World:
    return await make_world()


def shipment_of(order_id: str, items: list[dict[str, Any]], tracking: str = "1Z999AA10123456784") -> Shipment:
    return Shipment(
        shipment_id=f"S-{order_id}",
        order_ref=order_id,
        lines=tuple(ShipmentLine(i["OrderItemId"], Decimal(i["QuantityOrdered"])) for i in items),
        carrier="UPS",
        service="Ground",
        tracking_number=tracking,
        shipped_at=datetime(2026, 5, 1, 10, 0, tzinfo=UTC),
    )


async def poll_all(
    channel: AmazonChannel, cursor: str | None, clock: FakeClock | None = None
) -> tuple[list[dict[str, Any]], str, int]:
    """Every page of one listing; with `clock`, a second passes after each call (getOrders
    refills at 1.67 calls/s at SPEED)."""
    orders, pages, more = [], 0, True
    while more:
        page = await channel.poll_orders(cursor)
        if clock is not None:
            clock.advance(1)
        orders += page.orders
        assert isinstance(page.cursor, str)  # persisted by the engine as text
        cursor, more, pages = page.cursor, page.more, pages + 1
    return orders, cursor, pages


def one_a_second(world: World, n: int) -> None:
    """`n` orders a second apart, then past the listing lag and the poll overlap."""
    for _ in range(n):
        world.sandbox.amazon.create_orders(1)
        world.clock.advance(1)
    world.clock.advance(600)


async def buyer_cancels(world: World, order_id: str) -> None:
    async with world.session.post(f"{world.base}/amazon/_sandbox/orders/{order_id}/cancel") as resp:
        assert resp.status == 200


def token_grants(world: World) -> int:
    return len(world.sandbox.amazon.tokens)


async def test_the_connector_is_a_polled_sales_channel(world):
    assert isinstance(world.channel, SalesChannel) and isinstance(world.channel, OrderSource)
    assert world.channel.channel == "amazon" and world.channel.requires_acknowledgement is False


async def test_one_token_grant_serves_many_calls_until_it_nears_expiry(world):
    order_id, items = world.order()
    for _ in range(5):
        assert await world.channel.order_items(order_id) == items
    assert token_grants(world) == 1
    world.clock.advance(
        ACCOUNT.token_ttl_s - 30
    )  # inside the last minute: refreshed before Amazon refuses it
    await world.channel.order_items(order_id)
    assert token_grants(world) == 2
    assert not any(r.status_code == 403 for r in world.lineage)


async def test_revoked_token_is_replaced_and_the_call_repeated(world):
    order_id, items = world.order()
    await world.channel.order_items(order_id)
    world.sandbox.amazon.tokens.clear()  # Amazon forgets the token before its time
    assert await world.channel.order_items(order_id) == items
    assert [r.status_code for r in world.lineage if "orderItems" in (r.url or "")] == [200, 403, 200]


async def test_wrong_refresh_token_is_a_permanent_auth_error(make_world):
    world = await make_world(refresh_token="Atzr|revoked")
    with pytest.raises(PermanentError) as caught:
        await world.channel.order_items("111-0000000-0000000")
    assert caught.value.category == "auth.invalid_credentials"


async def test_orders_of_one_second_are_paged_then_the_next_poll_sees_only_newer_ones(world):
    world.clock.advance(0.5)  # inside a second, as Amazon's fractional moments fall
    world.sandbox.amazon.create_orders(250)  # one instant: no narrower window can part them
    world.clock.advance(600)  # past the listing lag and the poll overlap
    first, cursor, _ = await poll_all(world.channel, None, world.clock)
    assert {o["AmazonOrderId"] for o in first} == set(world.sandbox.amazon.orders)
    assert sum("NextToken=" in (r.url or "") for r in world.lineage) == 2  # 3 pages of 100
    assert set(orjson.loads(cursor)) == {"LastUpdatedAfter"}
    newer = {created["order"]["AmazonOrderId"] for created in world.sandbox.amazon.create_orders(5)}
    world.clock.advance(10)
    second, cursor, pages = await poll_all(world.channel, cursor)
    assert {o["AmazonOrderId"] for o in second} == newer and pages == 1


async def test_a_backlog_is_read_in_windows_of_one_page_at_about_two_calls_a_page(world):
    one_a_second(world, 250)
    listed, _, calls = await poll_all(world.channel, None)
    assert {o["AmazonOrderId"] for o in listed} == set(world.sandbox.amazon.orders)
    assert calls <= 7 and not any("NextToken=" in (r.url or "") for r in world.lineage)


async def test_next_listing_starts_an_overlap_before_the_last_one_ended(world):
    page = await world.channel.poll_orders(None)
    listed_before = world.lineage[-1].response_body
    before = orjson.loads(listed_before)["payload"]["LastUpdatedBefore"]
    after = datetime.fromisoformat(orjson.loads(page.cursor)["LastUpdatedAfter"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(before.replace("Z", "+00:00")).timestamp() - after.timestamp() == 300


async def test_expired_next_token_restarts_the_listing_window(world):
    cursor = orjson.dumps({"LastUpdatedAfter": "2026-01-01T00:00:00Z", "NextToken": "not-a-token!"}).decode()
    page = await world.channel.poll_orders(cursor)
    assert page.orders == [] and page.more
    assert orjson.loads(page.cursor) == {"LastUpdatedAfter": "2026-01-01T00:00:00Z"}


async def test_confirm_shipment_is_recorded_with_carrier_and_tracking(world):
    order_id, items = world.order([{"sku": "CD-1001", "quantity": 2}])
    ref = ChannelOrderRef("amazon", order_id)
    shipment = shipment_of(order_id, items)
    assert await world.channel.find_shipment_confirmation(ref, shipment) is None
    assert await world.channel.confirm_shipment(ref, shipment) == f"{order_id}:1"
    [confirmation] = world.sandbox.amazon.confirmations
    detail = confirmation["body"]["packageDetail"]
    assert confirmation["status"] == 204 and confirmation["order_id"] == order_id
    assert (detail["carrierCode"], detail["trackingNumber"], detail["shippingMethod"]) == (
        "UPS",
        "1Z999AA10123456784",
        "Ground",
    )
    assert detail["orderItems"] == [{"orderItemId": items[0]["OrderItemId"], "quantity": 2}]
    assert world.sandbox.amazon.orders[order_id]["OrderStatus"] == "Shipped"
    assert await world.channel.find_shipment_confirmation(ref, shipment) == f"{order_id}:1"


async def test_retried_shipment_sends_only_the_packages_not_yet_confirmed(make_world):
    world = await make_world(speed=0.01, rate_limits={"confirmShipment": RateLimit(rate=0.02, burst=1)})
    order_id, items = world.order([{"sku": "CD-1001", "quantity": 1}, {"sku": "CD-1002", "quantity": 1}])
    lines = [ShipmentLine(i["OrderItemId"], Decimal(1)) for i in items]
    packages = tuple(Package(str(n), f"TRK{n}", lines=(line,)) for n, line in enumerate(lines, start=1))
    shipment = dataclasses.replace(shipment_of(order_id, items), packages=packages)
    ref = ChannelOrderRef("amazon", order_id)
    with pytest.raises(ThrottledError):  # the second package waits for the usage plan
        await world.channel.confirm_shipment(ref, shipment)
    world.clock.advance(100)
    assert await world.channel.confirm_shipment(ref, shipment) == f"{order_id}:1+2"
    sent = [c["body"]["packageDetail"]["packageReferenceId"] for c in world.sandbox.amazon.confirmations]
    assert sent == ["1", "2"]
    assert await world.channel.find_shipment_confirmation(ref, shipment) == f"{order_id}:1+2"


@pytest.mark.parametrize("mode", ["hang", "drop"])
async def test_confirmation_lost_in_transit_is_ambiguous_then_found_done(world, mode):
    order_id, items = world.order()
    ref, shipment = ChannelOrderRef("amazon", order_id), shipment_of(order_id, items)
    assert await world.channel.find_shipment_confirmation(ref, shipment) is None  # also gets the token
    await world.faults({"commit_then_timeout": {"next": 1, "mode": mode, "hang_seconds": 30}})
    with pytest.raises(TransientError) as caught:
        await world.channel.confirm_shipment(ref, shipment)
    assert caught.value.ambiguous
    assert len(world.sandbox.amazon.confirmations) == 1  # applied on Amazon's side
    assert await world.channel.find_shipment_confirmation(ref, shipment) == f"{order_id}:1"


async def test_documented_usage_plan_throttles_before_amazon_has_to(make_world):
    world = await make_world(speed=1.0)  # getOrders: burst 20, then one per minute
    for _ in range(20):
        await world.channel.poll_orders(None)
    with pytest.raises(ThrottledError) as caught:
        await world.channel.poll_orders(None)
    assert caught.value.retry_after == pytest.approx(1 / 0.0167, rel=0.01)
    assert world.sandbox.amazon.throttled["getOrders"] == 0  # no 429 was needed
    world.clock.advance(caught.value.retry_after)
    await world.channel.poll_orders(None)


async def test_quota_exceeded_waits_at_the_stated_rate_without_a_burst_of_429s(make_world):
    generous = {"getOrders": RateLimit(rate=0.0167, burst=40)}  # more than the seller really has
    world = await make_world(speed=1.0, rate_limits=generous)
    for _ in range(20):
        await world.channel.poll_orders(None)
    for _ in range(3):
        with pytest.raises(ThrottledError) as caught:
            await world.channel.poll_orders(None)
        assert caught.value.retry_after == pytest.approx(1 / 0.0167, rel=0.01)
    assert world.sandbox.amazon.throttled["getOrders"] == 1  # later calls held back client-side


async def test_lineage_records_every_call_with_secrets_redacted(world):
    order_id, items = world.order()
    await world.channel.order_items(order_id)
    await world.channel.confirm_shipment(ChannelOrderRef("amazon", order_id), shipment_of(order_id, items))
    await world.channel.poll_orders(None)
    methods = [(r.method, (r.url or "").rsplit("/", 1)[-1].split("?")[0]) for r in world.lineage]
    assert methods == [
        ("POST", "token"),
        ("GET", "orderItems"),
        ("POST", "shipmentConfirmation"),
        ("GET", "orders"),
    ]
    text = repr(world.lineage)
    for secret in (ACCOUNT.client_secret, ACCOUNT.refresh_token, *world.sandbox.amazon.tokens):
        assert secret not in text
    assert all(r.connection_id == "amazon-us" and r.duration_ms is not None for r in world.lineage)


async def test_line_cancellation_is_noted_not_sent(world):
    order_id, _ = world.order()
    await world.channel.cancel_lines(ChannelOrderRef("amazon", order_id), {"L1": Decimal(1)}, "short pick")
    [note] = world.lineage
    assert note.method is None and "cancel_lines" in note.request_body and "short pick" in note.request_body
    assert world.sandbox.amazon.ctx.stats.total["amazon"] == 0


async def test_an_order_that_changes_while_a_listing_is_read_hides_no_other_order(world):
    """Amazon pages a listing behind an opaque NextToken and documents no order; an order
    updated while the listing is read leaves the listing's window, and a listing paged by
    position would skip the order that moved up into the page already read."""
    one_a_second(world, 250)
    page = await world.channel.poll_orders(None)
    while not page.orders:
        page = await world.channel.poll_orders(page.cursor)
    assert page.more
    seen = {o["AmazonOrderId"] for o in page.orders}
    changed = page.orders[0]["AmazonOrderId"]  # read already: the buyer cancels it now
    await buyer_cancels(world, changed)
    world.clock.advance(1)
    rest, _, _ = await poll_all(world.channel, page.cursor)
    seen |= {o["AmazonOrderId"] for o in rest}
    assert seen == set(world.sandbox.amazon.orders)


async def test_a_listing_answered_in_no_order_is_read_whole_by_halving_its_windows(world, monkeypatch):
    """Nothing relies on the pages being ordered by date: answered in a random order, every
    window that pages is halved until it fits, and an order changed meanwhile hides none."""
    select, shuffle = world.sandbox.amazon._select, random.Random(3).shuffle

    def unordered(query: dict[str, Any]) -> list[dict[str, Any]]:
        rows = select(query)
        shuffle(rows)
        return rows

    monkeypatch.setattr(world.sandbox.amazon, "_select", unordered)
    one_a_second(world, 250)
    page = await world.channel.poll_orders(None)
    while not page.orders:
        page = await world.channel.poll_orders(page.cursor)
        world.clock.advance(1)
    changed = page.orders[0]["AmazonOrderId"]
    await buyer_cancels(world, changed)
    rest, _, _ = await poll_all(world.channel, page.cursor, world.clock)
    listed = {o["AmazonOrderId"] for o in [*page.orders, *rest]}
    assert listed == set(world.sandbox.amazon.orders)
    assert not any("NextToken=" in (r.url or "") for r in world.lineage)
