"""A channel rule tightened with `crossdock apply` (a lower cap, more safety stock) reaches the
channel at once: every item is computed again, not only those whose stock changes later."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crossdock.configuration import SecretBox, load_text
from crossdock.sandbox.state import AmazonListingsConfig, SandboxConfig, ShopifyStoreConfig
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from crossdock.store.tables import messages
from tests.support.publishing import LOCATION, SHOP, config_text, sku, start, stop


@pytest.fixture
async def rig(settings):
    config = SandboxConfig(
        catalog_size=5, shopify=ShopifyStoreConfig(topics=()), amazon_feeds=AmazonListingsConfig(feed_processing_s=0)
    )
    rig = await start(settings, config, f"        {SHOP}: {{}}\n")
    yield rig
    await stop(rig)


def apply(rig, settings, channels: str) -> None:
    text = config_text(str(rig.server.make_url("")).rstrip("/"), channels)
    engine = make_engine(settings.database_url)
    apply_config(engine, load_text(text), "crossdock.yaml", text, "ops@test", SecretBox.from_settings(settings))
    engine.dispose()


def recomputes(rig) -> int:
    with rig.hub.engine.connect() as c:
        return c.execute(select(func.count()).where(messages.c.kind == "inventory.recompute")).scalar()


async def test_a_tightened_rule_is_listed_without_waiting_for_a_stock_change(rig, settings):
    rig.stock([(sku(1), 25), (sku(2), 8)])
    await rig.run()
    store = rig.sandbox.shopify
    shown = {i: (store.variant_by_sku(sku(i))["inventory_item_id"], LOCATION) for i in (1, 2)}
    assert [store.inventory[k]["available"] for k in shown.values()] == [25, 8]

    apply(rig, settings, f"        {SHOP}: {{cap: 5, safety_stock: {{units: 3}}}}\n")
    rig.clock.now += 3600
    await rig.run()
    assert [store.inventory[k]["available"] for k in shown.values()] == [5, 5]
    before = recomputes(rig)
    apply(rig, settings, f"        {SHOP}: {{cap: 5, safety_stock: {{units: 3}}}}\n")  # the same again
    assert recomputes(rig) == before  # an unchanged section recomputes nothing


async def test_inbound_stock_follows_the_date_without_a_stock_change(rig, settings):
    """An arrival enters the horizon, and later falls overdue, with no stock report in between:
    the channel follows because every item is computed again after midnight."""
    from datetime import UTC, datetime, timedelta

    from crossdock.store.inventory import NEW_DAY_SCHEDULE
    from crossdock.store.schedules import fire_due, get_schedule

    def today() -> datetime:
        return datetime.fromtimestamp(rig.clock(), UTC)

    with rig.hub.engine.connect() as c:
        assert not get_schedule(c, "acme", NEW_DAY_SCHEDULE).enabled  # no channel counts inbound
    apply(rig, settings, f"        {SHOP}: {{inbound_horizon_days: 1}}\n")
    with rig.hub.engine.connect() as c:
        assert get_schedule(c, "acme", NEW_DAY_SCHEDULE).enabled
    arriving = (today() + timedelta(days=2)).date().isoformat()
    position = {"item": sku(1), "location": "WH1", "on_hand": 5,
                "inbound": [{"quantity": 20, "expected": arriving}]}  # fmt: skip
    rig.insert("inventory.snapshot", "stock-inbound", {"source": "erp", "positions": [position]})
    await rig.run()
    store = rig.sandbox.shopify
    shown = (store.variant_by_sku(sku(1))["inventory_item_id"], LOCATION)

    async def next_day() -> int:
        rig.clock.now += 86_400
        with rig.hub.engine.begin() as c:
            fire_due(c, rig.clock())
        await rig.run()
        return store.inventory[shown]["available"]

    assert store.inventory[shown]["available"] == 5  # arrives the day after tomorrow: beyond the horizon
    assert await next_day() == 25  # tomorrow now: within it
    assert await next_day() == 25  # due today
    assert await next_day() == 5  # late: no longer promised
