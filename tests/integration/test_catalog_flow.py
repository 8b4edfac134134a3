"""Catalog publishing end to end on SQLite and PostgreSQL: the item master pulled from the
sandbox ERP over HTTP becomes Shopify products (productSet) and Amazon listings (listings
feeds with processing reports). Everything is counted from the sandbox's own state.

The hub and the sandbox share a fake clock; `settle` runs the worker until nothing is due,
then moves the clock to the next delayed message (a feed window, a feed check) — so the
5-feeds-per-5-minutes limit and Amazon's processing time cost no real time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from crossdock import bootstrap
from crossdock.configuration import SecretBox, load_text
from crossdock.records import Status
from crossdock.sandbox.app import create_sandbox_app
from crossdock.sandbox.state import AmazonListingsConfig, SandboxConfig, ShopifyStoreConfig
from crossdock.store import catalog as catalog_store
from crossdock.store import exceptions as desk
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from crossdock.store.mappings import put_rule
from crossdock.store.tables import exceptions, messages
from tests.support.clock import FakeClock

TENANT = "acme"
AMAZON, SHOP, ERP = "acme-amazon", "acme-shop", "acme-erp"


def sku(i: int) -> str:
    return f"CD-{1001 + i}"


def hub_config(base: str, *, channels: dict[str, Any], page_size: int = 500) -> str:
    """The tenant's configuration (JSON is YAML), wired to the sandbox at `base`."""
    connections = [
        {"id": ERP, "kind": "erp-rest", "config": {"base_url": f"{base}/erp", "api_key": "erp-sandbox-key"}},
        {
            "id": SHOP,
            "kind": "shopify",
            "config": {
                "shop_domain": "crossdock-sandbox.myshopify.com",
                "base_url": f"{base}/shopify",
                "access_token": "shpat_sandbox",
                "webhook_secret": "shopify-sandbox-app-secret",
                "cost_bucket_size": 1_000_000,
                "cost_restore_rate": 1_000_000,
            },
        },
        {
            "id": AMAZON,
            "kind": "amazon",
            "config": {
                "endpoint": f"{base}/amazon",
                "lwa_endpoint": f"{base}/amazon/auth/o2/token",
                "client_id": "amzn1.application-oa2-client.sandbox",
                "client_secret": "amazon-sandbox-client-secret",
                "refresh_token": "Atzr|sandbox-refresh-token",
                "marketplace_ids": ["ATVPDKIKX0DER"],
                "seller_id": "A1SANDBOXSELLER",
            },
        },
    ]
    catalog = {"source": ERP, "page_size": page_size, "channels": channels}
    doc = {
        "version": 1,
        "tenants": [{"id": TENANT, "name": "ACME", "connections": connections, "catalog": catalog}],
    }
    return json.dumps(doc)


AMAZON_CHANNEL = {"product_type": "HARDWARE", "feed_delay_seconds": 2, "feed_check_seconds": 30}


@dataclass
class World:
    hub: Any
    clock: FakeClock
    server: TestServer
    session: aiohttp.ClientSession

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def state(self) -> dict:
        async with self.session.get(self.url("/_sandbox/state")) as resp:
            return await resp.json()

    async def edit_item(self, code: str, changes: dict) -> None:
        async with self.session.patch(self.url(f"/erp/_sandbox/items/{code}"), json=changes) as resp:
            assert resp.status == 200, await resp.text()

    async def sync(self, *, horizon: float | None = None) -> None:
        """`crossdock catalog sync` as the CLI queues it, then the worker until settled."""
        key = f"sync-{self.clock()}"
        await self.hub.database.write(catalog_store.request_sync, TENANT, None, key, self.clock())
        await self.settle(horizon=horizon)

    async def settle(self, *, horizon: float | None = None) -> None:
        """Run until nothing is due; move the clock to each delayed message up to `horizon`."""
        for _ in range(100):
            await self.hub.worker(idle_poll_seconds=0.02).run_until_idle(timeout=60)
            due = await self.hub.database.read(_next_due, self.clock())
            if due is None or (horizon is not None and due > horizon):
                return  # the rest waits behind a parked message of its key, or beyond the horizon
            self.clock.now = due
        ready = await self.hub.database.read(_ready)
        raise AssertionError(f"the catalog never settled: {ready[:5]}")

    async def open_exceptions(self) -> list:
        flt = desk.ExceptionFilter.for_tenant(TENANT)
        return await self.hub.database.read(lambda c: desk.list_exceptions(c, flt))

    async def retry(self, category: str) -> int:
        flt = desk.ExceptionFilter.for_tenant(TENANT, category=category)
        result = await self.hub.database.write(desk.retry, flt, "ops@test", self.clock())
        return result.count


def _ready(conn) -> list:
    c = messages.c
    query = select(c.id, c.kind, c.attempts, c.next_attempt_at, c.last_error).where(
        c.status == Status.READY.value
    )
    return [tuple(r) for r in conn.execute(query)]


def _next_due(conn, now: float) -> float | None:
    """When the next delayed message falls due (ready ones due already are held by their key)."""
    c = messages.c
    query = select(func.min(c.next_attempt_at)).where(c.status == Status.READY.value, c.next_attempt_at > now)
    return conn.execute(query).scalar()


@pytest.fixture
async def make_world(settings) -> AsyncIterator:
    made: list[World] = []
    session = aiohttp.ClientSession()

    async def make(sandbox: SandboxConfig, channels: dict[str, Any], **config: Any) -> World:
        clock = FakeClock(1_780_000_000.0)
        server = TestServer(create_sandbox_app(sandbox_with(sandbox, clock)))
        await server.start_server()
        text = hub_config(str(server.make_url("")).rstrip("/"), channels=channels, **config)
        engine = make_engine(settings.database_url)
        apply_config(
            engine, load_text(text, "t.yaml"), "t.yaml", text, "test", SecretBox.from_settings(settings)
        )
        engine.dispose()
        world = World(bootstrap.build(settings, clock=clock), clock, server, session)
        made.append(world)
        return world

    yield make
    for world in made:
        await world.hub.aclose()
        await world.server.close()
    await session.close()


def sandbox_with(config: SandboxConfig, clock: FakeClock) -> SandboxConfig:
    from dataclasses import replace

    return replace(config, clock=clock)


def big_store() -> ShopifyStoreConfig:
    return ShopifyStoreConfig(topics=(), bucket_size=1_000_000, restore_rate=1_000_000)


# -- the required test -------------------------------------------------------------------------------


async def test_1000_items_20_without_brand_publish_980_and_the_20_after_the_fix_and_a_retry(make_world):
    sandbox = SandboxConfig(catalog_size=1000, shopify=big_store(), amazon_feeds=AmazonListingsConfig())
    world = await make_world(sandbox, {SHOP: {}, AMAZON: AMAZON_CHANNEL})
    without_brand = [sku(i) for i in range(7, 1000, 50)]
    assert len(without_brand) == 20
    for code in without_brand:
        await world.edit_item(code, {"brand": None})

    await world.sync()

    state = await world.state()
    listed = state["amazon_feeds"]["catalog"]
    assert len(listed) == 980 and not set(without_brand) & set(listed)
    assert listed[sku(0)]["attributes"]["brand"][0]["value"] == "Northwind Tools"
    (feed,) = state["amazon_feeds"]["feeds"].values()  # one feed: both pages queued in one window
    assert feed["status"] == "DONE" and feed["summary"]["messagesAccepted"] == 980
    assert feed["summary"]["messagesInvalid"] == 0  # nothing incomplete was sent
    products = state["shopify"]["products"]
    assert len(products) == 1000 and state["shopify"]["graphql_operations"]["productSet"] == 1000
    assert "vendor" not in products[without_brand[0].lower()]  # Shopify does not require a brand
    assert (
        products["cd-1001"]["variants"][0]["barcode"]
        == listed["CD-1001"]["attributes"]["externally_assigned_product_identifier"][0]["value"]
    )

    open_ = await world.open_exceptions()
    assert len(open_) == 20
    assert {e.category for e in open_} == {"catalog.attribute_missing"}
    assert {e.kind for e in open_} == {"catalog.item.publish"} and {e.connection_id for e in open_} == {
        AMAZON
    }
    for e in open_:
        code = next(c for c in without_brand if f"item {c} " in e.summary)
        assert "required attribute missing: brand" in e.summary and code in e.hint

    for code in without_brand:  # the attribute is added in the ERP, and the item master pulled again
        await world.edit_item(code, {"brand": "Harbor & Pine"})
    await world.sync()
    state = await world.state()
    assert len(state["amazon_feeds"]["catalog"]) == 980  # held behind the open exceptions of their items
    assert len(state["amazon_feeds"]["feeds"]) == 1  # and nothing unchanged was sent again
    assert state["shopify"]["graphql_operations"]["productSet"] == 1020  # only the 20 changed (vendor)

    assert await world.retry("catalog.attribute_missing") == 20
    await world.settle()
    state = await world.state()
    listed = state["amazon_feeds"]["catalog"]
    assert (
        len(listed) == 1000 and listed[without_brand[3]]["attributes"]["brand"][0]["value"] == "Harbor & Pine"
    )
    assert len(state["amazon_feeds"]["feeds"]) == 2
    assert [f["summary"]["messagesAccepted"] for f in state["amazon_feeds"]["feeds"].values()] == [980, 20]
    assert await world.open_exceptions() == []
    status = await world.hub.database.read(lambda c: catalog_store.item_status(c, TENANT, without_brand[0]))
    by_channel = {ch["connection_id"]: ch for ch in status["channels"]}
    assert by_channel[AMAZON]["status"] == "published" and by_channel[AMAZON]["current"]
    assert by_channel[SHOP]["status"] == "published" and by_channel[SHOP]["channel_ref"].startswith("gid://")


# -- Amazon's limits and answers --------------------------------------------------------------------


async def test_listings_feeds_keep_to_five_per_five_minutes_and_later_changes_wait_together(make_world):
    world = await make_world(SandboxConfig(catalog_size=10), {AMAZON: AMAZON_CHANNEL})
    start = world.clock()
    await world.sync()
    for n in range(6):  # six more changes, each in its own feed window
        await world.edit_item(sku(n), {"description": f"Hinge, mark {n}"})
        await world.sync(horizon=world.clock() + 5)
    state = await world.state()
    assert len(state["amazon_feeds"]["feeds"]) == 5  # the first sync's feed and four changes
    assert world.clock() - start < 300
    waiting = await world.hub.database.read(_ready_feed_publishes)
    assert len(waiting) == 2 and all(m.attempts == 0 for m in waiting)  # waiting as told is no failure
    assert max(m.next_attempt_at for m in waiting) > start + 300  # the first feed's slot frees then

    await world.settle()
    state = await world.state()
    feeds = list(state["amazon_feeds"]["feeds"].values())
    assert len(feeds) == 6 and feeds[-1]["summary"]["messagesAccepted"] == 2  # the last two changes, together
    assert state["amazon_feeds"]["throttled"] == {}  # Crossdock waited; Amazon never had to refuse
    assert state["amazon_feeds"]["catalog"][sku(5)]["attributes"]["item_name"][0]["value"] == "Hinge, mark 5"


def _ready_feed_publishes(conn) -> list:
    c = messages.c
    rows = conn.execute(
        select(messages).where(c.kind == "catalog.feed.publish", c.status == Status.READY.value)
    )
    return list(rows)


async def test_amazons_refusals_become_per_item_exceptions_and_a_retry_sends_again(make_world):
    feeds = AmazonListingsConfig(
        invalid_skus=(sku(2),),
        required_attributes=(
            "item_name",
            "brand",
            "externally_assigned_product_identifier",
            "product_description",
        ),
    )
    world = await make_world(SandboxConfig(catalog_size=10, amazon_feeds=feeds), {AMAZON: AMAZON_CHANNEL})
    await world.edit_item(sku(4), {"long_description": None})  # Amazon wants it; the mapping does not say so
    await world.sync()

    state = await world.state()
    assert sorted(state["amazon_feeds"]["catalog"]) == sorted(sku(i) for i in range(10) if i not in (2, 4))
    by_item = {e.correlation_id: e for e in await world.open_exceptions()}
    refused, missing = by_item[f"catalog:{sku(2)}"], by_item[f"catalog:{sku(4)}"]
    assert refused.category == "catalog.listing_rejected" and "is invalid for this seller" in refused.summary
    assert missing.category == "catalog.attribute_missing" and "product_description" in missing.summary
    assert missing.context["attributes"] == ["product_description"]

    async with world.session.post(
        world.url("/amazon/listings/_sandbox/invalid_skus"), json={"skus": []}
    ) as r:
        assert r.status == 200  # fixed on Amazon's side: nothing changed in the item master
    await world.edit_item(sku(4), {"long_description": "A hinge, described."})
    await world.sync()
    assert await world.retry("catalog.") == 2
    await world.settle()
    state = await world.state()
    assert len(state["amazon_feeds"]["catalog"]) == 10
    assert await world.open_exceptions() == []


async def test_a_constant_in_the_mapping_fixes_a_missing_attribute_on_retry(make_world, settings):
    world = await make_world(SandboxConfig(catalog_size=5, shopify=big_store()), {AMAZON: AMAZON_CHANNEL})
    await world.edit_item(sku(1), {"identifiers": None})
    await world.sync()
    (exc,) = await world.open_exceptions()
    assert "externally_assigned_product_identifier" in exc.summary

    section = {"channels": {AMAZON: {**AMAZON_CHANNEL, "attributes": {
        "externally_assigned_product_identifier": {"field": ["identifiers", "attributes.gtin"]}}}}}  # fmt: skip
    section["source"] = ERP
    put_rule(world.hub.engine, TENANT, "catalog", section, "ops@test")
    await world.edit_item(sku(1), {"gtin": "00012345678905"})  # kept under attributes by the ERP codec
    await world.sync()
    assert await world.retry("catalog.attribute_missing") == 1
    await world.settle()
    listed = (await world.state())["amazon_feeds"]["catalog"]
    assert listed[sku(1)]["attributes"]["externally_assigned_product_identifier"][0]["type"] == "gtin"
    assert len(listed) == 5


async def test_items_whose_listings_name_one_product_are_parked_not_merged(make_world):
    channel = {SHOP: {"attributes": {"handle": {"value": "hinge"}}}}  # one handle for every item
    world = await make_world(SandboxConfig(catalog_size=3, shopify=big_store()), channel)
    await world.sync()
    shared = [e for e in await world.open_exceptions() if e.category == "catalog.product_shared"]
    assert len(shared) == 2 and all("`handle`" in e.hint for e in shared)
    published = await world.hub.database.read(
        lambda c: catalog_store.read_listings(c, TENANT, [sku(i) for i in range(3)], SHOP)
    )
    assert sum(1 for r in published.values() if r.channel_ref) == 1  # the first keeps the product
    assert {e.context["other_item"] for e in shared} <= {sku(i) for i in range(3)}


async def test_a_sync_without_changes_sends_nothing(make_world):
    world = await make_world(
        SandboxConfig(catalog_size=30, shopify=big_store()), {SHOP: {}, AMAZON: AMAZON_CHANNEL}
    )
    await world.sync()
    await world.sync()
    state = await world.state()
    assert state["shopify"]["graphql_operations"]["productSet"] == 30
    assert len(state["amazon_feeds"]["feeds"]) == 1 and len(state["amazon_feeds"]["catalog"]) == 30
    count = await world.hub.database.read(
        lambda c: c.execute(select(func.count()).select_from(exceptions)).scalar()
    )
    assert count == 0
