"""The Shopify store's Admin GraphQL endpoint: cost throttling and the mutations the hub uses."""

from __future__ import annotations

from crossdock.sandbox.state import ShopifyStoreConfig

URL = "/shopify/admin/api/2026-04/graphql.json"
TOKEN = {"X-Shopify-Access-Token": "shpat_sandbox"}

FULFILL = """mutation fulfillmentCreate($fulfillment: FulfillmentInput!, $message: String) {
  fulfillmentCreate(fulfillment: $fulfillment, message: $message) {
    fulfillment { id status trackingInfo { company number url } } userErrors { field message } } }"""
ORDER = """query order($id: ID!) { order(id: $id) { id fulfillmentOrders(first: 5) { nodes { id
  lineItems(first: 50) { nodes { id remainingQuantity lineItem { id sku } } } } } } }"""
SET_QTY = """mutation set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } } userErrors { field message code } } }"""
ITEMS = """query items($query: String!) { inventoryItems(first: 10, query: $query) { nodes { id sku
  inventoryLevels(first: 5) { nodes { location { id } quantities(names: ["available"]) { name quantity } } } } } }"""


async def gql(client, query, variables=None, headers=TOKEN):
    resp = await client.post(URL, json={"query": query, "variables": variables or {}}, headers=headers)
    return resp.status, await resp.json()


async def test_graphql_needs_the_access_token(sandbox):
    client, _ = sandbox
    status, body = await gql(client, ORDER, {"id": "gid://shopify/Order/1"}, headers={})
    assert status == 401 and "Invalid API key or access token" in body["errors"]


async def test_cost_extension_reports_the_leaky_bucket(make_sandbox, clock):
    client, _ = await make_sandbox(shopify=ShopifyStoreConfig(bucket_size=30, restore_rate=10))
    status, body = await gql(client, FULFILL, {"fulfillment": {"lineItemsByFulfillmentOrder": []}})
    assert status == 200
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 10,
        "actualQueryCost": 10,
        "throttleStatus": {"maximumAvailable": 30.0, "currentlyAvailable": 20.0, "restoreRate": 10.0},
    }


async def test_over_budget_calls_are_throttled_with_http_200_until_the_bucket_refills(make_sandbox, clock):
    client, sandbox = await make_sandbox(shopify=ShopifyStoreConfig(bucket_size=30, restore_rate=10))
    variables = {"fulfillment": {"lineItemsByFulfillmentOrder": []}}
    for expected in (20.0, 10.0, 0.0):
        _, body = await gql(client, FULFILL, variables)
        assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == expected
    status, body = await gql(client, FULFILL, variables)
    assert status == 200 and "data" not in body
    assert body["errors"][0]["message"] == "Throttled"
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    clock.advance(0.5)  # 5 points back: still short of 10
    assert (await gql(client, FULFILL, variables))[1]["errors"][0]["extensions"]["code"] == "THROTTLED"
    clock.advance(0.5)
    _, body = await gql(client, FULFILL, variables)
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0.0 and "data" in body
    throttle = (await (await client.get("/_sandbox/state")).json())["shopify"]["throttle"]
    assert throttle["throttled"] == 2
    (minute,) = throttle["per_minute"].values()
    assert minute == {"calls": 6, "points": 40, "throttled": 2}


async def test_queries_refund_the_unused_part_of_their_requested_cost(sandbox):
    client, _ = sandbox
    _, body = await gql(client, ITEMS, {"query": "sku:CD-1001"})
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1 + (2 + 10) + (2 + 5)
    assert cost["actualQueryCost"] < cost["requestedQueryCost"]
    assert cost["throttleStatus"]["currentlyAvailable"] == 1000 - cost["actualQueryCost"]


async def _fulfillment_order_line(client, order_id: int) -> tuple[str, str, int]:
    _, body = await gql(client, ORDER, {"id": f"gid://shopify/Order/{order_id}"})
    fo = body["data"]["order"]["fulfillmentOrders"]["nodes"][0]
    line = fo["lineItems"]["nodes"][0]
    return fo["id"], line["id"], line["remainingQuantity"]


async def test_fulfillment_create_records_tracking_and_every_call(sandbox):
    client, _ = sandbox
    created = await (
        await client.post("/shopify/_sandbox/orders", json={"lines": [{"sku": "CD-1002", "quantity": 3}]})
    ).json()
    order_id = created["orders"][0]["id"]
    fo_id, line_id, remaining = await _fulfillment_order_line(client, order_id)
    assert remaining == 3
    variables = {
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [
                {"fulfillmentOrderId": fo_id, "fulfillmentOrderLineItems": [{"id": line_id, "quantity": 3}]}
            ],
            "trackingInfo": {"company": "UPS", "number": "1Z999", "url": "https://ups.example/1Z999"},
            "notifyCustomer": False,
        }
    }
    _, first = await gql(client, FULFILL, variables)
    assert first["data"]["fulfillmentCreate"]["userErrors"] == []
    assert first["data"]["fulfillmentCreate"]["fulfillment"]["trackingInfo"][0]["number"] == "1Z999"
    _, second = await gql(client, FULFILL, variables)  # the hub fulfilling twice
    assert second["data"]["fulfillmentCreate"]["fulfillment"] is None
    assert second["data"]["fulfillmentCreate"]["userErrors"]

    state = (await (await client.get("/_sandbox/state")).json())["shopify"]
    assert state["fulfillment_requests_per_order"] == {str(order_id): 2}
    (fulfillment,) = state["fulfillments"]
    assert fulfillment["tracking_company"] == "UPS" and fulfillment["tracking_numbers"] == ["1Z999"]
    assert state["orders"][str(order_id)]["fulfillment_status"] == "fulfilled"


async def test_inventory_set_quantities_follows_the_2026_04_rules(sandbox):
    client, _ = sandbox
    _, items = await gql(client, ITEMS, {"query": "sku:CD-1003"})
    node = items["data"]["inventoryItems"]["nodes"][0]
    level = node["inventoryLevels"]["nodes"][0]
    quantity = {"inventoryItemId": node["id"], "locationId": level["location"]["id"], "quantity": 7}
    input_ = {
        "name": "available",
        "reason": "correction",
        "quantities": [{**quantity, "changeFromQuantity": 100}],
    }

    no_key = SET_QTY.replace(" @idempotent(key: $key)", "")
    assert "@idempotent" in (await gql(client, no_key, {"input": input_}))[1]["errors"][0]["message"]
    missing = {**input_, "quantities": [quantity]}
    _, body = await gql(client, SET_QTY, {"input": missing, "key": "k0"})
    assert "changeFromQuantity" in body["errors"][0]["message"]
    stale = {**input_, "quantities": [{**quantity, "changeFromQuantity": 99}]}
    _, body = await gql(client, SET_QTY, {"input": stale, "key": "k1"})
    assert body["data"]["inventorySetQuantities"]["userErrors"][0]["code"] == "CHANGE_FROM_QUANTITY_STALE"
    too_many = {**input_, "quantities": [{**quantity, "changeFromQuantity": None}] * 251}
    _, body = await gql(client, SET_QTY, {"input": too_many, "key": "k2"})
    assert body["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"

    _, first = await gql(client, SET_QTY, {"input": input_, "key": "k3"})
    change = first["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"]["changes"][0]
    assert change == {
        "name": "available",
        "delta": -93,
        "quantityAfterChange": 7,
        "item": change["item"],
        "location": change["location"],
    }
    _, replay = await gql(client, SET_QTY, {"input": input_, "key": "k3"})
    assert replay["data"] == first["data"]
    state = (await (await client.get("/_sandbox/state")).json())["shopify"]
    assert state["inventory"][f"CD-1003@{level['location']['id'].rsplit('/', 1)[1]}"]["available"] == 7
    assert len(state["inventory_changes"]) == 1 and state["idempotent_replays"] == 1


async def test_product_variants_bulk_update_changes_store_prices(sandbox):
    client, sandbox_ = sandbox
    _, found = await gql(
        client,
        "query v($query: String!) { productVariants(first: 5, query: $query) { nodes { id product { id } } } }",
        {"query": "sku:CD-1004"},
    )
    variant = found["data"]["productVariants"]["nodes"][0]
    mutation = """mutation u($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
      productVariantsBulkUpdate(productId: $productId, variants: $variants) { productVariants { id price } userErrors { field message } } }"""
    _, body = await gql(
        client,
        mutation,
        {"productId": variant["product"]["id"], "variants": [{"id": variant["id"], "price": "12.50"}]},
    )
    assert body["data"]["productVariantsBulkUpdate"]["productVariants"][0]["price"] == "12.50"
    state = (await (await client.get("/_sandbox/state")).json())["shopify"]
    assert state["prices"]["CD-1004"] == "12.50" and state["price_changes"][0]["to"] == "12.50"


async def test_product_set_creates_a_product_with_a_new_sku(sandbox):
    client, _ = sandbox
    mutation = "mutation p($input: ProductSetInput!) { productSet(input: $input) { product { id variants(first: 5) { nodes { sku price } } } userErrors { field message } } }"
    input_ = {
        "title": "Zinc Widget",
        "variants": [{"inventoryItem": {"sku": "ZW-1"}, "price": "3.00", "optionValues": []}],
    }
    _, body = await gql(client, mutation, {"input": input_})
    assert body["data"]["productSet"]["product"]["variants"]["nodes"] == [
        {
            "id": body["data"]["productSet"]["product"]["variants"]["nodes"][0]["id"],
            "sku": "ZW-1",
            "price": "3.00",
            "compareAtPrice": None,
            "inventoryItem": body["data"]["productSet"]["product"]["variants"]["nodes"][0]["inventoryItem"],
        }
    ]


async def test_unknown_root_fields_are_graphql_errors(sandbox):
    client, _ = sandbox
    status, body = await gql(client, "query { shopifyPaymentsAccount { id } }")
    assert status == 200 and body["errors"][0]["extensions"]["code"] == "undefinedField"
