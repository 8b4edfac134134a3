"""Reconciliation on SQLite and PostgreSQL: a drift injected into the channel (an edit in the
Shopify admin, in Seller Central) is found, reported (how many items, how far off, since
when) and repaired through the publishing outbox; the sandbox shows the repair."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from crossdock.access import Role
from crossdock.api.app import create_app
from crossdock.cli import app as cli_app
from crossdock.sandbox.state import AmazonListingsConfig, SandboxConfig, ShopifyStoreConfig
from crossdock.store import api_keys, drift
from crossdock.store.tables import exceptions, schedules
from tests.support.publishing import AMAZON, LOCATION, SHOP, TENANT, sku, start, stop
from tests.support.tenants import ensure_tenants

CHANNELS = f"""        {SHOP}:
          publishing: {{reconcile_page: 8}}
        {AMAZON}:
          publishing: {{reconcile_page: 8, check_after_seconds: 5}}
"""


@pytest.fixture
async def rig(settings):
    config = SandboxConfig(
        catalog_size=30,
        shopify=ShopifyStoreConfig(topics=()),
        amazon_feeds=AmazonListingsConfig(feed_processing_s=0),
    )
    rig = await start(settings, config, CHANNELS)
    rig.stock([(sku(i), 20 + i) for i in range(30)], per_message=30)
    await rig.run()
    yield rig
    await stop(rig)


def reports(rig, connection: str) -> list[drift.DriftReport]:
    with rig.hub.engine.connect() as c:
        return drift.list_reports(c, TENANT, connection)


def no_exceptions(rig) -> bool:
    with rig.hub.engine.connect() as c:
        return c.execute(select(exceptions.c.category)).all() == []


async def test_apply_declares_a_reconciliation_per_channel(rig):
    with rig.hub.engine.connect() as c:
        rows = c.execute(select(schedules.c.name, schedules.c.kind, schedules.c.enabled)).all()
    assert {r.name: (r.kind, r.enabled) for r in rows if r.name.startswith("reconcile:")} == {
        f"reconcile:{SHOP}": ("availability.reconcile", True),
        f"reconcile:{AMAZON}": ("availability.reconcile", True),
    }


async def test_reconciliation_repairs_a_drift_injected_into_shopify(rig):
    store = rig.sandbox.shopify
    level = {
        i: store.inventory[(store.variant_by_sku(sku(i))["inventory_item_id"], LOCATION)] for i in (3, 11, 29)
    }
    level[3]["available"], level[11]["available"], level[29]["available"] = 999, 0, 13  # edits in the admin
    calls = store.operations["inventorySetQuantities"]
    injected_at = rig.clock.now
    rig.insert("availability.reconcile", "reconcile-now", {"connection_id": SHOP})
    await rig.run()

    (report,) = reports(rig, SHOP)
    assert (report.state, report.items_checked, report.items_drifted, report.items_missing) == (
        "done",
        30,
        3,
        0,
    )
    assert (report.total_abs_diff, report.max_abs_diff) == (999 - 23 + 31 + 49 - 13, 999 - 23)
    assert report.oldest_drift_since == injected_at
    assert [s["item"] for s in report.sample] == [sku(3), sku(29), sku(11)]
    shown = rig.state()["shopify"]["inventory"]
    assert [shown[f"{sku(i)}@{LOCATION}"]["available"] for i in (3, 11, 29)] == [23, 31, 49]
    assert store.operations["inventorySetQuantities"] == calls + 1  # the three corrections in one call
    assert no_exceptions(rig)  # compared with what Shopify showed: no stale compare-and-set

    rig.insert("availability.reconcile", "reconcile-again", {"connection_id": SHOP})
    await rig.run()
    assert reports(rig, SHOP)[0].items_drifted == 0


async def test_reconciliation_repairs_a_drift_injected_into_amazon(rig):
    listings = rig.sandbox.amazon_listings
    assert listings is not None and listings.listings[sku(4)] == 24
    listings.listings[sku(4)], listings.listings[sku(17)] = 0, 100  # edits in Seller Central
    del listings.listings[sku(22)]  # a listing gone from Amazon
    feeds = len(listings.feeds)
    rig.insert("availability.reconcile", "reconcile-now", {"connection_id": AMAZON})
    await rig.run()

    (report,) = reports(rig, AMAZON)
    assert (report.items_checked, report.items_drifted, report.items_missing) == (29, 2, 1)
    assert report.max_abs_diff == 100 - 37
    assert listings.listings[sku(4)] == 24 and listings.listings[sku(17)] == 37
    assert len(listings.feeds) == feeds + 1 and no_exceptions(rig)


async def test_a_malformed_amazon_answer_retries_the_step_instead_of_reporting_items_missing(rig):
    listings = rig.sandbox.amazon_listings
    assert listings is not None
    listings.listings[sku(9)] = 2  # an edit in Seller Central
    faults = {"amazon": {"malformed": {"next": 2, "kind": "empty"}}}  # 200 without a body, twice
    async with (
        aiohttp.ClientSession() as s,
        s.post(rig.server.make_url("/_sandbox/faults"), json=faults) as r,
    ):
        assert r.status == 200
    rig.insert("availability.reconcile", "reconcile-now", {"connection_id": AMAZON})
    await rig.run()

    assert rig.sandbox.faults.injected["amazon"] == {"malformed": 2}
    (report,) = reports(rig, AMAZON)
    assert (report.state, report.items_checked, report.items_drifted, report.items_missing) == (
        "done",
        30,
        1,
        0,
    )
    assert listings.listings[sku(9)] == 29 and no_exceptions(rig)


async def test_drift_reports_over_the_cli_and_the_api(rig, settings):
    store = rig.sandbox.shopify
    store.inventory[(store.variant_by_sku(sku(6))["inventory_item_id"], LOCATION)]["available"] = 1
    env = {"CROSSDOCK_DATABASE_URL": settings.database_url, "CROSSDOCK_VAR_DIR": str(settings.var_dir)}
    cli = CliRunner()
    queued = cli.invoke(
        cli_app, ["availability", "reconcile", "--tenant", TENANT, "--connection", SHOP, "--no-wait"], env=env
    )
    assert queued.exit_code == 0, queued.output
    refused = cli.invoke(
        cli_app, ["availability", "reconcile", "--tenant", TENANT, "--connection", "acme-erp"], env=env
    )
    assert refused.exit_code == 2 and "no connection 'acme-erp'" in refused.output
    await rig.run()
    shown = json.loads(
        cli.invoke(cli_app, ["availability", "drift", "--tenant", TENANT, "--json"], env=env).stdout
    )
    assert [(r["connection_id"], r["items_drifted"], r["max_abs_diff"]) for r in shown] == [(SHOP, 1, "25")]
    table = cli.invoke(
        cli_app, ["availability", "drift", "--tenant", TENANT], env={**env, "COLUMNS": "200"}
    ).stdout
    assert "availability drift" in table and SHOP in table

    now = rig.clock()
    ensure_tenants(rig.hub.engine, "globex")
    own = rig.hub.database.transaction(api_keys.create, "v", Role.TENANT_VIEWER, [TENANT], "test", now)
    other = rig.hub.database.transaction(api_keys.create, "o", Role.TENANT_VIEWER, ["globex"], "test", now)
    client = TestClient(create_app(rig.hub, run_workers=False))
    url = f"/api/v1/tenants/{TENANT}/availability/drift"
    answer = client.get(
        url, params={"connection": SHOP}, headers={"Authorization": f"Bearer {own.plaintext}"}
    )
    assert answer.status_code == 200, answer.text
    (report,) = answer.json()["reports"]
    assert report["items_drifted"] == 1 and report["sample"][0]["item"] == sku(6)
    assert report["sample"][0]["difference"] == "-25"
    assert client.get(url, headers={"Authorization": f"Bearer {other.plaintext}"}).status_code == 404
    assert client.get(url).status_code == 401


def shown_on_shopify(rig, i: int) -> int:
    store = rig.sandbox.shopify
    return store.inventory[(store.variant_by_sku(sku(i))["inventory_item_id"], LOCATION)]["available"]


async def test_a_sell_out_published_while_the_channel_is_read_is_not_corrected_back(rig, monkeypatch):
    """The run reads what each item should show, then the channel over the network; an item
    that sells out meanwhile is published at 0 and must stay 0, not be "repaired" back to the
    figure read before."""
    from crossdock.flows.availability import reconcile as flow

    assert shown_on_shopify(rig, 3) == 23
    real_reader, raced = flow.reader, []

    async def racing_reader(ctx, connection):
        channel = await real_reader(ctx, connection)
        read = channel.read

        async def read_while_it_sells_out(skus):
            if not raced:
                raced.append(True)
                rig.stock([(sku(3), 0)])
                for _ in range(400):
                    if shown_on_shopify(rig, 3) == 0:
                        break
                    await asyncio.sleep(0.05)
            return await read(skus)

        channel.read = read_while_it_sells_out
        return channel

    monkeypatch.setattr(flow, "reader", racing_reader)
    rig.insert("availability.reconcile", "reconcile-now", {"connection_id": SHOP})
    await rig.run()
    assert raced and shown_on_shopify(rig, 3) == 0
    [report] = [r for r in reports(rig, SHOP) if r.run_id.startswith(SHOP)]
    assert report.items_drifted == 0  # the sell-out was no drift
