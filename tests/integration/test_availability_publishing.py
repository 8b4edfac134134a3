"""Publishing availability to Shopify and Amazon through the real flow, on SQLite and
PostgreSQL: coalesced latest-wins per channel and item, batched into the channel's bulk API
within its limits, most urgent first; a refused item is an exception of its own. Every
count and quantity is read from the sandbox's own state."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import select, update

from crossdock.sandbox.state import AmazonListingsConfig, SandboxConfig, ShopifyStoreConfig
from crossdock.store import exceptions as desk
from crossdock.store.queries import ExceptionFilter
from crossdock.store.tables import connections, exceptions, publish_queue
from tests.support.publishing import AMAZON, LOCATION, SHOP, TENANT, graphql, sku, start, stop

SHOP_ONLY = f"        {SHOP}: {{}}\n"


@pytest.fixture
async def rig(settings):
    rig = await start(
        settings, SandboxConfig(catalog_size=1000, shopify=ShopifyStoreConfig(topics=())), SHOP_ONLY
    )
    yield rig
    await stop(rig)


def shown(state: dict, i: int) -> int:
    return state["shopify"]["inventory"][f"{sku(i)}@{LOCATION}"]["available"]


def open_exceptions(rig) -> list[tuple[str, str]]:
    with rig.hub.engine.connect() as c:
        rows = c.execute(
            select(exceptions.c.category, exceptions.c.summary).where(exceptions.c.status == "open")
        )
        return sorted((r.category, r.summary) for r in rows)


async def test_10000_stock_events_over_1000_items_reach_shopify_as_1000_updates_in_4_calls(rig):
    rng = random.Random(7)
    events = [(sku(rng.randrange(1000)), rng.randint(20, 99)) for _ in range(9000)]
    events += [(sku(i), rng.randint(20, 99)) for i in range(1000)]  # every item changes at least once
    rng.shuffle(events)
    final = dict(events)
    rig.stock(events, per_message=100)
    await rig.run()

    state = rig.state()
    shopify = state["shopify"]
    assert shopify["graphql_operations"]["inventorySetQuantities"] == 4
    assert len(shopify["inventory_changes"]) == 1000
    assert all(shown(state, i) == final[sku(i)] for i in range(1000))
    assert shopify["throttle"]["throttled"] == 0 and shopify["throttle"]["lowest_available"] >= 0
    assert open_exceptions(rig) == []


MAPPED = f"""
    mappings:
      sku:
        - {{channel: shopify, item: GHOST, sku: NO-SUCH-SKU}}
        - {{channel: shopify, item: WIDGET, sku: {sku(20)}}}
"""
PRODUCT_SET = """
mutation productSet($input: ProductSetInput!) {
  productSet(input: $input) { product { id } userErrors { field message code } }
}"""


@pytest.fixture
async def mapped(settings):
    config = SandboxConfig(catalog_size=50, shopify=ShopifyStoreConfig(topics=()))
    rig = await start(settings, config, SHOP_ONLY, MAPPED)
    yield rig
    await stop(rig)


async def test_a_refused_item_is_an_exception_of_its_own_and_its_retry_publishes_the_current_value(mapped):
    rig = mapped
    rig.stock([(sku(i), 30 + i) for i in range(20)] + [("WIDGET", 7), ("GHOST", 5)], per_message=22)
    await rig.run()
    state = rig.state()
    assert state["shopify"]["graphql_operations"]["inventorySetQuantities"] == 1
    assert [shown(state, i) for i in range(21)] == [30 + i for i in range(20)] + [7]  # WIDGET is CD-1021
    ((category, summary),) = open_exceptions(rig)
    assert category == "mapping.sku_unknown" and "GHOST" in summary and "NO-SUCH-SKU" in summary

    rig.stock([("GHOST", 9)])  # refused again while its exception is open: no second exception
    await rig.run()
    assert len(open_exceptions(rig)) == 1

    variants = [{"sku": "NO-SUCH-SKU", "price": "1.00"}]
    await graphql(rig, PRODUCT_SET, {"input": {"title": "Ghost", "handle": "ghost", "variants": variants}})
    with rig.hub.engine.begin() as c:
        desk.retry(c, ExceptionFilter.for_tenant(TENANT), "ops@test", rig.clock())
    await rig.run()
    assert open_exceptions(rig) == []
    ghost = rig.state()["shopify"]["inventory"]
    assert [v["available"] for k, v in ghost.items() if k.startswith("NO-SUCH-SKU@")] == [9]


async def test_to_zero_goes_first_then_decreases_then_increases(rig):
    rig.stock([(sku(i), 50) for i in range(300)], per_message=300)
    await rig.run()
    before = len(rig.state()["shopify"]["inventory_changes"])
    burst = [(sku(i), 80) for i in range(150, 300)] + [(sku(i), 30) for i in range(10, 150)]
    burst += [(sku(i), 0) for i in range(10)]
    rig.stock(burst, per_message=25)  # the to-zero items arrive last
    await rig.run()
    changes = [c["quantity"] for c in rig.state()["shopify"]["inventory_changes"][before:]]
    assert changes == [0] * 10 + [30] * 140 + [80] * 150


async def test_unchanged_values_are_not_sent(rig):
    rig.stock([(sku(i), 50) for i in range(3)], per_message=3)
    await rig.run()
    assert rig.state()["shopify"]["graphql_operations"]["inventorySetQuantities"] == 1
    for n, quantity in enumerate(["40", "50"]):  # down and back before the flush: 50 is what Shopify shows
        rig.insert(
            "availability.publish", f"p{n}", {"connection_id": SHOP, "item": sku(0), "quantity": quantity}
        )
    rig.insert("availability.publish", "p9", {"connection_id": SHOP, "item": sku(1), "quantity": "44"})
    await rig.run()
    state = rig.state()["shopify"]
    assert state["graphql_operations"]["inventorySetQuantities"] == 2
    assert [(c["sku"], c["quantity"]) for c in state["inventory_changes"][3:]] == [(sku(1), 44)]
    with rig.hub.engine.connect() as c:
        assert c.execute(select(publish_queue)).all() == []


AMAZON_ONLY = f"""        {AMAZON}:
          publishing: {{check_after_seconds: 60, check_every_seconds: 30}}
"""


@pytest.fixture
async def amazon(settings):
    feeds = AmazonListingsConfig(invalid_skus=(sku(5),), feed_processing_s=0)
    rig = await start(settings, SandboxConfig(catalog_size=50, amazon_feeds=feeds), AMAZON_ONLY)
    yield rig
    await stop(rig)


async def test_amazon_takes_one_feed_checks_its_report_and_patches_the_sold_out_item_at_once(amazon):
    rig = amazon
    rig.stock([(sku(i), 0 if i == 7 else 10 + i) for i in range(40)], per_message=40)
    await rig.run(until=rig.clock.now + 30)  # before the hub checks the feed's report
    listings = rig.state()["amazon_feeds"]
    assert len(listings["feeds"]) == 1 and listings["listings"][sku(7)] == 0
    assert [p["sku"] for p in listings["listings_patches"]] == [sku(7)]
    assert open_exceptions(rig) == []  # the refusal is known from the report only

    await rig.run()  # the report: 38 accepted, the invalid SKU refused
    listings = rig.state()["amazon_feeds"]
    assert listings["listings"] == {sku(i): 0 if i == 7 else 10 + i for i in range(40) if i != 5}
    ((category, summary),) = open_exceptions(rig)
    assert category == "remote.listing_rejected" and sku(5) in summary
    assert sum(listings["throttled"].values()) == 0


async def test_publishing_resumes_after_an_operator_resolves_a_parked_flush(rig):
    def enable(on: bool) -> None:
        with rig.hub.engine.begin() as c:
            c.execute(update(connections).where(connections.c.id == SHOP).values(enabled=on))
        rig.hub.services.connections.forget()

    enable(False)
    rig.stock([(sku(0), 40)])
    await rig.run()
    assert [category for category, _ in open_exceptions(rig)] == ["config.connection_unusable"]
    with rig.hub.engine.begin() as c:
        desk.resolve(
            c, ExceptionFilter.for_tenant(TENANT), "the store was switched off", "ops@test", rig.clock()
        )
    enable(True)
    rig.stock([(sku(0), 41), (sku(1), 42)], per_message=2)
    await rig.run()
    state = rig.state()
    assert (shown(state, 0), shown(state, 1)) == (41, 42) and open_exceptions(rig) == []


@pytest.fixture
async def slow_feeds(settings):
    feeds = AmazonListingsConfig(feed_processing_s=2.0)  # real seconds: the patch comes first
    rig = await start(settings, SandboxConfig(catalog_size=50, amazon_feeds=feeds), AMAZON_ONLY)
    yield rig
    await stop(rig)


async def test_a_feed_processed_after_a_newer_patch_is_followed_by_that_patch_again(slow_feeds):
    """Amazon applies a feed when it gets to it: a listing patched to 0 while an older feed
    with 2 waited shows 2 once that feed is processed. When the feed's report comes back,
    the newer value goes again."""
    rig = slow_feeds
    rig.stock([(sku(3), 2), (sku(4), 8)], per_message=2)
    await rig.run(until=rig.clock.now + 30)  # the feed is submitted, its report not read
    rig.stock([(sku(3), 0)])
    await rig.run(until=rig.clock.now + 30)  # sold out: patched at once
    listings = rig.state()["amazon_feeds"]
    assert listings["listings"][sku(3)] == 0 and len(listings["feeds"]) == 1

    await asyncio.sleep(2.2)  # Amazon processes the older feed
    assert rig.state()["amazon_feeds"]["listings"][sku(3)] == 2

    await rig.run()  # the report is read: the overtaken patch goes again
    listings = rig.state()["amazon_feeds"]
    assert (listings["listings"][sku(3)], listings["listings"][sku(4)]) == (0, 8)
    assert [p["sku"] for p in listings["listings_patches"]] == [sku(3), sku(3)]
    assert len(listings["feeds"]) == 1 and open_exceptions(rig) == []


BUNDLED = f"""
    mappings:
      sku:
        - {{channel: shopify, item: BUNDLE, sku: {sku(20)}}}
        - {{channel: shopify, item: BUNDLE, sku: {sku(21)}}}
"""


@pytest.fixture
async def one_per_call(settings):
    config = SandboxConfig(catalog_size=50, shopify=ShopifyStoreConfig(topics=()))
    channels = f"        {SHOP}:\n          publishing: {{batch_size: 1}}\n"
    rig = await start(settings, config, channels, BUNDLED)
    yield rig
    await stop(rig)


async def test_an_item_with_more_listings_than_a_batch_holds_is_an_exception_and_the_rest_publish(one_per_call):
    """BUNDLE is listed under two SKUs, the connection sends one quantity a call: it cannot go
    in any batch. It becomes an exception that says so; it must not hold the queue."""
    rig = one_per_call
    rig.stock([("BUNDLE", 4), (sku(0), 30), (sku(1), 31)], per_message=3)
    await rig.run()
    state = rig.state()
    assert (shown(state, 0), shown(state, 1)) == (30, 31)
    ((category, summary),) = open_exceptions(rig)
    assert category == "config.batch_too_small" and "BUNDLE" in summary and "2 listings" in summary
    with rig.hub.engine.connect() as c:
        assert c.execute(select(publish_queue)).all() == []
