"""A listing sold in packs (a Shopify SKU mapped with `uom: CASE`, 1 CASE = 24 EA) shows whole
packs of the stock units, is reconciled in packs, and shows 0 when no pack size is known."""

from __future__ import annotations

import pytest

from crossdock.sandbox.state import AmazonListingsConfig, SandboxConfig, ShopifyStoreConfig
from crossdock.store import drift
from tests.support.publishing import LOCATION, SHOP, TENANT, sku, start, stop

CHANNELS = f"""        {SHOP}:
          publishing: {{reconcile_page: 8}}
"""
MAPPINGS = f"""    mappings:
      sku:
        - {{channel: shopify, item: BATT-AA, sku: {sku(20)}, uom: CASE}}
        - {{channel: shopify, item: BATT-AAA, sku: {sku(21)}, uom: PALLET}}
      uom:
        erp_uom: EA
        conversions:
          - {{item: BATT-AA, from: CASE, to: EA, factor: 24}}
"""


@pytest.fixture
async def rig(settings):
    config = SandboxConfig(
        catalog_size=30, shopify=ShopifyStoreConfig(topics=()), amazon_feeds=AmazonListingsConfig(feed_processing_s=0)
    )
    rig = await start(settings, config, CHANNELS, MAPPINGS)
    yield rig
    await stop(rig)


def shown(rig, i: int) -> int:
    store = rig.sandbox.shopify
    return store.inventory[(store.variant_by_sku(sku(i))["inventory_item_id"], LOCATION)]["available"]


async def test_a_case_pack_listing_shows_whole_cases_and_reconciles_in_cases(rig):
    rig.stock([("BATT-AA", 24), ("BATT-AAA", 500)])
    await rig.run()
    assert shown(rig, 20) == 1  # 24 EA: one case, not 24 cases
    assert shown(rig, 21) == 0  # no pallet size known: nothing to oversell
    rig.stock([("BATT-AA", 71)])
    await rig.run()
    assert shown(rig, 20) == 2  # 71 EA: two whole cases

    rig.insert("availability.reconcile", "reconcile-now", {"connection_id": SHOP})
    await rig.run()
    with rig.hub.engine.connect() as c:
        [report] = drift.list_reports(c, TENANT, SHOP)
    assert report.items_checked == 2 and report.items_drifted == 0, report
    rig.stock([("BATT-AA", 48)])  # the compare-and-set expects the 2 cases reconciliation saw
    await rig.run()
    assert shown(rig, 20) == 2
    rig.stock([("BATT-AA", 23)])
    await rig.run()
    assert shown(rig, 20) == 0
