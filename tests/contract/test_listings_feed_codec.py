"""Amazon listings codec against Amazon's published listings feed schema, its example feed,
the processing report example and the Listings Items API model."""

from __future__ import annotations

import pytest

from crossdock.connectors.amazon import listings
from crossdock.connectors.inventory_publishing import PendingFeed, StockUpdate
from tests.vendor_fixtures import load_vendor_json

jsonschema = pytest.importorskip("jsonschema")


def updates(count: int, quantity: int = 7) -> list[StockUpdate]:
    return [StockUpdate(f"ITEM-{i}", f"SKU-{i}", quantity + i % 3, None, f"k{i}") for i in range(count)]


@pytest.fixture(scope="module")
def feed_schema() -> dict:
    return load_vendor_json("amazon", "listings-feed-schema-v2.json")


@pytest.fixture(scope="module")
def example_feed() -> dict:
    return load_vendor_json("amazon", "listings-feed-schema-v2.example.json")


@pytest.fixture(scope="module")
def example_report() -> dict:
    return load_vendor_json("amazon", "listings-feed-processing-report-schema-v2.example.json")


@pytest.fixture(scope="module")
def listings_model() -> dict:
    return load_vendor_json("amazon", "listingsItems_2021-08-01.json")


def test_generated_feed_is_valid_against_amazons_schema(feed_schema):
    feed = listings.encode_listings_feed(updates(50), "A1SELLER")
    jsonschema.Draft7Validator(feed_schema).validate(feed)
    assert [m["messageId"] for m in feed["messages"]] == list(range(1, 51))


def test_schema_check_rejects_what_amazon_rejects(feed_schema):
    feed = listings.encode_listings_feed(updates(1), "A1SELLER")
    del feed["messages"][0]["productType"]  # PATCH needs a productType
    assert not jsonschema.Draft7Validator(feed_schema).is_valid(feed)


def test_quantity_patch_is_the_one_of_amazons_example(example_feed):
    sample = next(m for m in example_feed["messages"] if m["messageId"] == 4)
    quantity = sample["patches"][0]["value"][0]["quantity"]
    ours = listings.encode_listings_feed([StockUpdate("I", sample["sku"], quantity, None, "k")], "S")
    message = ours["messages"][0]
    assert message["operationType"] == sample["operationType"] == "PATCH"
    assert message["patches"] == sample["patches"]


def test_example_feed_is_read_back(example_feed, feed_schema):
    jsonschema.Draft7Validator(feed_schema).validate(example_feed)
    assert listings.feed_quantities(example_feed) == {"My-SKU-D": 10, "My-SKU-E": 10}


def test_a_feed_holds_at_most_25000_messages(feed_schema):
    assert feed_schema["properties"]["messages"]["maxItems"] == listings.MAX_MESSAGES
    full = listings.encode_listings_feed(updates(listings.MAX_MESSAGES), "S")
    assert len(full["messages"]) == 25_000
    with pytest.raises(ValueError):
        listings.encode_listings_feed(updates(listings.MAX_MESSAGES + 1), "S")
    with pytest.raises(ValueError):
        listings.encode_listings_feed([], "S")


def test_negative_quantity_is_never_encoded():
    with pytest.raises(ValueError):
        listings.availability_patch(-1)


def test_processing_report_errors_fail_their_messages_only(example_report):
    pending = PendingFeed("1234567890", ("k1", "k2", "k3", "k4", "k5"))
    result = listings.decode_processing_report(example_report, pending)
    assert result.accepted == ["k1", "k2", "k3"]
    assert set(result.failed) == {"k4", "k5"}
    four = result.failed["k4"]
    assert four.category == "remote.listing_rejected"
    assert "My-SKU-B" in four.detail and "90220" in four.detail and "batteries_required" in four.detail
    assert "supplier_declared_dg_hz_regulation" in four.detail  # both issues of the message
    assert (
        "99022" in result.failed["k5"].detail and "purchasable_offer.our_price" in result.failed["k5"].detail
    )
    assert listings.report_summary(example_report)["messagesInvalid"] == 2


def test_warnings_do_not_refuse_a_message(example_report):
    report = {**example_report, "issues": [{**example_report["issues"][0], "severity": "WARNING"}]}
    result = listings.decode_processing_report(report, PendingFeed("f", ("a", "b", "c", "d")))
    assert result.accepted == ["a", "b", "c", "d"] and not result.failed


def test_patch_body_matches_the_listings_items_model(listings_model):
    body = listings.encode_patch_listings_item(0)
    schema = {"$ref": "#/definitions/ListingsItemPatchRequest", "definitions": listings_model["definitions"]}
    jsonschema.Draft4Validator(schema).validate(body)
    assert body["patches"][0]["value"] == [{"fulfillment_channel_code": "DEFAULT", "quantity": 0}]


def test_submission_responses_of_the_model(listings_model):
    op = listings_model["paths"]["/listings/2021-08-01/items/{sellerId}/{sku}"]["patch"]
    examples = [ex["response"] for ex in op["responses"]["200"]["x-amzn-api-sandbox"]["static"]]
    update = StockUpdate("I", "VALIDATION_INVALID", 0, 3, "k")
    outcomes = {ex["status"]: listings.decode_submission(ex, update) for ex in examples}
    assert outcomes["ACCEPTED"] is None and outcomes["VALID"] is None
    assert "90000900" in outcomes["INVALID"].detail and "fake_attribute" in outcomes["INVALID"].detail
