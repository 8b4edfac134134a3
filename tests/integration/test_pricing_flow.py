"""Channel pricing end to end on SQLite and PostgreSQL: the real handlers and connectors, the
worker on an injected clock, and the sandbox's Shopify store, Amazon listings and ERP over
real HTTP (in process). What reached a channel is read from the sandbox's own state."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from crossdock import bootstrap
from crossdock.configuration import SecretBox, load_text
from crossdock.flows import pricing
from crossdock.flows.pricing import kinds
from crossdock.records import NewMessage, Status
from crossdock.sandbox.app import create_sandbox_app
from crossdock.sandbox.state import AmazonListingsConfig, SandboxConfig, ShopifyStoreConfig
from crossdock.store import channel_prices as prices_store
from crossdock.store import exceptions as desk
from crossdock.store import messages as message_store
from crossdock.store import price_approvals, schedules
from crossdock.store import pricing as store
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from crossdock.store.tables import audit_log, exceptions, messages
from tests.support.clock import FakeClock

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0
SANDBOX = SandboxConfig()
BAD_SKU = "CD-1003"  # Amazon refuses its listing


def config(url: str, **amazon: object) -> str:
    tenant = {
        "id": "acme",
        "name": "ACME",
        "connections": [
            {"id": "acme-shop", "kind": "shopify", "config": {
                "shop_domain": SANDBOX.shopify.shop_domain, "base_url": f"{url}/shopify",
                "access_token": SANDBOX.shopify.access_token, "webhook_secret": SANDBOX.shopify.app_secret}},
            {"id": "acme-amz", "kind": "amazon", "config": {
                "endpoint": f"{url}/amazon", "lwa_endpoint": f"{url}/amazon/auth/o2/token",
                "client_id": SANDBOX.amazon.client_id, "client_secret": SANDBOX.amazon.client_secret,
                "refresh_token": SANDBOX.amazon.refresh_token, "marketplace_ids": [SANDBOX.amazon.marketplace_id],
                "seller_id": SANDBOX.amazon_feeds.seller_id, **amazon}},
            {"id": "acme-erp", "kind": "erp-rest", "config": {"base_url": f"{url}/erp", "api_key": SANDBOX.erp.api_key}},
        ],
        "mappings": {"sku": [{"channel": "amazon", "sku": "AMZ-1002", "item": "ITEM-1002"}]},
        "pricing": {
            "base_currency": "USD",
            "source": {"connection": "acme-erp", "poll_seconds": 600},
            "channels": {
                "acme-shop": {"currency": "USD", "markup_percent": 20, "rounding": {"ending": "0.99"},
                              "approval_threshold_percent": 25},
                "acme-amz": {"currency": "USD", "markup_percent": 10, "map": {"CD-1001": "115.00"},
                             "min_margin_percent": 50, "approval_threshold_percent": 25},
            },
        },
    }  # fmt: skip
    return yaml.safe_dump({"version": 1, "tenants": [tenant]})


@pytest.fixture
async def sandbox():
    # The sandbox keeps real time (its LWA tokens live an hour); feeds are processed at once,
    # and the hub reads their reports when its own (injected) clock says a minute has passed.
    server = await start_sandbox(feed_processing_s=0)
    async with aiohttp.ClientSession() as session:
        yield server, session
    await server.close()


async def start_sandbox(feed_processing_s: float):
    cfg = SandboxConfig(shopify=ShopifyStoreConfig(topics=()), amazon_feeds=AmazonListingsConfig(
        invalid_skus=(BAD_SKU,), feed_processing_s=feed_processing_s))  # fmt: skip
    server = TestServer(create_sandbox_app(cfg))
    await server.start_server()
    return server


@pytest.fixture
async def hub(settings, sandbox):
    h = build_hub(settings, sandbox)
    yield h
    await h.aclose()


def build_hub(settings, sandbox, **amazon: object):
    server, _ = sandbox
    text = config(str(server.make_url("")).rstrip("/"), **amazon)
    engine = make_engine(settings.database_url)
    apply_config(
        engine,
        load_text(text),
        "crossdock.yaml",
        text,
        "ops@test",
        SecretBox.from_settings(settings),  # the hub opens the secrets with the same ring
    )
    engine.dispose()
    clock = FakeClock(T0)
    h = bootstrap.build(settings, clock=clock)
    h.fake_clock = clock
    return h


async def run(hub) -> None:
    await hub.worker().run_until_idle(timeout=30)


async def deliver(hub, kind: str, key: str, payload: dict) -> None:
    await hub.database.write(message_store.insert, [NewMessage("acme", kind, key, payload)], hub.clock())
    await run(hub)


async def base(hub, key: str, **prices: tuple[str, str]) -> None:
    rows = [{"item": item.replace("_", "-"), "price": p, "cost": c} for item, (p, c) in prices.items()]
    await deliver(hub, kinds.BASE_CHANGED, key, {"source": "erp", "currency": "USD", "prices": rows})


async def later(hub, seconds: float) -> None:
    """Move the injected clock on (delayed messages come due), then work until idle."""
    hub.fake_clock.advance(seconds)
    await run(hub)


async def shop(sandbox) -> dict:
    server, session = sandbox
    async with session.get(server.make_url("/_sandbox/state")) as resp:
        state = await resp.json()
    return state


async def shopify_price(sandbox, sku: str) -> str:
    return (await shop(sandbox))["shopify"]["prices"][sku]


async def amazon_price(sandbox, sku: str) -> str | None:
    found = (await shop(sandbox))["amazon_feeds"]["prices"].get(sku)
    return found["amount"] if found else None


def row(hub, connection_id: str, item: str) -> prices_store.ChannelPriceRecord:
    with hub.engine.connect() as c:
        found = prices_store.get_channel_price(c, "acme", connection_id, item)
    assert found is not None
    return found


def pending(hub) -> list[price_approvals.Approval]:
    with hub.engine.connect() as c:
        return price_approvals.list_approvals(c, ("acme",), status="pending")


def parked(hub) -> list[dict]:
    with hub.engine.connect() as c:
        rows = c.execute(select(exceptions).where(exceptions.c.status == "open").order_by(exceptions.c.id))
        return [dict(r._mapping) for r in rows]


# -- effective-dated prices -------------------------------------------------------------------------


async def test_an_effective_dated_price_publishes_at_its_start_and_reverts_at_its_end(hub, sandbox):
    await base(hub, "list-1", CD_1001=("100.00", "60.00"))
    await later(hub, 61)  # Amazon's feed report
    assert await shopify_price(sandbox, "CD-1001") == "120.99"  # 100 + 20% → ends in .99
    assert await amazon_price(sandbox, "CD-1001") == "115.0"  # 110, lifted to MAP 115
    assert row(hub, "acme-amz", "CD-1001").confirmed == row(hub, "acme-amz", "CD-1001").published

    start, end = hub.clock() + 2 * HOUR, hub.clock() + 5 * HOUR
    sale = {"ref": "winter-sale", "item": "CD-1001", "price": "95.00", "starts_at": start, "ends_at": end}
    await hub.database.write(
        message_store.insert, [pricing.entries_message("acme", "ana@acme", [sale])], hub.clock()
    )
    await run(hub)
    assert await shopify_price(sandbox, "CD-1001") == "120.99"  # not in force yet

    await later(hub, start - hub.clock() - 1)
    assert await shopify_price(sandbox, "CD-1001") == "120.99"  # a second before its start
    await later(hub, 1)
    assert await shopify_price(sandbox, "CD-1001") == "114.99"  # 95 + 20% = 114 → 114.99
    await later(hub, 61)
    assert await amazon_price(sandbox, "CD-1001") == "115.0"  # 104.50 is under MAP: still 115
    explanation = row(hub, "acme-shop", "CD-1001").to_dict()
    assert explanation["entry"] == "winter-sale"
    assert [s["step"] for s in explanation["explanation"]][:3] == ["base", "effective_price", "markup"]

    await later(hub, end - hub.clock())
    assert await shopify_price(sandbox, "CD-1001") == "120.99"  # reverted at its end
    changes = [c for c in (await shop(sandbox))["shopify"]["price_changes"] if c["sku"] == "CD-1001"]
    assert [c["to"] for c in changes] == ["120.99", "114.99", "120.99"]


async def test_a_cancelled_entry_reverts_at_once(hub, sandbox):
    await base(hub, "list-1", CD_1001=("100.00", "60.00"))
    sale = {
        "ref": "flash",
        "item": "CD-1001",
        "price": "95",
        "starts_at": hub.clock() - 1,
        "connection_id": "acme-shop",
    }
    await deliver(hub, kinds.ENTRIES, "e-1", {"actor": "ana", "set": [sale]})
    assert await shopify_price(sandbox, "CD-1001") == "114.99"
    await deliver(hub, kinds.ENTRIES, "e-2", {"actor": "ana", "cancel": ["flash"]})
    assert await shopify_price(sandbox, "CD-1001") == "120.99"


async def test_an_entry_set_cancelled_and_set_again_by_the_same_person_takes_each_change(hub, sandbox):
    await base(hub, "list-1", CD_1001=("100.00", "60.00"))
    sale = {"ref": "flash", "item": "CD-1001", "price": "95", "starts_at": hub.clock() - 1,
            "connection_id": "acme-shop"}  # fmt: skip
    for change, price in (({"set_": [sale]}, "114.99"), ({"cancel": ["flash"]}, "120.99")) * 2:
        new = pricing.entries_message("acme", "ana", **change)
        await hub.database.write(message_store.insert, [new], hub.clock())
        await run(hub)
        assert await shopify_price(sandbox, "CD-1001") == price, change


# -- approvals ---------------------------------------------------------------------------------------


async def test_an_entry_set_again_for_another_item_leaves_the_first_item_at_its_price(hub, sandbox):
    await base(hub, "list-1", CD_1001=("100.00", "60.00"), CD_1002=("100.00", "60.00"))
    await later(hub, 61)
    promo = {"ref": "promo", "item": "CD-1001", "price": "90.00", "starts_at": hub.clock() - 1,
             "connection_id": "acme-shop"}  # fmt: skip
    await hub.database.write(message_store.insert, [pricing.entries_message("acme", "ana", [promo])], hub.clock())
    await run(hub)
    assert await shopify_price(sandbox, "CD-1001") == "108.99"  # 90 + 20 %

    moved = {**promo, "item": "CD-1002"}  # the promotion was meant for CD-1002
    await hub.database.write(message_store.insert, [pricing.entries_message("acme", "ana", [moved])], hub.clock())
    await run(hub)
    await later(hub, 61)
    assert await shopify_price(sandbox, "CD-1002") == "108.99"
    assert await shopify_price(sandbox, "CD-1001") == "120.99"
    assert row(hub, "acme-shop", "CD-1001").to_dict()["entry"] is None


async def weekend_sale_started(hub) -> float:
    """CD-1001 at 78.00 on Shopify from an hour from now for two hours, set by a person; the
    clock moved to its start. Answers its end."""
    start, end = hub.clock() + HOUR, hub.clock() + 3 * HOUR
    sale = {"ref": "weekend", "item": "CD-1001", "price": "78.00", "starts_at": start, "ends_at": end,
            "connection_id": "acme-shop"}  # fmt: skip
    await hub.database.write(message_store.insert, [pricing.entries_message("acme", "ana", [sale])], hub.clock())
    await run(hub)
    await later(hub, start - hub.clock())
    return end


async def test_an_entry_that_started_within_the_threshold_reverts_at_its_end_without_approval(hub, sandbox):
    # Shopify: +20 %, ending .99, approval over 25 %.
    await base(hub, "list-1", CD_1001=("100.00", "60.00"))
    await later(hub, 61)
    assert await shopify_price(sandbox, "CD-1001") == "120.99"
    end = await weekend_sale_started(hub)
    assert await shopify_price(sandbox, "CD-1001") == "93.99"  # −22.3 %: within the threshold
    assert not pending(hub)
    await later(hub, end - hub.clock() + 1)
    assert not pending(hub)  # +28.7 % back, but the end of an entry is no new change
    assert await shopify_price(sandbox, "CD-1001") == "120.99"


async def test_an_entry_end_after_the_base_price_moved_far_waits_for_approval(hub, sandbox):
    # Shopify: +20 %, ending .99, approval over 25 %. The end of an entry returns to the
    # price before it; a base price that moved meanwhile is a change like any other.
    await base(hub, "list-1", CD_1001=("100.00", "60.00"))
    await later(hub, 61)
    end = await weekend_sale_started(hub)
    assert await shopify_price(sandbox, "CD-1001") == "93.99"
    await base(hub, "list-2", CD_1001=("130.00", "60.00"))  # during the entry: 156.99 after it
    await later(hub, end - hub.clock() + 1)
    assert await shopify_price(sandbox, "CD-1001") == "93.99"  # +29.8 % from 120.99: a person decides
    [waiting] = pending(hub)
    assert (str(waiting.old_price), str(waiting.new_price)) == ("93.99", "156.99")


async def test_a_channel_entry_ending_inside_a_longer_entry_returns_to_it_without_approval(hub, sandbox):
    await base(hub, "list-1", CD_1001=("100.00", "60.00"))
    await later(hub, 61)
    t = hub.clock()
    season = {"ref": "season", "item": "CD-1001", "price": "80.00", "starts_at": t + HOUR, "ends_at": t + 10 * HOUR}
    flash = {"ref": "flash", "item": "CD-1001", "price": "60.00", "starts_at": t + 3 * HOUR, "ends_at": t + 5 * HOUR,
             "connection_id": "acme-shop"}  # fmt: skip
    new = pricing.entries_message("acme", "ana", [season, flash])
    await hub.database.write(message_store.insert, [new], hub.clock())
    await run(hub)
    seen = []
    for at in (1, 3, 5, 10):
        await later(hub, t + at * HOUR - hub.clock() + 1)
        seen.append(await shopify_price(sandbox, "CD-1001"))
    # each start within 25 %; each end returns to the price its entry took over from
    assert seen == ["96.99", "72.99", "96.99", "120.99"]
    assert not pending(hub)


async def test_a_change_over_the_threshold_waits_for_approval(hub, sandbox):
    await base(hub, "list-1", CD_1001=("100.00", "60.00"))
    await later(hub, 61)
    await base(hub, "list-2", CD_1001=("150.00", "60.00"))  # +50%: over both channels' 25%
    await later(hub, 61)
    assert await shopify_price(sandbox, "CD-1001") == "120.99"
    assert await amazon_price(sandbox, "CD-1001") == "115.0"
    waiting = {a.connection_id: a for a in pending(hub)}
    assert set(waiting) == {"acme-shop", "acme-amz"}
    shop_request = waiting["acme-shop"]
    assert (str(shop_request.old_price), str(shop_request.new_price)) == ("120.99", "180.99")
    assert str(shop_request.change_percent) == "49.59"

    now = hub.clock()
    await hub.database.write(pricing.approve, shop_request.id, "maria@acme", now, "new season")
    await hub.database.write(pricing.reject, waiting["acme-amz"].id, "maria@acme", now, "too steep")
    await later(hub, 61)
    assert await shopify_price(sandbox, "CD-1001") == "180.99"
    assert await amazon_price(sandbox, "CD-1001") == "115.0"  # rejected: Amazon keeps its price
    assert not pending(hub)

    with hub.engine.connect() as c:
        entries = c.execute(
            select(audit_log).where(audit_log.c.action.like("price.%")).order_by(audit_log.c.id)
        )
        decided = [(e.action, e.actor, json.loads(e.details)["new_price"]) for e in entries]
    assert decided == [("price.approve", "maria@acme", "180.99"), ("price.reject", "maria@acme", "165.00")]

    await base(hub, "list-3", CD_1001=("150.00", "61.00"))  # recomputed: the same refused price
    assert not pending(hub)  # a refused price is not asked again
    await base(hub, "list-4", CD_1001=("160.00", "61.00"))  # a new price is
    assert [a.connection_id for a in pending(hub)] == ["acme-amz"]  # Shopify: 192.99 is +6.6%


async def test_a_decided_or_superseded_approval_cannot_be_decided_again(hub, sandbox):
    await base(hub, "list-1", CD_1001=("100.00", "60.00"))
    await base(hub, "list-2", CD_1001=("200.00", "60.00"))
    first = {a.connection_id: a for a in pending(hub)}["acme-shop"]
    await base(hub, "list-3", CD_1001=("210.00", "60.00"))  # the computed price moved on
    with pytest.raises(price_approvals.NotPending):
        await hub.database.write(pricing.approve, first.id, "maria", hub.clock())
    second = {a.connection_id: a for a in pending(hub)}["acme-shop"]
    await hub.database.write(pricing.approve, second.id, "maria", hub.clock())
    with pytest.raises(price_approvals.NotPending):
        await hub.database.write(pricing.reject, second.id, "maria", hub.clock())
    with pytest.raises(price_approvals.ApprovalNotFound):
        await hub.database.write(pricing.approve, second.id, "maria", hub.clock(), None, ("other",))
    await run(hub)
    assert await shopify_price(sandbox, "CD-1001") == "252.99"


# -- one refused item never fails its batch ----------------------------------------------------------


async def test_a_refused_item_is_its_own_exception_and_its_retry_publishes_the_current_price(hub, sandbox):
    await base(
        hub,
        "list-1",
        CD_1001=("100.00", "60.00"),
        CD_1003=("20.00", "10.00"),
        NO_SUCH_1=("5", "1"),
        ITEM_1002=("20.00", "10.00"),
    )
    await later(hub, 61)
    assert await amazon_price(sandbox, "AMZ-1002") == "22.0"  # listed under its mapped seller SKU
    assert await shopify_price(sandbox, "CD-1003") == "24.99"
    assert await amazon_price(sandbox, "CD-1001") == "115.0"  # the same feed as the refused one
    assert await amazon_price(sandbox, BAD_SKU) is None
    found = {(e["connection_id"], e["category"]) for e in parked(hub)}
    assert found == {("acme-amz", "remote.listing_rejected"), ("acme-shop", "mapping.sku_unknown")}
    amz = next(e for e in parked(hub) if e["connection_id"] == "acme-amz")
    assert BAD_SKU in amz["summary"] and "Retrying this exception publishes" in amz["hint"]
    assert row(hub, "acme-amz", "CD-1003").publish_state == "failed"

    await base(hub, "list-2", CD_1003=("22.00", "10.00"))  # the price moves on meanwhile (+10%)
    await later(hub, 61)
    assert await amazon_price(sandbox, BAD_SKU) is None
    server, session = sandbox
    async with session.post(server.make_url("/amazon/listings/_sandbox/invalid_skus"), json={"skus": []}):
        pass
    await hub.database.write(
        desk.retry, desk.ExceptionFilter(tenant_ids=("acme",), ids=(amz["id"],)), "ops", hub.clock()
    )
    await run(hub)
    assert await amazon_price(sandbox, BAD_SKU) == "24.2"  # the current price (22 + 10%), patched at once
    assert str(row(hub, "acme-amz", "CD-1003").confirmed) == "24.20"
    with hub.engine.connect() as c:
        status = c.execute(select(exceptions.c.status).where(exceptions.c.id == amz["id"])).scalar()
        mid = c.execute(select(exceptions.c.message_id).where(exceptions.c.id == amz["id"])).scalar()
        assert message_store.get(c, mid).status is Status.DONE
    assert status == "cleared"


PROCESSING_S = 4.0  # Amazon processes a feed this long after it is created (real time)
WINDOW_S = 10.0  # the hub sends two feeds per this long (real time, as connectors keep it)


@pytest.fixture
async def slow_feeds(settings):
    """A third price publication waits for the feed window while its price is queued."""
    server = await start_sandbox(feed_processing_s=PROCESSING_S)
    async with aiohttp.ClientSession() as session:
        h = build_hub(
            settings, (server, session), listings_feeds_per_window=2, listings_feed_window_seconds=WINDOW_S
        )
        yield h, (server, session)
        await h.aclose()
    await server.close()


async def sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


async def test_a_price_patched_while_an_older_feed_waited_is_published_again_after_that_feed(slow_feeds):
    """An operator's retry patches the item's current price at once; a feed with an older
    price, created before and processed after, puts that older price back on Amazon. When the
    feed's report is read, the patched price goes again. (The feeds and the window are timed
    from a moment after each feed was created, so the waits are long enough on a slow machine.)"""
    hub, sandbox = slow_feeds
    await base(hub, "list-1", CD_1003=("20.00", "10.00"))
    first_feed = time.monotonic()
    await sleep_until(first_feed + PROCESSING_S + 0.1)  # Amazon processes it: CD-1003 is refused
    await later(hub, 61)
    (refused,) = parked(hub)
    server, session = sandbox
    async with session.post(server.make_url("/amazon/listings/_sandbox/invalid_skus"), json={"skus": []}):
        pass

    await base(hub, "list-2", CD_1003=("22.00", "10.00"))  # 24.20 goes in the second feed
    second_feed = time.monotonic()
    await base(hub, "list-3", CD_1003=("24.00", "10.00"))  # 26.40 waits: no third feed in the window
    assert row(hub, "acme-amz", "CD-1003").publish_state == "queued"
    await hub.database.write(
        desk.retry, desk.ExceptionFilter(tenant_ids=("acme",), ids=(refused["id"],)), "ops", hub.clock()
    )
    await run(hub)
    assert await amazon_price(sandbox, BAD_SKU) == "26.4"  # patched at once, before the feed
    await sleep_until(second_feed + PROCESSING_S + 0.1)  # Amazon processes the second feed
    assert await amazon_price(sandbox, BAD_SKU) == "24.2"

    await later(hub, 61)  # its report is read: 26.40 goes again, in the next feed
    await sleep_until(first_feed + WINDOW_S + 0.1)  # the feed window has room
    await later(hub, 300)
    third_feed = time.monotonic()
    await sleep_until(third_feed + PROCESSING_S + 0.1)
    await later(hub, 61)
    assert await amazon_price(sandbox, BAD_SKU) == "26.4"
    found = row(hub, "acme-amz", "CD-1003")
    assert (found.publish_state, str(found.confirmed)) == ("idle", "26.40")
    assert len((await shop(sandbox))["amazon_feeds"]["feeds"]) == 3 and parked(hub) == []


# -- the ERP's price list ----------------------------------------------------------------------------


async def test_the_erp_price_list_is_read_on_schedule_and_only_changes_move_on(hub, sandbox):
    with hub.engine.connect() as c:
        schedule = schedules.get_schedule(c, "acme", "prices:acme-erp")
    assert (schedule.kind, schedule.interval_seconds) == (kinds.POLL, 600)
    await deliver(hub, kinds.POLL, "poll-1", {"connection_id": "acme-erp"})
    await later(hub, 61)
    with hub.engine.connect() as c:
        listed = store.read_base(c, "acme")
    assert len(listed) == SANDBOX.catalog_size and listed["CD-1001"].cost is not None
    store_state = (await shop(sandbox))["shopify"]
    assert store_state["graphql_operations"]["productVariantsBulkUpdate"] == SANDBOX.catalog_size
    before = row(hub, "acme-shop", "CD-1005").published
    assert store_state["prices"]["CD-1005"] == str(before)
    new = (listed["CD-1005"].price * Decimal("1.05")).quantize(Decimal("0.01"))  # within the threshold

    server, session = sandbox
    async with session.post(
        server.make_url("/erp/_sandbox/prices"), json={"item": "CD-1005", "unit_price": str(new)}
    ):
        pass
    await deliver(hub, kinds.POLL, "poll-2", {"connection_id": "acme-erp"})
    with hub.engine.connect() as c:
        rows = c.execute(
            select(messages.c.payload).where(messages.c.kind == kinds.BASE_CHANGED).order_by(messages.c.id)
        )
        payloads = [json.loads(r.payload) for r in rows]
    assert [len(p["prices"]) for p in payloads] == [SANDBOX.catalog_size, 1]
    assert payloads[1]["prices"][0]["item"] == "CD-1005"
    after = row(hub, "acme-shop", "CD-1005")
    assert after.to_dict()["explanation"][0]["total"] == str(new) and after.published > before
    assert await shopify_price(sandbox, "CD-1005") == str(after.published)
    assert str(after.published).endswith(".99")


async def test_changed_channel_rules_reprice_every_item(hub, sandbox):
    await base(hub, "list-1", CD_1001=("100.00", "60.00"), CD_1002=("50.00", "30.00"))
    assert (await shopify_price(sandbox, "CD-1001"), await shopify_price(sandbox, "CD-1002")) == (
        "120.99",
        "60.99",
    )
    server, _ = sandbox
    text = config(str(server.make_url("")).rstrip("/")).replace("markup_percent: 20", "markup_percent: 30")
    box = SecretBox.from_settings(hub.settings)
    apply_config(hub.engine, load_text(text), "crossdock.yaml", text, "ops@test", box)
    await run(hub)
    assert (await shopify_price(sandbox, "CD-1001"), await shopify_price(sandbox, "CD-1002")) == (
        "130.99",
        "65.99",
    )
    apply_config(
        hub.engine, load_text(text), "crossdock.yaml", text, "ops@test", box
    )  # unchanged: no recompute
    with hub.engine.connect() as c:
        kinds_written = (
            c.execute(select(messages.c.kind).where(messages.c.kind == kinds.RECOMPUTE)).scalars().all()
        )
    assert len(kinds_written) == 2  # the first apply and the change
