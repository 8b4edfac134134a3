"""Reconciliation of a Walmart channel on SQLite and PostgreSQL: a drift injected into the
sandbox seller (an edit in Seller Center, an item retired) is read back with getInventory,
reported and repaired through the publishing outbox and one more inventory feed."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from crossdock.sandbox.state import SandboxConfig, ShopifyStoreConfig, WalmartSellerConfig
from crossdock.store import drift
from crossdock.store.tables import exceptions, schedules
from tests.support.publishing import TENANT, WALMART, sku, start, stop

CHANNELS = f"""        {WALMART}:
          publishing: {{reconcile_page: 8, check_after_seconds: 5}}
"""
ITEMS = 30


@pytest.fixture
async def rig(settings):
    config = SandboxConfig(
        catalog_size=ITEMS,
        shopify=ShopifyStoreConfig(topics=()),
        walmart=WalmartSellerConfig(feed_processing_s=0),
    )
    rig = await start(settings, config, CHANNELS, walmart=True)
    rig.stock([(sku(i), 20 + i) for i in range(ITEMS)], per_message=ITEMS)
    await rig.run()
    yield rig
    await stop(rig)


def reports(rig) -> list[drift.DriftReport]:
    with rig.hub.engine.connect() as c:
        return drift.list_reports(c, TENANT, WALMART)


def exception_categories(rig) -> list[str]:
    with rig.hub.engine.connect() as c:
        return list(c.execute(select(exceptions.c.category)).scalars())


async def test_apply_declares_a_reconciliation_of_the_walmart_channel(rig):
    with rig.hub.engine.connect() as c:
        row = c.execute(
            select(schedules.c.kind, schedules.c.enabled).where(schedules.c.name == f"reconcile:{WALMART}")
        ).one()
    assert (row.kind, row.enabled) == ("availability.reconcile", True)


async def test_reconciliation_repairs_a_drift_injected_into_walmart(rig):
    seller = rig.sandbox.walmart
    assert seller is not None and seller.inventory[sku(5)] == 25  # the first feed went through
    seller.inventory[sku(5)], seller.inventory[sku(12)] = 0, 100  # edits in Seller Center
    seller.known.discard(sku(20))  # an item retired from Walmart: getInventory answers 404
    feeds = len(seller.feeds)
    injected_at = rig.clock.now
    rig.insert("availability.reconcile", "reconcile-now", {"connection_id": WALMART})
    await rig.run()

    (report,) = reports(rig)
    assert (report.state, report.items_checked, report.items_drifted, report.items_missing) == (
        "done",
        ITEMS - 1,
        2,
        1,
    )
    assert (report.total_abs_diff, report.max_abs_diff) == ((25 - 0) + (100 - 32), 100 - 32)
    assert report.oldest_drift_since == injected_at
    assert [s["item"] for s in report.sample] == [sku(12), sku(5)]
    assert seller.inventory[sku(5)] == 25 and seller.inventory[sku(12)] == 32  # repaired
    assert len(seller.feeds) == feeds + 1  # both corrections in one feed
    state = rig.state()["walmart"]
    assert state["calls"]["by_route"]["GET /walmart/v3/inventory"] == ITEMS
    assert state["inventory_reads_throttled"] == 0 and exception_categories(rig) == []

    rig.insert("availability.reconcile", "reconcile-again", {"connection_id": WALMART})
    await rig.run()
    latest = reports(rig)[0]
    assert (latest.items_checked, latest.items_drifted, latest.items_missing) == (ITEMS - 1, 0, 1)
    assert len(seller.feeds) == feeds + 1


async def test_a_malformed_walmart_answer_retries_the_step_without_an_exception(rig):
    seller = rig.sandbox.walmart
    seller.inventory[sku(7)] = 3
    faults = {"walmart": {"malformed": {"next": 2, "kind": "truncated"}}}  # half a JSON answer, twice
    async with (
        aiohttp.ClientSession() as s,
        s.post(rig.server.make_url("/_sandbox/faults"), json=faults) as r,
    ):
        assert r.status == 200
    rig.insert("availability.reconcile", "reconcile-now", {"connection_id": WALMART})
    await rig.run()

    (report,) = reports(rig)
    assert (report.state, report.items_checked, report.items_drifted) == ("done", ITEMS, 1)
    assert seller.inventory[sku(7)] == 27 and exception_categories(rig) == []
    assert rig.state()["walmart"]["calls"]["by_route"]["GET /walmart/v3/inventory"] == ITEMS + 2
