"""Walmart order listings, shipping updates and cancellations against Walmart's published
Orders API spec: its schemas and its examples."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crossdock.connectors.codec_errors import CodecError
from crossdock.connectors.walmart import codec, order_codec
from crossdock.domain.shipments import Package, Shipment, ShipmentLine
from tests.contract.test_walmart_codec import example_orders
from tests.vendor_fixtures import load_vendor_json

jsonschema = pytest.importorskip("jsonschema")
JSON = "application/json"


@pytest.fixture(scope="module")
def spec() -> dict:
    return load_vendor_json("walmart", "orders.json")


def validator(spec: dict, name: str):
    return jsonschema.Draft7Validator({"$ref": f"#/components/schemas/{name}", "components": spec["components"]})


def check_shipping_schema(spec: dict, body: dict) -> None:
    """`OrderShipment` as the spec defines its parts (its `orderLines` points at the refund
    lines' schema by mistake): shipping lines, each status a shipping line status."""
    lines = body["orderShipment"]["orderLines"]
    validator(spec, "ShippingLinesType").validate(lines)
    for line in lines["orderLine"]:
        for status in line["orderLineStatuses"]["orderLineStatus"]:
            validator(spec, "ShipLineStatusType").validate(status)


def request_example(spec: dict, path: str) -> dict:
    return spec["paths"][path]["post"]["requestBody"]["content"][JSON]["example"]


def listing_example(spec: dict) -> dict:
    content = spec["paths"]["/v3/orders"]["get"]["responses"]["200"]["content"][JSON]
    return content["example"] if "example" in content else next(iter(content["examples"].values()))["value"]


def shipped_order(spec: dict) -> dict:
    return next(o for o in example_orders(spec) if o["purchaseOrderId"] == "1815367951431")


def shipment(quantities: dict[str, int], tracking: str | None = "435678956435467", **fields) -> Shipment:
    values = {
        "shipment_id": "S1",
        "order_ref": "1815367951431",
        "lines": tuple(ShipmentLine(line, Decimal(qty)) for line, qty in quantities.items()),
        "carrier": "USPS",
        "service": "Value",
        "tracking_number": tracking,
        "shipped_at": datetime.fromtimestamp(1623835855, UTC),
    }
    return Shipment(**(values | fields))


def test_listing_reads_the_orders_and_the_next_page_of_the_specs_example(spec):
    example = listing_example(spec)
    page = order_codec.decode_listing(example)
    assert len(page.orders) == len(example["list"]["elements"]["order"]) >= 8
    assert page.next_cursor == example["list"]["meta"]["nextCursor"]
    assert page.next_cursor.startswith("?") and "hasMoreElements=true" in page.next_cursor
    assert [codec.decode_order(o).channel_order_id for o in page.orders][0] == "1796277083022"
    last = copy.deepcopy(example)
    del last["list"]["meta"]["nextCursor"]
    assert order_codec.decode_listing(last).next_cursor is None


def test_an_orders_version_changes_with_its_line_statuses_and_names_its_latest_change(spec):
    created = next(o for o in example_orders(spec) if codec.needs_acknowledgement(o))
    acknowledged = copy.deepcopy(created)
    line = acknowledged["orderLines"]["orderLine"][0]
    line["orderLineStatuses"]["orderLineStatus"][0]["status"] = "Acknowledged"
    assert order_codec.snapshot_version(created) == order_codec.snapshot_version(copy.deepcopy(created))
    assert order_codec.snapshot_version(created) != order_codec.snapshot_version(acknowledged)
    latest = max(li["statusDate"] for li in created["orderLines"]["orderLine"])
    assert order_codec.updated_at(created) == datetime.fromtimestamp(latest / 1000, UTC).isoformat()
    line["statusDate"] = latest + 1500
    assert order_codec.updated_at({"order": acknowledged}) > order_codec.updated_at(created)


def test_shipping_update_matches_the_schema_and_the_specs_example(spec):
    body = order_codec.encode_shipment("1815367951431", shipment({"1": 1}))
    check_shipping_schema(spec, body)
    example = request_example(spec, "/v3/orders/{purchaseOrderId}/shipping")["orderShipment"]["orderLines"]
    ours = body["orderShipment"]["orderLines"]["orderLine"][0]
    theirs = example["orderLine"][0]
    assert set(ours) <= set(theirs) and ours["lineNumber"] == "1"
    (status,) = ours["orderLineStatuses"]["orderLineStatus"]
    assert status["status"] == "Shipped" and status["statusQuantity"] == {"unitOfMeasurement": "EACH", "amount": "1"}
    assert set(status["trackingInfo"]) <= set(theirs["orderLineStatuses"]["orderLineStatus"][0]["trackingInfo"])
    assert status["trackingInfo"] == {
        "shipDateTime": 1623835855000,
        "carrierName": {"carrier": "USPS"},
        "methodCode": "Value",
        "trackingNumber": "435678956435467",
    }


def test_packages_ship_a_line_in_parts_each_under_its_own_tracking_number(spec):
    lines = (ShipmentLine("1", Decimal(2)), ShipmentLine("2", Decimal(1)))
    packages = (
        Package("P1", "TRK-1", lines=(ShipmentLine("1", Decimal(1)), ShipmentLine("2", Decimal(1)))),
        Package("P2", "TRK-2", lines=(ShipmentLine("1", Decimal(1)),)),
    )
    body = order_codec.encode_shipment("PO1", shipment({}, tracking=None, lines=lines, packages=packages,
                                                       carrier="fedex", service="two day"))  # fmt: skip
    check_shipping_schema(spec, body)
    by_line = {li["lineNumber"]: li["orderLineStatuses"]["orderLineStatus"] for li in
               body["orderShipment"]["orderLines"]["orderLine"]}  # fmt: skip
    assert [s["trackingInfo"]["trackingNumber"] for s in by_line["1"]] == ["TRK-1", "TRK-2"]
    assert [s["trackingInfo"]["trackingNumber"] for s in by_line["2"]] == ["TRK-1"]
    assert by_line["1"][0]["trackingInfo"]["carrierName"] == {"carrier": "FedEx"}
    assert by_line["1"][0]["trackingInfo"]["methodCode"] == "Standard"  # not one of Walmart's methods


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"tracking_number": None}, "tracking_number"),
        ({"shipped_at": None}, "shipped_at"),
        ({"carrier": None}, "carrier"),
        ({"carrier": "Pony Express"}, "tracking_url"),  # a carrier Walmart does not name needs a URL
        ({"lines": (ShipmentLine("1", Decimal("1.5")),)}, "lines"),
    ],
)
def test_a_shipment_walmart_cannot_take_is_a_codec_error_naming_the_field(fields, field):
    with pytest.raises(CodecError) as caught:
        order_codec.encode_shipment("PO1", shipment({"1": 1}, **fields))
    assert field in caught.value.field


def test_other_carrier_goes_with_its_tracking_url(spec):
    body = order_codec.encode_shipment("PO1", shipment({"1": 1}, carrier="USPS Marketplace",
                                                       tracking_url="https://track.example/1"))  # fmt: skip
    check_shipping_schema(spec, body)
    info = body["orderShipment"]["orderLines"]["orderLine"][0]["orderLineStatuses"]["orderLineStatus"][0]
    assert info["trackingInfo"]["carrierName"] == {"otherCarrier": "USPS Marketplace"}
    assert info["trackingInfo"]["trackingURL"] == "https://track.example/1"


def test_a_shipped_order_shows_the_shipment_made_under_its_tracking_number(spec):
    order = shipped_order(spec)
    assert order_codec.shows_shipment(order, shipment({"1": 1}))
    assert order_codec.shows_shipment({"order": order}, shipment({"1": 1}))
    assert not order_codec.shows_shipment(order, shipment({"1": 1}, tracking="ANOTHER"))
    assert not order_codec.shows_shipment(order, shipment({"1": 2}))  # more units than Walmart shows


def test_cancellation_matches_the_schema_and_the_specs_example(spec):
    body = order_codec.encode_cancellation({"1": Decimal(1)}, "cancelled on the channel by the customer")
    validator(spec, "OrderCancellation").validate(body["orderCancellation"])
    example = request_example(spec, "/v3/orders/{purchaseOrderId}/cancel")
    ours = body["orderCancellation"]["orderLines"]["orderLine"][0]["orderLineStatuses"]["orderLineStatus"][0]
    theirs = example["orderCancellation"]["orderLines"]["orderLine"][0]["orderLineStatuses"]["orderLineStatus"][0]
    assert set(ours) == set(theirs) and ours["cancellationReason"] == theirs["cancellationReason"]
    assert ours["statusQuantity"]["amount"] == "1"
    short = order_codec.encode_cancellation({"2": Decimal(3)}, "short pick")
    status = short["orderCancellation"]["orderLines"]["orderLine"][0]["orderLineStatuses"]["orderLineStatus"][0]
    assert status["cancellationReason"] == "SELLER_CANCEL_OUT_OF_STOCK"
    with pytest.raises(ValueError):
        order_codec.encode_cancellation({}, "short pick")
