"""The sandbox's catalog surfaces: the ERP's item master in pages and its edits, Amazon's
checks of whole listings in feeds, and what Shopify's productSet keeps."""

from __future__ import annotations

from crossdock.sandbox.amazon_catalog import apply_listing

AUTH = {"Authorization": "Bearer erp-sandbox-key"}


async def test_item_master_pages_by_code_and_edits_merge(make_sandbox):
    client, _ = await make_sandbox(catalog_size=5)
    first = await (await client.get("/erp/items", params={"limit": "2"}, headers=AUTH)).json()
    assert [i["code"] for i in first["items"]] == ["CD-1001", "CD-1002"] and first["next_after"] == "CD-1002"
    assert first["items"][0]["brand"] and first["items"][0]["identifiers"]["upc"]
    rest = await (
        await client.get("/erp/items", params={"limit": "3", "after": "CD-1002"}, headers=AUTH)
    ).json()
    assert [i["code"] for i in rest["items"]] == ["CD-1003", "CD-1004", "CD-1005"] and rest[
        "next_after"
    ] is None
    assert (await client.get("/erp/items", params={"limit": "0"}, headers=AUTH)).status == 422
    edited = await (
        await client.patch("/erp/_sandbox/items/CD-1003", json={"brand": None, "color": "red"})
    ).json()
    assert "brand" not in edited and edited["color"] == "red"
    assert (await client.patch("/erp/_sandbox/items/NOPE", json={})).status == 404
    plain = await (await client.get("/erp/items", params={"codes": "CD-1003"}, headers=AUTH)).json()
    assert plain["items"] == [edited] and "next_after" not in plain


def test_amazon_refuses_a_listing_without_a_required_attribute_naming_it():
    catalog: dict = {}
    attrs = {"item_name": [{"value": "Hinge", "marketplace_id": "M"}], "brand": [{"marketplace_id": "M"}]}
    message = {
        "messageId": 3,
        "sku": "S",
        "operationType": "UPDATE",
        "productType": "HOME",
        "attributes": attrs,
    }
    (issue,) = apply_listing(catalog, message, ("item_name", "brand"), set())
    assert issue["code"] == "90220" and issue["message"] == "'[brand]' is required but not supplied."
    assert issue["messageId"] == 3 and catalog == {}
    attrs["brand"] = [{"value": "Acme", "marketplace_id": "M"}]
    assert apply_listing(catalog, message, ("item_name", "brand"), set()) == []
    assert catalog["S"]["productType"] == "HOME"
    partial = {**message, "operationType": "PARTIAL_UPDATE", "attributes": {"color": [{"value": "red"}]}}
    assert apply_listing(catalog, partial, ("item_name", "brand"), set()) == []
    assert set(catalog["S"]["attributes"]) == {"item_name", "brand", "color"}
    assert apply_listing(catalog, message, (), {"S"})[0]["code"] == "90000900"


async def test_product_set_keeps_the_listing_and_refuses_a_new_product_without_title(make_sandbox):
    client, _ = await make_sandbox(catalog_size=2)
    url = "/shopify/admin/api/2026-04/graphql.json"
    headers = {"X-Shopify-Access-Token": "shpat_sandbox"}
    query = "mutation productSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!) { productSet(identifier: $identifier, input: $input) { product { id } userErrors { field message code } } }"  # noqa: E501
    product = {
        "title": "Steel Hinge",
        "vendor": "Acme",
        "variants": [{"inventoryItem": {"sku": "CD-1001", "measurement": {"weight": {"value": 3, "unit": "GRAMS"}}},
                      "barcode": "086000000019"}],
    }  # fmt: skip
    variables = {"identifier": {"handle": "cd-1001"}, "input": product}
    answer = await (
        await client.post(url, json={"query": query, "variables": variables}, headers=headers)
    ).json()
    assert answer["data"]["productSet"]["userErrors"] == []
    new = {"identifier": {"handle": "brand-new"}, "input": {"vendor": "Acme"}}
    refused = await (await client.post(url, json={"query": query, "variables": new}, headers=headers)).json()
    assert refused["data"]["productSet"]["userErrors"][0]["code"] == "BLANK"
    state = await (await client.get("/_sandbox/state")).json()
    kept = state["shopify"]["products"]["cd-1001"]
    assert kept["vendor"] == "Acme" and kept["variants"][0]["barcode"] == "086000000019"
    assert (
        kept["variants"][0]["weight"] == {"value": 3, "unit": "GRAMS"}
        and "brand-new" not in state["shopify"]["products"]
    )
