"""The generic REST ERP: it keeps whatever it is sent, so duplicates are the hub's to prevent."""

from __future__ import annotations

from crossdock.sandbox.state import ErpConfig

AUTH = {"Authorization": "Bearer erp-sandbox-key"}
ORDER = {"external_reference": "shopify:1001", "lines": [{"item": "CD-1001", "quantity": 2}]}


async def test_erp_needs_the_bearer_key(sandbox):
    client, _ = sandbox
    resp = await client.get("/erp/items")
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "unauthorized"


async def test_the_erp_does_not_dedupe_and_lookup_by_reference_shows_both(sandbox):
    client, _ = sandbox
    first = await client.post("/erp/sales-orders", json=ORDER, headers=AUTH)
    second = await client.post("/erp/sales-orders", json=ORDER, headers=AUTH)
    assert first.status == second.status == 201
    found = await (
        await client.get("/erp/sales-orders", params={"external_reference": "shopify:1001"}, headers=AUTH)
    ).json()
    assert [so["id"] for so in found["sales_orders"]] == ["SO-000001", "SO-000002"]
    nothing = await (
        await client.get("/erp/sales-orders", params={"external_reference": "shopify:9"}, headers=AUTH)
    ).json()
    assert nothing == {"sales_orders": []}
    state = (await (await client.get("/_sandbox/state")).json())["erp"]
    assert state["sales_orders_by_reference"] == {"shopify:1001": 2}
    assert state["duplicate_references"] == ["shopify:1001"]


async def test_unknown_items_are_refused_with_the_error_shape(sandbox):
    client, _ = sandbox
    resp = await client.post(
        "/erp/sales-orders", json={**ORDER, "lines": [{"item": "NOPE", "quantity": 1}]}, headers=AUTH
    )
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "unknown_item"


async def test_invoices_per_shipment_and_cancel_after_invoice_is_refused(sandbox):
    client, _ = sandbox
    so = await (await client.post("/erp/sales-orders", json=ORDER, headers=AUTH)).json()
    invoice = {
        "sales_order": so["id"],
        "shipment_reference": "R1-S1",
        "lines": [{"item": "CD-1001", "quantity": 1}],
    }
    assert (await client.post("/erp/invoices", json=invoice, headers=AUTH)).status == 201
    too_much = {**invoice, "shipment_reference": "R1-S2", "lines": [{"item": "CD-1001", "quantity": 5}]}
    assert (await client.post("/erp/invoices", json=too_much, headers=AUTH)).status == 422
    listed = await (await client.get("/erp/invoices", params={"sales_order": so["id"]}, headers=AUTH)).json()
    assert [i["shipment_reference"] for i in listed["invoices"]] == ["R1-S1"]
    resp = await client.post(f"/erp/sales-orders/{so['id']}/cancel", headers=AUTH)
    assert resp.status == 409
    stock = await (await client.get("/erp/stock", params={"items": "CD-1001"}, headers=AUTH)).json()
    assert stock["stock"][0] == {"item": "CD-1001", "on_hand": "249", "allocated": "1", "available": "248"}


async def test_customers_items_and_prices(sandbox):
    client, _ = sandbox
    created = await client.post(
        "/erp/customers", json={"name": "Ada Archer", "external_ref": "shopify:77"}, headers=AUTH
    )
    assert created.status == 201
    found = await (
        await client.get("/erp/customers", params={"external_ref": "shopify:77"}, headers=AUTH)
    ).json()
    assert found["customers"][0]["name"] == "Ada Archer"
    items = await (await client.get("/erp/items", params={"codes": "CD-1001,XX"}, headers=AUTH)).json()
    assert [i["code"] for i in items["items"]] == ["CD-1001"] and items["missing"] == ["XX"]
    prices = await (await client.get("/erp/prices", params={"item": "CD-1001"}, headers=AUTH)).json()
    assert prices["prices"][0]["item"] == "CD-1001" and prices["prices"][0]["currency"] == "USD"


async def test_optional_rate_limit_answers_429_with_retry_after(make_sandbox, clock):
    client, _ = await make_sandbox(erp=ErpConfig(rate_limit_per_s=2))
    statuses = [(await client.get("/erp/items", headers=AUTH)).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    resp = await client.get("/erp/items", headers=AUTH)
    assert resp.status == 429 and resp.headers["Retry-After"] == "1"
    clock.advance(0.5)
    assert (await client.get("/erp/items", headers=AUTH)).status == 200
