"""Price codecs against the vendors' published shapes: the Amazon listings feed schema and its
processing report example (`purchasable_offer.our_price`), the Listings Items API model, and
Shopify's productVariantsBulkUpdate refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crossdock.connectors.amazon import offers
from crossdock.connectors.inventory_publishing import PendingFeed
from crossdock.connectors.price_publishing import PriceUpdate
from crossdock.connectors.shopify import prices as shopify_prices
from tests.vendor_fixtures import load_vendor_json

jsonschema = pytest.importorskip("jsonschema")
MARKETPLACES = ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"]


def updates(count: int) -> list[PriceUpdate]:
    return [PriceUpdate(f"ITEM-{i}", f"SKU-{i}", Decimal("19.99") + i, "USD", f"k{i}") for i in range(count)]


def test_a_price_feed_is_valid_against_amazons_schema_and_reads_back():
    schema = load_vendor_json("amazon", "listings-feed-schema-v2.json")
    feed = offers.encode_price_feed(updates(30), "A1SELLER", MARKETPLACES)
    jsonschema.Draft7Validator(schema).validate(feed)
    message = feed["messages"][0]
    assert (
        message["operationType"] == "PATCH"
        and message["patches"][0]["path"] == "/attributes/purchasable_offer"
    )
    offer = message["patches"][0]["value"]
    assert [o["marketplace_id"] for o in offer] == MARKETPLACES
    assert offer[0]["our_price"] == [{"schedule": [{"value_with_tax": 19.99}]}]
    assert offers.feed_prices(feed)["SKU-29"] == (Decimal("48.99"), "USD")


def test_the_patch_body_matches_the_listings_items_model():
    model = load_vendor_json("amazon", "listingsItems_2021-08-01.json")
    schema = {"$ref": "#/definitions/ListingsItemPatchRequest", "definitions": model["definitions"]}
    body = offers.encode_patch_price(updates(1)[0], MARKETPLACES[:1], "PRODUCT")
    jsonschema.Draft4Validator(schema).validate(body)


def test_the_reports_price_issue_fails_its_message_only():
    report = load_vendor_json("amazon", "listings-feed-processing-report-schema-v2.example.json")
    keys = tuple(f"k{i}" for i in range(1, 6))
    result = offers.decode_price_report(
        report, PendingFeed("1234567890", keys, tuple(f"SKU-{i}" for i in range(1, 6)))
    )
    assert sorted(result.failed) == ["k4", "k5"] and sorted(result.accepted) == ["k1", "k2", "k3"]
    refused = result.failed["k5"]
    assert refused.category == "remote.listing_rejected"
    assert "My-SKU-C" in refused.detail and "purchasable_offer.our_price" in refused.detail
    assert "retry this exception" in refused.hint


@pytest.mark.parametrize("bad", [Decimal("-0.01")])
def test_a_negative_price_is_never_encoded(bad):
    with pytest.raises(ValueError):
        offers.offer_patch(bad, "USD", MARKETPLACES)
    with pytest.raises(ValueError):
        offers.encode_price_feed([], "S", MARKETPLACES)


def test_shopify_bulk_update_variables_and_refusals():
    rows = [(u, f"gid://shopify/ProductVariant/{i}") for i, u in enumerate(updates(3))]
    variables = shopify_prices.encode_bulk_update("gid://shopify/Product/7", rows)
    assert variables == {
        "productId": "gid://shopify/Product/7",
        "variants": [
            {"id": "gid://shopify/ProductVariant/0", "price": "19.99"},
            {"id": "gid://shopify/ProductVariant/1", "price": "20.99"},
            {"id": "gid://shopify/ProductVariant/2", "price": "21.99"},
        ],
    }
    errors = [
        {
            "field": ["variants", "1", "id"],
            "message": "Product variant does not exist",
            "code": "PRODUCT_VARIANT_DOES_NOT_EXIST",
        }
    ]
    refused = shopify_prices.refused_variants(errors, 3)
    assert list(refused) == [1] and refused[1].category == "mapping.channel_item_unknown"
    assert shopify_prices.refused_variants([{"field": ["productId"], "message": "x"}], 3) is None
    with pytest.raises(ValueError):
        shopify_prices.encode_bulk_update("p", rows * 100)
