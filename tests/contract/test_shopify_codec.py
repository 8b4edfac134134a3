"""Shopify codec against Shopify's own documentation examples, plus Crossdock's edge cases."""

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crossdock.connectors.codec_errors import CodecError
from crossdock.connectors.shopify import codec
from crossdock.domain.money import Money
from crossdock.domain.order_status import OrderStatus
from crossdock.domain.shipments import Package, Shipment, ShipmentLine, ShipmentStatus
from tests.vendor_fixtures import load_vendor_json, vendor_dir

DECODERS = {
    "orders-create.2026-04.json": codec.decode_order,
    "fulfillments-create.2026-04.json": codec.decode_fulfillment,
    "inventory_levels-update.2024-04.json": codec.decode_inventory_level,
}


def sample(name: str) -> dict:
    return load_vendor_json("shopify", name)["response"]


@pytest.fixture
def order_payload() -> dict:
    return copy.deepcopy(sample("orders-create.2026-04.json"))


def test_every_shopify_sample_has_a_decoder():
    folder = vendor_dir() / "shopify"
    if not folder.is_dir():
        pytest.skip(f"no Shopify samples under {folder}")
    assert {p.name for p in folder.glob("*.json")} <= set(DECODERS)


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_every_shopify_sample_decodes(name):
    document = load_vendor_json("shopify", name)
    assert document["name"].replace("/", "-") in name  # the topic the sample documents
    assert DECODERS[name](document["response"]) is not None


def test_order_sample_becomes_a_canonical_order(order_payload):
    order = codec.decode_order(order_payload)
    assert order.ref == "shopify:820982911946154500"
    assert (order.name, order.currency) == ("#9999", "USD")
    assert [line.sku for line in order.lines] == [
        "SKU2006-001", "LENS-PROTECT-2YR", "CASE-LEATHER-PREM", "SKU2006-020", "SKU2006-035",
    ]  # fmt: skip
    assert order.lines[0].unit_price == Money("89.99", "USD")
    assert order.placed_at == datetime(2022, 1, 1, 0, 0, tzinfo=UTC)
    assert order.ship_to is not None and order.ship_to.is_complete()
    assert order.customer is not None and order.customer.email == "john@example.com"
    assert order.shipping[0].amount == Money("10.00", "USD")


def test_order_sample_totals_add_up_with_its_unallocated_discount(order_payload):
    order = codec.decode_order(order_payload)
    assert order.lines_total == Money("414.95", "USD")
    assert order.order_discounts[0].amount == Money("20.00", "USD")
    order.check_totals()
    assert order.expected_total() == Money("404.95", "USD")


def test_cancelled_sample_order_is_cancelled_and_held_for_its_voided_payment(order_payload):
    order = codec.decode_order(order_payload)
    assert order.status is OrderStatus.CANCELLED
    assert order.hold_reason == "payment voided"
    assert "cancelled" in (order.channel_status or "")


def test_open_paid_order_is_new_and_not_held(order_payload):
    order_payload.update(cancelled_at=None, financial_status="paid")
    order = codec.decode_order(order_payload)
    assert order.status is OrderStatus.NEW and not order.is_on_hold


def test_partially_fulfilled_line_decodes_as_partially_shipped(order_payload):
    order_payload["cancelled_at"] = None
    item = order_payload["line_items"][0]
    item.update(quantity=3, current_quantity=3, fulfillable_quantity=1, fulfillment_status="partial")
    order = codec.decode_order(order_payload)
    assert order.lines[0].shipped == 2
    assert order.status is OrderStatus.PARTIALLY_SHIPPED


def test_line_discounts_and_taxes_are_carried(order_payload):
    order_payload["discount_applications"] = [{"title": "Spring", "code": "SPRING"}]
    item = order_payload["line_items"][0]
    item["discount_allocations"] = [{"amount": "9.00", "discount_application_index": 0}]
    item["tax_lines"] = [{"title": "State tax", "price": "4.86", "rate": 0.06}]
    line = codec.decode_order(order_payload).lines[0]
    assert line.discounts[0].code == "SPRING" and line.discount_total == Money("9.00", "USD")
    assert line.tax_lines[0].rate == Decimal("0.06") and line.tax_total == Money("4.86", "USD")


def test_missing_sku_is_kept_for_mapping_not_rejected(order_payload):
    order_payload["line_items"][1]["sku"] = ""
    del order_payload["line_items"][2]["sku"]
    order = codec.decode_order(order_payload)
    assert [line.line_id for line in order.lines_without_sku()] == [
        "789012345678901200",
        "890123456789012400",
    ]


def test_unknown_currency_names_the_field(order_payload):
    order_payload["currency"] = "XXY"
    with pytest.raises(CodecError) as caught:
        codec.decode_order(order_payload)
    assert caught.value.field == "currency"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("id"), "id"),
        (lambda p: p.update(line_items={"not": "a list"}), "line_items"),
        (lambda p: p["line_items"][2].update(quantity="three"), "line_items[2].quantity"),
        (lambda p: p["line_items"][0].update(price=None), "line_items[0].price"),
        (lambda p: p["line_items"][0].update(quantity=-1), "line_items[0].quantity"),
        (lambda p: p.update(created_at="yesterday"), "created_at"),
        (lambda p: p.update(shipping_address="123 Street"), "shipping_address"),
        (lambda p: p.update(financial_status="bartered"), "financial_status"),
        (lambda p: p["line_items"][0].update(current_quantity=5), "line_items[0]"),
    ],
)
def test_malformed_order_raises_codec_error_naming_the_field(order_payload, mutate, field):
    mutate(order_payload)
    with pytest.raises(CodecError) as caught:
        codec.decode_order(order_payload)
    assert caught.value.field.startswith(field)
    assert caught.value.category == "validation.vendor_payload"


@pytest.mark.parametrize("payload", [None, [], "order", 42])
def test_non_object_payload_is_a_codec_error(payload):
    with pytest.raises(CodecError):
        codec.decode_order(payload)


def test_fulfillment_sample_becomes_a_shipment_of_the_order_lines():
    shipment = codec.decode_fulfillment(sample("fulfillments-create.2026-04.json"))
    order = codec.decode_order(sample("orders-create.2026-04.json"))
    assert shipment.order_ref == order.channel_order_id
    assert [line.line_id for line in shipment.lines] == [line.line_id for line in order.lines]
    assert (shipment.carrier, shipment.tracking_number) == ("UPS", "1z827wk74630")
    assert shipment.tracking_url and shipment.tracking_url.startswith("https://www.ups.com/")
    assert shipment.status is ShipmentStatus.PENDING
    assert [p.tracking_number for p in shipment.packages] == ["1z827wk74630"]


def test_fulfillment_with_a_zero_quantity_line_is_malformed():
    payload = copy.deepcopy(sample("fulfillments-create.2026-04.json"))
    payload["line_items"][0]["quantity"] = 0
    with pytest.raises(CodecError) as caught:
        codec.decode_fulfillment(payload)
    assert caught.value.field == "line_items[0]"


def test_inventory_level_sample_with_null_available_means_untracked():
    observation = codec.decode_inventory_level(sample("inventory_levels-update.2024-04.json"))
    assert (observation.item_ref, observation.location_ref) == ("271878346596884000", "24826418")
    assert observation.available is None


def test_inventory_level_with_a_count_is_a_decimal():
    payload = dict(sample("inventory_levels-update.2024-04.json"), available=7)
    assert codec.decode_inventory_level(payload).available == Decimal(7)


def refs_for(shipment: Shipment) -> dict[str, codec.FulfillmentOrderLine]:
    return {
        line.line_id: codec.FulfillmentOrderLine("5001" if i < 3 else "5002", f"{7000 + i}")
        for i, line in enumerate(shipment.lines)
    }


def test_sample_fulfillment_encodes_as_fulfillment_create_variables():
    shipment = codec.decode_fulfillment(sample("fulfillments-create.2026-04.json"))
    variables = codec.encode_fulfillment_create(shipment, refs_for(shipment), notify_customer=True)
    fulfillment = variables["fulfillment"]
    assert fulfillment["notifyCustomer"] is True
    assert fulfillment["trackingInfo"] == {
        "company": "UPS",
        "number": "1z827wk74630",
        "url": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1z827wk74630",
    }
    groups = fulfillment["lineItemsByFulfillmentOrder"]
    assert [g["fulfillmentOrderId"] for g in groups] == [
        "gid://shopify/FulfillmentOrder/5001", "gid://shopify/FulfillmentOrder/5002",
    ]  # fmt: skip
    assert groups[0]["fulfillmentOrderLineItems"][0] == {
        "id": "gid://shopify/FulfillmentOrderLineItem/7000",
        "quantity": 1,
    }
    assert "fulfillmentCreate(fulfillment: $fulfillment" in codec.FULFILLMENT_CREATE_MUTATION


def test_several_tracking_numbers_use_the_list_fields():
    shipment = Shipment(
        "S1", "1", (ShipmentLine("A", 2),), carrier="FedEx",
        packages=(Package("1", "T1", "https://t/1"), Package("2", "T2")),
    )  # fmt: skip
    info = codec.encode_fulfillment_create(shipment, {"A": codec.FulfillmentOrderLine("1", "2")})[
        "fulfillment"
    ]
    assert info["trackingInfo"] == {"company": "FedEx", "numbers": ["T1", "T2"]}


def test_line_on_no_fulfillment_order_is_refused():
    shipment = Shipment("S1", "1", (ShipmentLine("A", 1),))
    with pytest.raises(CodecError) as caught:
        codec.encode_fulfillment_create(shipment, {})
    assert caught.value.field == "shipment.lines[0]"


def test_fractional_quantity_cannot_be_fulfilled_on_shopify():
    shipment = Shipment("S1", "1", (ShipmentLine("A", Decimal("1.5")),))
    with pytest.raises(CodecError):
        codec.encode_fulfillment_create(shipment, {"A": codec.FulfillmentOrderLine("1", "2")})
