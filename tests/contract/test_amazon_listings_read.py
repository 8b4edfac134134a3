"""Reading what Amazon lists (searchListingsItems, Listings Items API 2021-08-01) against
Amazon's published model: its example answers decode, the sandbox answers in its schema, a
valid empty answer is "nothing listed", and any other shape is a typed error naming the field
— never "nothing listed", which would report every SKU asked for as missing."""

from __future__ import annotations

from typing import Any

import pytest

from crossdock.connectors.amazon.listings_read import MAX_IDENTIFIERS, decode_search, next_page
from crossdock.connectors.codec_errors import CodecError
from crossdock.connectors.inventory_reading import ChannelLevel
from tests.vendor_fixtures import load_vendor_json

jsonschema = pytest.importorskip("jsonschema")

SEARCH = "/listings/2021-08-01/items/{sellerId}"


@pytest.fixture(scope="module")
def model() -> dict:
    return load_vendor_json("amazon", "listingsItems_2021-08-01.json")


def search(model: dict) -> dict:
    return model["paths"][SEARCH]["get"]


def answer_schema(model: dict) -> dict:
    """searchListingsItems' 200 schema (`ItemSearchResults`), its `$ref`s resolvable."""
    return {**search(model)["responses"]["200"]["schema"], "definitions": model["definitions"]}


def amazon_examples(model: dict) -> list[dict]:
    """The documented example answer and the answers of Amazon's static sandbox."""
    ok = search(model)["responses"]["200"]
    return [ok["examples"]["application/json"], *(s["response"] for s in ok["x-amzn-api-sandbox"]["static"])]


def answer(*items: Any, **extra: Any) -> dict:
    return {"numberOfResults": len(items), "items": list(items), **extra}


def listing(sku: str = "A", *availability: Any) -> dict:
    return {"sku": sku, "fulfillmentAvailability": list(availability)}


def test_search_is_the_models_operation_and_one_call_takes_a_page(model):
    operation = search(model)
    assert operation["operationId"] == "searchListingsItems"
    limits = {p["name"]: p for p in operation["parameters"]}
    assert limits["identifiers"]["maxItems"] == limits["pageSize"]["maximum"] == MAX_IDENTIFIERS


def test_amazons_example_answers_decode(model):
    examples = amazon_examples(model)
    assert len(examples) == 2
    for example in examples:
        jsonschema.validate(example, answer_schema(model))
        skus = ["GM-ZDPI-9B4E", "HW-ZDPI-9B4E", "TC-ZDPI-9B4E"]
        assert decode_search(example, skus) == {"GM-ZDPI-9B4E": ChannelLevel("GM-ZDPI-9B4E", 100)}
        assert next_page(example) == "xsdflkj324lkjsdlkj3423klkjsdfkljlk2j34klj2l3k4jlksdjl234"


def test_the_sandbox_answers_what_the_reader_reads_in_the_search_schema(model):
    from crossdock.sandbox.app import SANDBOX, create_sandbox_app

    listings = create_sandbox_app()[SANDBOX].amazon_listings
    listings._apply({"messageId": 1, "sku": "CD-1001", "operationType": "PATCH", "productType": "PRODUCT",
                     "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                                  "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}]}]})  # fmt: skip
    sandbox = listings.search_answer(["CD-1001", "NEVER-LISTED"], "ATVPDKIKX0DER")
    jsonschema.validate(sandbox, answer_schema(model))  # summaries carry every required field
    assert decode_search(sandbox, ["CD-1001", "NEVER-LISTED"]) == {"CD-1001": ChannelLevel("CD-1001", 7)}
    assert next_page(sandbox) is None


def test_a_valid_empty_answer_lists_nothing(model):
    empty = answer()
    jsonschema.validate(empty, answer_schema(model))
    assert decode_search(empty, ["A", "B"]) == {} and next_page(empty) is None


def test_only_seller_fulfilled_stock_is_read_and_unasked_skus_are_left_out():
    body = answer(
        listing("A", {"fulfillmentChannelCode": "AMAZON_NA", "quantity": 50},
                {"fulfillmentChannelCode": "DEFAULT", "quantity": 3}),
        listing("B", {"fulfillmentChannelCode": "AMAZON_NA", "quantity": 9}),
        listing("C", {"fulfillmentChannelCode": "DEFAULT"}),
        {"sku": "D"},
        listing("Z", {"fulfillmentChannelCode": "DEFAULT", "quantity": 1}),
    )  # fmt: skip
    levels = decode_search(body, ["A", "B", "C", "D"])
    assert {k: v.quantity for k, v in levels.items()} == {"A": 3, "B": None, "C": None, "D": None}


def test_a_page_amazon_says_continues_elsewhere_may_list_fewer_than_it_counts():
    first = answer(listing("A"), pagination={"nextToken": "n1"}) | {"numberOfResults": 3}
    last = answer(listing("C"), pagination={"previousToken": "p1"}) | {"numberOfResults": 3}
    assert list(decode_search(first, ["A", "C"])) == ["A"] and next_page(first) == "n1"
    assert list(decode_search(last, ["A", "C"])) == ["C"] and next_page(last) is None


DEFAULT_3 = {"fulfillmentChannelCode": "DEFAULT", "quantity": 3}
ENTRY = "items[0].fulfillmentAvailability[0]"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (None, ""),
        ([], ""),
        ("<html>502 Bad Gateway</html>", ""),
        ({}, "items"),
        ({"numberOfResults": 0}, "items"),
        ({"errors": [{"code": "InternalFailure", "message": "x"}]}, "items"),
        ({"numberOfResults": 0, "items": {}}, "items"),
        ({"numberOfResults": 2, "items": []}, "items"),
        ({"numberOfResults": 2, "items": [listing("A", DEFAULT_3)], "pagination": {}}, "items"),
        ({"numberOfResults": -1, "items": []}, "numberOfResults"),
        ({"numberOfResults": "many", "items": []}, "numberOfResults"),
        ({"numberOfResults": 0, "items": [], "pagination": []}, "pagination"),
        ({"numberOfResults": 0, "items": [], "pagination": {"nextToken": 7}}, "pagination.nextToken"),
        (answer("A"), "items[0]"),
        (answer({"fulfillmentAvailability": [DEFAULT_3]}), "items[0].sku"),
        (answer({"sku": 17}), "items[0].sku"),
        (answer({"sku": "A", "fulfillmentAvailability": DEFAULT_3}), "items[0].fulfillmentAvailability"),
        (answer(listing("A", "DEFAULT")), ENTRY),
        (answer(listing("A", {"quantity": 3})), f"{ENTRY}.fulfillmentChannelCode"),
        (answer(listing("A", {**DEFAULT_3, "quantity": -1})), f"{ENTRY}.quantity"),
        (answer(listing("A", {**DEFAULT_3, "quantity": 2.5})), f"{ENTRY}.quantity"),
        (answer(listing("A", {**DEFAULT_3, "quantity": "x"})), f"{ENTRY}.quantity"),
        (answer(listing("A", {**DEFAULT_3, "quantity": True})), f"{ENTRY}.quantity"),
    ],
)
def test_an_answer_of_another_shape_is_a_codec_error(body, field):
    with pytest.raises(CodecError) as raised:
        decode_search(body, ["A"])
    assert raised.value.category == "validation.vendor_payload"
    assert raised.value.field == field
    assert raised.value.context["system"] == "amazon" and "schema" in raised.value.hint
