"""The sandbox for several tenants (systems of their own under /t/{tenant}), the WMS's stock
and its inventory events, and ERP list price changes."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer
from standardwebhooks.webhooks import Webhook

from crossdock.sandbox.app import SANDBOX, create_sandbox_app
from crossdock.sandbox.state import SandboxConfig, WmsConfig

WMS_AUTH = {"Authorization": "Bearer wms-sandbox-key"}
ERP_AUTH = {"Authorization": "Bearer erp-sandbox-key"}
CENT = Decimal("0.01")


@pytest.fixture
async def make_app():
    clients: list[TestClient] = []

    async def make(tenants=(), **overrides):
        config = SandboxConfig(**{"hub_url": "http://127.0.0.1:9", **overrides})
        app = create_sandbox_app(config, tenants=tenants)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client, app[SANDBOX]

    yield make
    for client in clients:
        await client.close()


async def _wait(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout  # a bound for a loaded machine, not a timed assertion
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached: {what}")
        await asyncio.sleep(0.01)


# -- tenants -----------------------------------------------------------------------------------


async def test_each_tenant_has_its_own_systems_under_its_prefix(make_app, hub):
    client, root = await make_app(tenants=("acme", "globex"), hub_url=hub.url, webhook_concurrency=1)
    await client.post("/t/acme/shopify/_sandbox/orders", json={"count": 2})
    await client.post("/shopify/_sandbox/orders", json={"count": 1})
    await root.drain(5)

    acme = await (await client.get("/t/acme/_sandbox/state")).json()
    mine = await (await client.get("/_sandbox/state")).json()
    globex = await (await client.get("/t/globex/_sandbox/state")).json()
    assert (
        len(acme["shopify"]["orders"]),
        len(mine["shopify"]["orders"]),
        len(globex["shopify"]["orders"]),
    ) == (2, 1, 0)
    assert mine["tenants"] == {"acme": "/t/acme", "globex": "/t/globex"}
    # webhooks name each tenant's own connection: ids are unique across the hub
    urls = {r.headers["X-Shopify-Shop-Domain"]: r for r in hub.received}
    assert set(urls) == {"crossdock-sandbox.myshopify.com", "acme-sandbox.myshopify.com"}
    wiring = await (await client.get("/t/acme/_sandbox/config")).json()
    assert (
        wiring["shopify"]["connection_id"] == "acme-shopify" and wiring["wms"]["connection_id"] == "acme-wms"
    )
    assert wiring["erp"]["base_url"].endswith("/t/acme/erp")
    root_wiring = await (await client.get("/_sandbox/config")).json()
    assert root_wiring["tenants"]["globex"].endswith("/t/globex")
    assert root_wiring["shopify"]["connection_id"] == "shopify"
    # the ERP of one tenant is not another's
    await client.post(
        "/t/acme/erp/sales-orders",
        json={"external_reference": "x", "lines": [{"item": "CD-1001", "quantity": 1}]},
        headers=ERP_AUTH,
    )
    assert len((await (await client.get("/t/acme/_sandbox/state")).json())["erp"]["sales_orders"]) == 1
    assert (await (await client.get("/_sandbox/state")).json())["erp"]["sales_orders"] == {}


async def test_root_traffic_spreads_over_tenants_the_same_way_for_the_same_seed(make_app):
    def spread(root) -> tuple[list[int], list]:
        everyone = [root, *root.tenants.values()]
        counts = [len(s.shopify.orders) for s in everyone]
        lines = [[li["sku"] for o in s.shopify.orders.values() for li in o["line_items"]] for s in everyone]
        return counts, lines

    seen = []
    for seed in (5, 5):
        client, root = await make_app(tenants=("acme",), seed=seed)
        for _ in range(12):
            root.traffic.create["shopify"](1)
        seen.append(spread(root))
    assert seen[0] == seen[1]
    assert all(n > 0 for n in seen[0][0]) and sum(seen[0][0]) == 12


async def test_reset_at_the_root_resets_every_tenant_and_bad_ids_are_refused(make_app):
    client, _ = await make_app(tenants=("acme",))
    await client.post("/t/acme/amazon/_sandbox/orders", json={"count": 1})
    await client.post("/_sandbox/reset")
    assert (await (await client.get("/t/acme/_sandbox/state")).json())["amazon"]["orders"] == {}
    with pytest.raises(ValueError):
        create_sandbox_app(SandboxConfig(), tenants=("Acme Corp",))


# -- WMS stock -------------------------------------------------------------------------------


def _stock_config(**extra) -> WmsConfig:
    return WmsConfig(event_delay_s=0.01, stock=True, initial_stock=(5, 5), **extra)


async def test_a_shipment_takes_stock_off_hand_and_tells_the_hub(make_app, hub):
    client, sandbox = await make_app(
        hub_url=hub.url, webhook_concurrency=1, wms=_stock_config(), clock=time.time
    )
    release = {
        "release_reference": "R-1", "warehouse": "MAIN", "order_reference": "shopify:1",
        "lines": [{"line_reference": "1", "item": "CD-1001", "quantity": 3}],
    }  # fmt: skip
    assert (await client.post("/wms/releases", json=release, headers=WMS_AUTH)).status == 202
    state = (await (await client.get("/_sandbox/state")).json())["wms"]["stock"]
    assert state["locations"]["MAIN"]["CD-1001"] == {"on_hand": 5, "allocated": 3}
    await _wait(lambda: hub.topics().count("inventory.adjusted") == 2, "the shipment's stock event")
    await sandbox.drain(5)

    state = (await (await client.get("/_sandbox/state")).json())["wms"]["stock"]
    assert state["locations"]["MAIN"]["CD-1001"] == {"on_hand": 2, "allocated": 0}
    assert state["ledger"]["CD-1001"] == {"initial": 5, "allocated": 3, "shipped": 3}
    verify = Webhook(sandbox.ctx.config.wms.webhook_secret).verify
    allocation, shipment = (
        verify(r.body, r.headers)["data"] for r in hub.received if r.topic == "inventory.adjusted"
    )
    # both name the order: the allocation converts its hold, the shipment takes the units
    # off hand with the allocation that held them
    assert (allocation["reason"], allocation["reference"], allocation["order_reference"]) == (
        "allocation", "R-1", "shopify:1"
    )
    assert allocation["adjustments"] == [{"item": "CD-1001", "location": "MAIN", "on_hand": 0, "allocated": 3}]
    assert (shipment["reason"], shipment["reference"], shipment["order_reference"]) == (
        "shipment", "R-1-S1", "shopify:1"
    )
    assert shipment["adjustments"] == [{"item": "CD-1001", "location": "MAIN", "on_hand": -3, "allocated": -3}]
    assert shipment["sequence"] == allocation["sequence"] + 1


async def test_a_release_beyond_free_stock_is_short_picked(make_app, hub):
    client, sandbox = await make_app(hub_url=hub.url, webhook_concurrency=1, wms=_stock_config())
    release = {
        "release_reference": "R-1", "warehouse": "MAIN", "order_reference": "shopify:1",
        "lines": [{"line_reference": "1", "item": "CD-1002", "quantity": 8}],
    }  # fmt: skip
    await client.post("/wms/releases", json=release, headers=WMS_AUTH)
    await _wait(lambda: "shipped" in hub.topics(), "the shipment")
    first = next(r for r in hub.received if r.topic != "inventory.adjusted")
    picked = json.loads(first.body)["data"]
    assert first.topic == "short_picked" and picked["lines"][0]["picked"] == 5
    state = (await (await client.get("/_sandbox/state")).json())["wms"]
    assert state["releases"]["R-1"]["lines"][0]["out_of_stock"] == 3
    assert state["stock"]["ledger"]["CD-1002"]["out_of_stock"] == 3


async def test_snapshots_receipts_and_write_offs_are_sent_as_inventory_events(make_app, hub):
    client, sandbox = await make_app(
        hub_url=hub.url, webhook_concurrency=1, wms=_stock_config(), catalog_size=3
    )
    assert (await (await client.post("/wms/_sandbox/stock/snapshot")).json()) == {"snapshots": 1}
    resp = await client.post(
        "/wms/_sandbox/stock/adjustments",
        json={"reason": "receipt", "lines": [{"item": "CD-1001", "quantity": 24}]},
    )
    assert resp.status == 200
    await client.post(
        "/wms/_sandbox/stock/adjustments",
        json={"reason": "write_off", "lines": [{"item": "CD-1003", "quantity": -9}]},  # only 5 there
    )
    await sandbox.drain(5)
    bodies = [json.loads(r.body) for r in hub.received]
    assert [b["type"] for b in bodies] == ["inventory.snapshot", "inventory.adjusted", "inventory.adjusted"]
    assert bodies[0]["data"]["positions"] == [
        {"item": f"CD-100{i}", "location": "MAIN", "on_hand": 5, "allocated": 0} for i in (1, 2, 3)
    ]
    assert bodies[2]["data"]["adjustments"] == [{"item": "CD-1003", "location": "MAIN", "on_hand": -5}]
    state = (await (await client.get("/_sandbox/state")).json())["wms"]["stock"]
    assert state["ledger"]["CD-1001"]["received"] == 24 and state["ledger"]["CD-1003"]["written_off"] == 5
    assert state["events"] == 3
    bad = await client.post("/wms/_sandbox/stock/adjustments", json={"lines": [{"item": "CD-1001"}]})
    assert bad.status == 400


async def test_stock_traffic_is_the_same_for_the_same_seed(make_app):
    ledgers = []
    for _ in range(2):
        _, sandbox = await make_app(wms=_stock_config(), seed=11)
        sandbox.wms.stock_traffic(20)
        ledgers.append({k: dict(v) for k, v in sandbox.wms.ledger.items()})
    assert ledgers[0] == ledgers[1]
    assert any("received" in v for v in ledgers[0].values())


async def test_without_stock_the_warehouse_keeps_none_and_sends_no_stock_events(make_app):
    client, sandbox = await make_app()
    assert (await (await client.post("/wms/_sandbox/stock/snapshot")).json()) == {"snapshots": 0}
    sandbox.wms.stock_traffic(3)
    assert (await (await client.get("/_sandbox/state")).json())["wms"]["stock"]["events"] == 0


async def test_each_location_numbers_its_stock_ledger_in_adjustments_and_snapshots(make_app, hub):
    client, sandbox = await make_app(
        hub_url=hub.url,
        webhook_concurrency=1,
        wms=_stock_config(stock_locations=("MAIN", "EAST")),
        catalog_size=2,
    )
    base = sandbox.wms.sequence_base
    for location, item in (("MAIN", "CD-1001"), ("MAIN", "CD-1002"), ("EAST", "CD-1001")):
        body = {"reason": "receipt", "location": location, "lines": [{"item": item, "quantity": 12}]}
        await client.post("/wms/_sandbox/stock/adjustments", json=body)
    await client.post("/wms/_sandbox/stock/snapshot")
    await sandbox.drain(5)
    data = [json.loads(r.body)["data"] for r in hub.received]
    assert [(d["warehouse"], d["sequence"] - base) for d in data] == [
        ("MAIN", 1), ("MAIN", 2), ("EAST", 1), ("EAST", 1), ("MAIN", 2),  # then the snapshots, EAST first
    ]  # fmt: skip
    state = (await (await client.get("/_sandbox/state")).json())["wms"]["stock"]
    assert state["sequences"] == {"EAST": base + 1, "MAIN": base + 2}


async def test_stock_events_take_the_duplicate_and_out_of_order_webhook_faults(make_app, hub):
    client, sandbox = await make_app(
        hub_url=hub.url, webhook_concurrency=1, wms=_stock_config(), catalog_size=1
    )
    faults = {"wms": {"webhooks": {"out_of_order": {"next": 1}, "duplicate": {"next": 1}}}}
    await client.post("/_sandbox/faults", json=faults)
    receipt = {"reason": "receipt", "lines": [{"item": "CD-1001", "quantity": 12}]}
    await client.post("/wms/_sandbox/stock/adjustments", json=receipt)  # held back, and twice
    await client.post("/wms/_sandbox/stock/snapshot")
    await sandbox.drain(5)
    assert [r.topic for r in hub.received] == [
        "inventory.snapshot",
        "inventory.adjusted",
        "inventory.adjusted",
    ]
    assert hub.received[1].headers["webhook-id"] == hub.received[2].headers["webhook-id"]
    injected = (await (await client.get("/_sandbox/faults")).json())["wms"]["injected"]
    assert injected == {"webhook_out_of_order": 1, "webhook_duplicate": 1}


async def test_an_event_held_back_goes_after_a_while_when_no_other_follows(make_app, hub, monkeypatch):
    monkeypatch.setattr("crossdock.sandbox.wms.LATE_SECONDS", 0.05)
    client, sandbox = await make_app(hub_url=hub.url, wms=_stock_config(), catalog_size=1)
    await client.post("/_sandbox/faults", json={"wms": {"webhooks": {"out_of_order": {"next": 1}}}})
    await client.post("/wms/_sandbox/stock/snapshot")
    await sandbox.drain(5)
    assert [r.topic for r in hub.received] == ["inventory.snapshot"]


# -- ERP prices ------------------------------------------------------------------------------


async def test_erp_list_prices_change_and_are_recorded(make_app):
    client, sandbox = await make_app(seed=3)
    resp = await client.post("/erp/_sandbox/prices", json={"item": "CD-1001", "unit_price": "12.5"})
    assert resp.status == 200 and (await resp.json())["changes"][0]["to"] == "12.50"
    prices = await (await client.get("/erp/prices", params={"item": "CD-1001"}, headers=ERP_AUTH)).json()
    assert prices["prices"][0]["unit_price"] == "12.50"

    changes = (await (await client.post("/erp/_sandbox/prices", json={"count": 30})).json())["changes"]
    assert len(changes) == 30
    for change in changes:  # kept within ±20% of the catalog price
        base = sandbox.erp.catalog_prices[change["item"]]
        assert base * Decimal("0.8") - CENT <= Decimal(change["to"]) <= base * Decimal("1.2") + CENT
    state = (await (await client.get("/_sandbox/state")).json())["erp"]
    assert len(state["price_changes"]) == 31
    assert (
        await client.post("/erp/_sandbox/prices", json={"item": "CD-1001", "unit_price": "-1"})
    ).status == 422
    assert (await client.post("/erp/_sandbox/prices", json={"item": "NOPE", "unit_price": "1"})).status == 404
