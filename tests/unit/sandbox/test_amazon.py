"""The Amazon seller account: LWA tokens, Orders API v0 paging, usage plans, shipment confirmation."""

from __future__ import annotations

from crossdock.sandbox.state import AmazonAccountConfig

CREDENTIALS = {
    "grant_type": "refresh_token",
    "refresh_token": "Atzr|sandbox-refresh-token",
    "client_id": "amzn1.application-oa2-client.sandbox",
    "client_secret": "amazon-sandbox-client-secret",
}
SINCE = "2020-01-01T00:00:00Z"


async def _token(client) -> dict[str, str]:
    resp = await client.post("/amazon/auth/o2/token", data=CREDENTIALS)
    assert resp.status == 200
    body = await resp.json()
    assert body["token_type"] == "bearer"
    return {"x-amz-access-token": body["access_token"]}


async def _orders(client, headers, **params):
    query = {"MarketplaceIds": "ATVPDKIKX0DER", **params}
    resp = await client.get("/amazon/orders/v0/orders", params=query, headers=headers)
    return resp, await resp.json()


async def test_lwa_issues_tokens_and_rejects_wrong_credentials(sandbox):
    client, _ = sandbox
    resp = await client.post("/amazon/auth/o2/token", data={**CREDENTIALS, "client_secret": "nope"})
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"
    resp = await client.post("/amazon/auth/o2/token", data={**CREDENTIALS, "refresh_token": "Atzr|other"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_grant"
    body = await (await client.post("/amazon/auth/o2/token", json=CREDENTIALS)).json()
    assert body["expires_in"] == 3600 and body["access_token"].startswith("Atza|")


async def test_calls_without_a_live_access_token_get_403(make_sandbox, clock):
    client, _ = await make_sandbox(amazon=AmazonAccountConfig(token_ttl_s=60))
    resp, body = await _orders(client, {}, LastUpdatedAfter=SINCE)
    assert resp.status == 403 and body["errors"][0]["code"] == "Unauthorized"
    headers = await _token(client)
    clock.advance(30)
    resp, _ = await _orders(client, headers, LastUpdatedAfter=SINCE)
    assert resp.status == 200
    clock.advance(30)
    resp, body = await _orders(client, headers, LastUpdatedAfter=SINCE)
    assert resp.status == 403 and "expired" in body["errors"][0]["details"]
    resp, _ = await _orders(client, await _token(client), LastUpdatedAfter=SINCE)
    assert resp.status == 200


async def test_get_orders_pages_with_next_token_and_hides_the_last_two_minutes(make_sandbox, clock):
    client, _ = await make_sandbox(amazon=AmazonAccountConfig(page_size=2))
    headers = await _token(client)
    created = await (await client.post("/amazon/_sandbox/orders", json={"count": 5})).json()
    resp, body = await _orders(client, headers, LastUpdatedAfter=SINCE)
    assert body["payload"]["Orders"] == []  # updated less than two minutes ago
    clock.advance(121)
    ids, params, pages = [], {"LastUpdatedAfter": SINCE}, 0
    while True:
        resp, body = await _orders(client, headers, **params)
        assert resp.status == 200 and resp.headers["x-amzn-RateLimit-Limit"] == "0.0167"
        ids += [o["AmazonOrderId"] for o in body["payload"]["Orders"]]
        pages += 1
        if "NextToken" not in body["payload"]:
            break
        params = {"NextToken": body["payload"]["NextToken"]}
    assert pages == 3 and ids == [c["order"]["AmazonOrderId"] for c in created["orders"]]
    assert body["payload"]["LastUpdatedBefore"]
    resp, body = await _orders(client, headers)
    assert resp.status == 400 and body["errors"][0]["code"] == "InvalidInput"


async def test_get_orders_usage_plan_is_burst_20_then_429(sandbox, clock):
    client, _ = sandbox
    headers = await _token(client)
    for _ in range(20):
        assert (await _orders(client, headers, CreatedAfter=SINCE))[0].status == 200
    resp, body = await _orders(client, headers, CreatedAfter=SINCE)
    assert resp.status == 429 and body["errors"][0]["code"] == "QuotaExceeded"
    clock.advance(1 / 0.0167)  # one token back per minute
    assert (await _orders(client, headers, CreatedAfter=SINCE))[0].status == 200
    assert (await _orders(client, headers, CreatedAfter=SINCE))[0].status == 429


async def test_speed_factor_scales_the_documented_rates(make_sandbox, clock):
    client, sandbox = await make_sandbox(speed=60.0)
    headers = await _token(client)
    order_id = (await (await client.post("/amazon/_sandbox/orders", json={"count": 1})).json())["orders"][0][
        "order"
    ]["AmazonOrderId"]
    url = f"/amazon/orders/v0/orders/{order_id}/orderItems"
    statuses = [(await client.get(url, headers=headers)).status for _ in range(31)]
    assert statuses.count(200) == 30 and statuses[-1] == 429
    clock.advance(1 / 30)  # 0.5/s × 60
    resp = await client.get(url, headers=headers)
    assert resp.status == 200 and resp.headers["x-amzn-RateLimit-Limit"] == "30"


async def test_confirm_shipment_is_recorded_and_ships_the_order(sandbox):
    client, _ = sandbox
    headers = await _token(client)
    created = await (
        await client.post("/amazon/_sandbox/orders", json={"lines": [{"sku": "CD-1001", "quantity": 2}]})
    ).json()
    order_id = created["orders"][0]["order"]["AmazonOrderId"]
    items = (
        await (await client.get(f"/amazon/orders/v0/orders/{order_id}/orderItems", headers=headers)).json()
    )["payload"]
    assert items["AmazonOrderId"] == order_id and items["OrderItems"][0]["SellerSKU"] == "CD-1001"
    item_id = items["OrderItems"][0]["OrderItemId"]
    body = {
        "marketplaceId": "ATVPDKIKX0DER",
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": "UPS",
            "trackingNumber": "1Z1",
            "shipDate": "2026-05-01T10:00:00Z",
            "orderItems": [{"orderItemId": item_id, "quantity": 2}],
        },
    }
    url = f"/amazon/orders/v0/orders/{order_id}/shipmentConfirmation"
    resp = await client.post(url, json=body, headers=headers)
    assert resp.status == 204 and resp.headers["x-amzn-RateLimit-Limit"] == "2"
    bad = await client.post(
        url, json={"marketplaceId": "ATVPDKIKX0DER", "packageDetail": {}}, headers=headers
    )
    assert bad.status == 400 and (await bad.json())["errors"][0]["code"] == "InvalidInput"
    state = (await (await client.get("/_sandbox/state")).json())["amazon"]
    assert state["orders"][order_id]["status"] == "Shipped"
    assert state["orders"][order_id]["items"][0]["shipped"] == 2
    assert len(state["shipment_confirmations"]) == 2 and state["confirmations_per_order"] == {order_id: 1}


async def _rdt(client, headers, *paths: str):
    body = {"restrictedResources": [{"method": "GET", "path": p} for p in paths]}
    resp = await client.post("/amazon/tokens/2021-03-01/restrictedDataToken", json=body, headers=headers)
    return resp, await resp.json()


async def test_order_address_needs_a_restricted_data_token_for_its_path(make_sandbox, clock):
    client, sandbox = await make_sandbox(amazon=AmazonAccountConfig(rdt_ttl_s=600))
    headers = await _token(client)
    created = (await (await client.post("/amazon/_sandbox/orders", json={"count": 2})).json())["orders"]
    first, second = (c["order"]["AmazonOrderId"] for c in created)
    assert "Name" not in created[0]["order"]["ShippingAddress"] and "address" not in created[0]
    path = f"/orders/v0/orders/{first}/address"
    resp = await client.get(f"/amazon{path}", headers=headers)  # a plain access token
    assert resp.status == 403 and "Restricted Data Token" in (await resp.json())["errors"][0]["details"]
    resp, body = await _rdt(client, {}, path)
    assert resp.status == 403  # the Tokens API itself needs a live access token
    resp, body = await _rdt(client, headers, path)
    assert resp.status == 200 and body["expiresIn"] == 600
    rdt = {"x-amz-access-token": body["restrictedDataToken"]}
    resp = await client.get(f"/amazon{path}", headers=rdt)
    payload = (await resp.json())["payload"]
    assert resp.status == 200 and payload["AmazonOrderId"] == first
    address = payload["ShippingAddress"]
    assert address == sandbox.amazon.addresses[first]
    assert {"Name", "AddressLine1", "City", "StateOrRegion", "PostalCode", "CountryCode"} <= set(address)
    assert address["City"] == created[0]["order"]["ShippingAddress"]["City"]
    # Scoped to its path: not another order's address, not the Orders API at large.
    assert (await client.get(f"/amazon/orders/v0/orders/{second}/address", headers=rdt)).status == 403
    assert (await client.get(f"/amazon/orders/v0/orders/{first}/orderItems", headers=rdt)).status == 403
    clock.advance(600)
    resp = await client.get(f"/amazon{path}", headers=rdt)
    assert resp.status == 403 and "expired" in (await resp.json())["errors"][0]["details"]
    state = await (await client.get("/_sandbox/state")).json()
    assert state["amazon"]["rdts_issued"] == 1 and state["amazon"]["addresses_served"] == 1
    assert address["AddressLine1"] not in str(state)  # personal data stays out of the snapshot


async def test_restricted_data_token_refuses_resources_that_are_not_restricted(sandbox):
    client, _ = sandbox
    headers = await _token(client)
    resp, body = await _rdt(client, headers, "/orders/v0/orders/111-1111111-1111111/orderItems")
    assert resp.status == 400 and body["errors"][0]["code"] == "InvalidInput"
    resp, body = await _rdt(client, headers)
    assert resp.status == 400


async def test_order_address_usage_plan_is_burst_30_scaled_by_speed(make_sandbox, clock):
    client, _ = await make_sandbox(speed=10.0)
    headers = await _token(client)
    order_id = (await (await client.post("/amazon/_sandbox/orders", json={"count": 1})).json())["orders"][0][
        "order"
    ]["AmazonOrderId"]
    path = f"/orders/v0/orders/{order_id}/address"
    _, body = await _rdt(client, headers, path)
    rdt = {"x-amz-access-token": body["restrictedDataToken"]}
    statuses = [(await client.get(f"/amazon{path}", headers=rdt)).status for _ in range(31)]
    assert statuses.count(200) == 30 and statuses[-1] == 429
    clock.advance(1 / 5)  # 0.5/s × 10
    resp = await client.get(f"/amazon{path}", headers=rdt)
    assert resp.status == 200 and resp.headers["x-amzn-RateLimit-Limit"] == "5"
