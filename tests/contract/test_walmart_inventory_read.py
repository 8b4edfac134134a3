"""Reading a Walmart quantity (getInventory, `GET /v3/inventory?sku=`) against Walmart's
published inventory spec: its example decodes, the sandbox answers in its schema, and any
other shape is a typed error, never a crash."""

from __future__ import annotations

import pytest

from crossdock.connectors.codec_errors import CodecError
from crossdock.connectors.inventory_reading import ChannelLevel
from crossdock.connectors.walmart import codec
from crossdock.connectors.walmart.inventory_read import inventory_path
from tests.vendor_fixtures import load_vendor_json

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def inventory_spec() -> dict:
    return load_vendor_json("walmart", "inventory.json")


def get_inventory(spec: dict) -> dict:
    return spec["paths"]["/v3/inventory"]["get"]


def answer_schema(spec: dict) -> dict:
    """getInventory's 200 schema, its `$ref`s resolvable against the spec."""
    ref = get_inventory(spec)["responses"]["200"]["content"]["application/json"]["schema"]
    return {**ref, "components": spec["components"]}


def test_get_inventory_is_the_specs_operation(inventory_spec):
    operation = get_inventory(inventory_spec)
    assert operation["operationId"] == "getInventory"
    assert {p["name"]: p["in"] for p in operation["parameters"]} == {"sku": "query", "shipNode": "query"}


def test_walmarts_example_answer_decodes(inventory_spec):
    example = get_inventory(inventory_spec)["responses"]["200"]["content"]["application/json"]["example"]
    jsonschema.validate(example, answer_schema(inventory_spec))
    assert codec.decode_inventory(example, "97964_KFTest") == ChannelLevel("97964_KFTest", 10)


def test_sandbox_answer_matches_the_inventory_schema(inventory_spec):
    answer = {"sku": "CD-1001 / blue", "quantity": {"unit": "EACH", "amount": 0}}  # as sandbox/walmart.py
    jsonschema.validate(answer, answer_schema(inventory_spec))
    assert codec.decode_inventory(answer, "CD-1001 / blue") == ChannelLevel("CD-1001 / blue", 0)


def test_a_whole_amount_sent_as_a_float_reads_as_a_count():
    assert (
        codec.decode_inventory({"sku": "A", "quantity": {"unit": "EACH", "amount": 7.0}}, "A").quantity == 7
    )


@pytest.mark.parametrize(
    ("answer", "field"),
    [
        (None, ""),
        ([{"sku": "A"}], ""),
        ("<html>502 Bad Gateway</html>", ""),
        ({"quantity": {"unit": "EACH", "amount": 1}}, "sku"),
        ({"sku": "B", "quantity": {"unit": "EACH", "amount": 1}}, "sku"),
        ({"sku": "A"}, "quantity"),
        ({"sku": "A", "quantity": [1]}, "quantity"),
        ({"sku": "A", "quantity": {"unit": "EACH"}}, "quantity.amount"),
        ({"sku": "A", "quantity": {"unit": "EACH", "amount": -1}}, "quantity.amount"),
        ({"sku": "A", "quantity": {"unit": "EACH", "amount": 2.5}}, "quantity.amount"),
        ({"sku": "A", "quantity": {"unit": "EACH", "amount": "ten"}}, "quantity.amount"),
        ({"sku": "A", "quantity": {"unit": "EACH", "amount": True}}, "quantity.amount"),
        ({"sku": "A", "quantity": {"unit": "PALLET", "amount": 1}}, "quantity.unit"),
    ],
)
def test_an_answer_of_another_shape_is_a_codec_error(answer, field):
    with pytest.raises(CodecError) as raised:
        codec.decode_inventory(answer, "A")
    assert raised.value.category == "validation.vendor_payload"
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("body", "unknown"),
    [
        ({"errors": {"error": [{"code": "CONTENT_NOT_FOUND.GMP_INVENTORY_API", "description": "x"}]}}, True),
        ({"errors": [{"code": "CONTENT_NOT_FOUND.GMP_INVENTORY_API"}]}, True),
        ({"errors": {"error": [{"code": "UNAUTHORIZED.GMP_GATEWAY_API"}]}}, False),
        ({"errors": {"error": "CONTENT_NOT_FOUND"}}, False),
        (None, False),
        ("<html>Not Found</html>", False),
    ],
)
def test_only_walmarts_content_not_found_means_an_unknown_sku(body, unknown):
    assert codec.inventory_not_found(body) is unknown


def test_the_sku_is_encoded_as_walmart_asks():
    assert inventory_path("A B/C+D:E?#&%", None) == "/v3/inventory?sku=A%20B%2FC%2BD%3AE%3F%23%26%25"
    assert inventory_path("CD-1001", "100009") == "/v3/inventory?sku=CD-1001&shipNode=100009"
