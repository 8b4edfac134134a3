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
