"""Publishing available quantities to Shopify, Amazon and Walmart: the real publishers against
the sandbox app, in process, over HTTP."""

from __future__ import annotations

import time

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.amazon.feeds import AmazonInventoryPublisher
from crossdock.connectors.inventory_publishing import InventoryPublisher, StockUpdate
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.shopify.config import ShopifyConfig
from crossdock.connectors.shopify.inventory import ShopifyInventoryPublisher
from crossdock.connectors.walmart.config import WalmartConfig
from crossdock.connectors.walmart.inventory import WINDOW_KEY, WalmartInventoryPublisher
from crossdock.engine.database import Database
from crossdock.engine.quotas import DatabaseQuota
from crossdock.errors import ThrottledError
from crossdock.records import LineageRecord
from crossdock.sandbox.app import create_sandbox_app
from crossdock.sandbox.state import (
    AmazonListingsConfig,
    SandboxConfig,
    ShopifyStoreConfig,
    WalmartSellerConfig,
)
from crossdock.store.db import make_engine

LOCATION = 73_000_000_001


class Clock:
    def __init__(self) -> None:
        self.t = 1_780_000_000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def serve():
    servers: list[TestServer] = []

    async def start(config: SandboxConfig) -> TestServer:
        server = TestServer(create_sandbox_app(config))
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


async def state(session: aiohttp.ClientSession, server: TestServer) -> dict:
    async with session.get(server.make_url("/_sandbox/state")) as resp:
        return await resp.json()


def sku(i: int) -> str:
    return f"CD-{1001 + i}"


# -- Shopify --------------------------------------------------------------------------------------


@pytest.fixture
async def shopify(serve, session):
    server = await serve(SandboxConfig(catalog_size=1000, shopify=ShopifyStoreConfig(topics=())))
    lineage: list[LineageRecord] = []
    config = ShopifyConfig(
        shop_domain="crossdock-sandbox.myshopify.com", base_url=str(server.make_url("/shopify")),
        access_token="shpat_sandbox", webhook_secret="x", location_id=str(LOCATION),
    )  # fmt: skip
    ctx = ConnectorContext("shopify-1", "tenant-1", session, lineage.append, {}, time.time)
    return server, ShopifyInventoryPublisher(config, ctx), lineage


async def test_shopify_1000_updates_take_4_calls_and_a_bad_item_fails_alone(shopify, session):
    server, publisher, lineage = shopify
    assert isinstance(publisher, InventoryPublisher)
    updates = [StockUpdate(f"I{i}", sku(i), i % 50, 100, f"k{i}") for i in range(999)]
    updates.append(StockUpdate("GHOST", "NO-SUCH-SKU", 5, None, "ghost"))
    result = await publisher.publish(updates)
    assert len(result.accepted) == 999 and result.pending is None
    assert set(result.failed) == {"ghost"} and result.failed["ghost"].category == "mapping.sku_unknown"
    snapshot = (await state(session, server))["shopify"]
    assert snapshot["graphql_operations"]["inventorySetQuantities"] == 4
    assert snapshot["inventory"][f"{sku(7)}@{LOCATION}"]["available"] == 7
    assert snapshot["inventory"][f"{sku(998)}@{LOCATION}"]["available"] == 998 % 50
    assert len(snapshot["inventory_changes"]) == 999
    assert all("shpat_sandbox" not in str(r.request_headers) for r in lineage)


async def test_shopify_stale_quantity_fails_alone_and_replays_are_idempotent(shopify, session):
    server, publisher, _ = shopify
    updates = [StockUpdate(f"I{i}", sku(i), 40, 100, f"k{i}") for i in range(10)]
    updates[3] = StockUpdate("I3", sku(3), 40, 97, "k3")  # Shopify holds 100, not 97
    result = await publisher.publish(updates)
    assert set(result.failed) == {"k3"} and result.failed["k3"].category == "remote.stale_quantity"
    assert "CHANGE_FROM_QUANTITY_STALE" in result.failed["k3"].detail
    assert sorted(result.accepted) == sorted(u.key for u in updates if u.key != "k3")
    again = await publisher.publish(updates)  # a retried message: same keys, same calls
    assert sorted(again.accepted) == sorted(result.accepted)
    snapshot = (await state(session, server))["shopify"]
    assert snapshot["idempotent_replays"] == 2 and len(snapshot["inventory_changes"]) == 9
    assert snapshot["inventory"][f"{sku(3)}@{LOCATION}"]["available"] == 100


# -- Amazon ---------------------------------------------------------------------------------------


INVALID = tuple(sku(i) for i in range(0, 1000, 50))  # 20 SKUs Amazon refuses


@pytest.fixture
async def amazon(serve, session):
    clock = Clock()
    feeds = AmazonListingsConfig(invalid_skus=INVALID, feed_processing_s=60)
    server = await serve(SandboxConfig(clock=clock, amazon_feeds=feeds))

    def make() -> AmazonInventoryPublisher:
        config = AmazonConfig(
            endpoint=str(server.make_url("/amazon")), lwa_endpoint=str(server.make_url("/amazon/auth/o2/token")),
            client_id="amzn1.application-oa2-client.sandbox", client_secret="amazon-sandbox-client-secret",
            refresh_token="Atzr|sandbox-refresh-token", marketplace_ids=["ATVPDKIKX0DER"], seller_id="A1SANDBOXSELLER",
        )  # fmt: skip
        return AmazonInventoryPublisher(
            config, ConnectorContext("amazon-1", "t", session, lambda r: None, {}, clock)
        )

    return server, clock, make


async def test_amazon_1000_updates_make_one_feed_and_its_report_names_20_refusals(amazon, session):
    server, clock, make = amazon
    publisher = make()
    updates = [StockUpdate(f"I{i}", sku(i), 10 + i % 5, 3, f"k{i}") for i in range(1000)]
    urgent = StockUpdate("Z", "CD-9999", 0, 4, "to-zero")
    result = await publisher.publish([*updates, urgent])
    assert result.accepted == ["to-zero"] and not result.failed and result.pending
    snapshot = (await state(session, server))["amazon_feeds"]
    assert len(snapshot["feeds"]) == 1 and snapshot["listings"] == {"CD-9999": 0}
    assert snapshot["listings_patches"][0]["sku"] == "CD-9999"

    assert await publisher.check(result.pending) is None  # IN_QUEUE
    clock.advance(61)
    done = await publisher.check(result.pending)
    assert len(done.accepted) == 980 and len(done.failed) == 20
    for key, failure in done.failed.items():
        refused = sku(int(key[1:]))
        assert (
            refused in INVALID and refused in failure.detail and "invalid for this seller" in failure.detail
        )
    snapshot = (await state(session, server))["amazon_feeds"]
    assert snapshot["listings"][sku(1)] == 11 and sku(0) not in snapshot["listings"]
    (feed,) = snapshot["feeds"].values()
    assert feed["status"] == "DONE" and feed["summary"]["messagesInvalid"] == 20


async def test_amazon_processes_feeds_in_order_whether_or_not_asked(amazon, session):
    """Amazon processes listings feeds on its own time, oldest first: quantities change once
    processing time has passed even if nobody asked for the feed, and asking for a later
    feed first does not let an earlier feed's quantity win."""
    server, clock, make = amazon
    publisher = make()
    first = await publisher.publish([StockUpdate("I", sku(1), 5, None, "k")])
    clock.advance(1)
    second = await publisher.publish([StockUpdate("I", sku(1), 3, None, "k")])
    assert sku(1) not in (await state(session, server))["amazon_feeds"]["listings"]
    clock.advance(61)
    assert (await state(session, server))["amazon_feeds"]["listings"][sku(1)] == 3
    assert (await publisher.check(second.pending)).accepted == ["k"]
    assert (await publisher.check(first.pending)).accepted == ["k"]
    assert (await state(session, server))["amazon_feeds"]["listings"][sku(1)] == 3


async def test_amazon_patch_refusal_is_a_per_item_failure(amazon):
    _, _, make = amazon
    result = await make().publish([StockUpdate("I", INVALID[0], 0, 2, "z")])
    assert result.pending is None and result.failed["z"].category == "remote.listing_rejected"


async def test_amazon_five_listings_feeds_per_five_minutes(amazon, session):
    server, clock, make = amazon
    publisher = make()
    for n in range(5):
        await publisher.publish([StockUpdate("I", sku(1), n + 1, None, f"k{n}")])
    with pytest.raises(ThrottledError) as raised:
        await publisher.publish([StockUpdate("I", sku(1), 9, None, "k9")])
    assert 0 < raised.value.retry_after <= 300
    with pytest.raises(ThrottledError):  # another process, same seller: Amazon answers 429
        await make().publish([StockUpdate("I", sku(1), 9, None, "k9")])
    assert len((await state(session, server))["amazon_feeds"]["feeds"]) == 5
    clock.advance(301)
    assert (await publisher.publish([StockUpdate("I", sku(1), 9, None, "k9")])).pending


# -- Walmart --------------------------------------------------------------------------------------


@pytest.fixture
async def walmart(serve, session):
    clock = Clock()
    server = await serve(SandboxConfig(clock=clock, walmart=WalmartSellerConfig(feed_processing_s=30)))
    config = WalmartConfig(base_url=str(server.make_url("/walmart")), client_id="walmart-sandbox-client",
                           client_secret="walmart-sandbox-secret", status_page_size=7)  # fmt: skip
    publisher = WalmartInventoryPublisher(
        config, ConnectorContext("walmart-1", "t", session, lambda r: None, {}, clock)
    )
    return server, clock, publisher


async def test_walmart_feed_is_accepted_and_unknown_skus_fail_alone(walmart, session):
    server, clock, publisher = walmart
    updates = [StockUpdate(f"I{i}", sku(i), i, None, f"k{i}") for i in range(20)]
    updates += [StockUpdate("X", "NOT-SOLD-1", 3, None, "x1"), StockUpdate("Y", "NOT-SOLD-2", 4, None, "x2")]
    result = await publisher.publish(updates)
    assert result.pending and not result.accepted
    assert await publisher.check(result.pending) is None  # RECEIVED
    clock.advance(31)
    done = await publisher.check(result.pending)
    assert sorted(done.accepted) == sorted(f"k{i}" for i in range(20))
    assert set(done.failed) == {"x1", "x2"} and "NOT-SOLD-1" in done.failed["x1"].detail
    assert done.failed["x1"].category == "remote.listing_rejected"
    snapshot = (await state(session, server))["walmart"]
    assert snapshot["inventory"][sku(7)] == 7 and "NOT-SOLD-1" not in snapshot["inventory"]
    assert snapshot["tokens_issued"] == 1 and snapshot["calls"]["by_route"]["POST /walmart/v3/feeds"] == 1


async def test_walmart_processes_feeds_in_order_whether_or_not_asked(walmart, session):
    """Walmart applies feeds on its own time, oldest first: the seller's quantities change
    once processing time has passed even if nobody asked for the status, and asking for a
    later feed's status first does not let an earlier feed's quantities win."""
    server, clock, publisher = walmart
    first = await publisher.publish([StockUpdate("I", sku(1), 5, None, "k")])
    clock.advance(1)
    second = await publisher.publish([StockUpdate("I", sku(1), 0, None, "k")])
    assert sku(1) not in (await state(session, server))["walmart"]["inventory"]
    clock.advance(31)
    assert (await state(session, server))["walmart"]["inventory"][sku(1)] == 0
    assert (await publisher.check(second.pending)).accepted == ["k"]
    assert (await publisher.check(first.pending)).accepted == ["k"]
    assert (await state(session, server))["walmart"]["inventory"][sku(1)] == 0


async def test_walmart_ten_inventory_feeds_per_hour(walmart, session):
    server, clock, publisher = walmart
    for n in range(10):
        await publisher.publish([StockUpdate("I", sku(1), n, None, "k")])
    with pytest.raises(ThrottledError) as counted:
        await publisher.publish([StockUpdate("I", sku(1), 11, None, "k")])
    assert counted.value.local  # the hub's own count: the connection is not paused for everyone
    other = WalmartInventoryPublisher(publisher.config, ConnectorContext("walmart-1", "t", session, lambda r: None, {}, clock))
    with pytest.raises(ThrottledError) as refused:  # another process, same seller: Walmart answers 429
        await other.publish([StockUpdate("I", sku(1), 11, None, "k")])
    assert not refused.value.local and len(other.ctx.cache[f"quota.{WINDOW_KEY}"]) == 0  # no feed, slot given back
    assert len((await state(session, server))["walmart"]["feeds"]) == 10
    clock.advance(3601)
    assert (await publisher.publish([StockUpdate("I", sku(1), 11, None, "k")])).pending


async def test_walmart_feed_quota_is_shared_by_every_worker_process(walmart, session, db_url):
    """Two worker processes (each its own database pool and connector cache) publishing to one
    Walmart seller: ten feeds an hour between them. The eleventh is refused by the hub's shared
    count, never by Walmart (whose 429 would pause the connection for everyone)."""
    server, clock, publisher = walmart
    databases = [Database(make_engine(db_url)) for _ in range(2)]
    try:
        workers = [
            WalmartInventoryPublisher(publisher.config, ConnectorContext(
                "walmart-1", "t", session, lambda r: None, {}, clock, quota=DatabaseQuota(db, "t", "walmart-1")))
            for db in databases
        ]  # fmt: skip
        for n in range(10):
            assert (await workers[n % 2].publish([StockUpdate("I", sku(1), n, None, "k")])).pending
        for worker in workers:
            with pytest.raises(ThrottledError) as counted:
                await worker.publish([StockUpdate("I", sku(1), 11, None, "k")])
            assert counted.value.local and 3599 < counted.value.retry_after <= 3600
        assert len((await state(session, server))["walmart"]["feeds"]) == 10

        clock.advance(3601)  # the hour is over: ten more, whoever takes them
        slots = [await workers[n % 2].reserve_slot() for n in range(10)]
        with pytest.raises(ThrottledError):
            await workers[0].reserve_slot()
        await slots[3].give_back()  # a feed never created: its slot counts no more
        assert (await workers[0].publish([StockUpdate("I", sku(1), 12, None, "k")])).pending
        assert len((await state(session, server))["walmart"]["feeds"]) == 11
    finally:
        for db in databases:
            db.close()
            db.engine.dispose()
