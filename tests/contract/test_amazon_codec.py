"""Amazon codec against the examples embedded in Amazon's published SP-API models."""

import copy
from datetime import UTC, datetime

import pytest

from crossdock.connectors.amazon import codec
from crossdock.connectors.codec_errors import CodecError
from crossdock.domain.money import Money
from crossdock.domain.observations import OrderChangeKind
from crossdock.domain.order_status import OrderStatus
from crossdock.domain.shipments import Package, Shipment, ShipmentLine
from tests.vendor_fixtures import load_vendor_json

ORDERS = "/orders/v0/orders"
ORDER = "/orders/v0/orders/{orderId}"
ITEMS = "/orders/v0/orders/{orderId}/orderItems"
ADDRESS = "/orders/v0/orders/{orderId}/address"
CONFIRM = "/orders/v0/orders/{orderId}/shipmentConfirmation"


@pytest.fixture(scope="module")
def spec() -> dict:
    return load_vendor_json("amazon", "ordersV0.json")


def sandbox(spec: dict, path: str, method: str, status: str) -> list[dict]:
    """The static sandbox examples Amazon ships with one operation's response."""
    response = spec["paths"][path][method]["responses"][status]
    return response["x-amzn-api-sandbox"]["static"]


def example_orders(spec: dict) -> list[dict]:
    listed = [o for ex in sandbox(spec, ORDERS, "get", "200") for o in ex["response"]["payload"]["Orders"]]
    return listed + [ex["response"]["payload"] for ex in sandbox(spec, ORDER, "get", "200")]


def items_payload(spec: dict) -> dict:
    return sandbox(spec, ITEMS, "get", "200")[0]["response"]["payload"]


def address_payload(spec: dict) -> dict:
    return sandbox(spec, ADDRESS, "get", "200")[0]["response"]["payload"]


def decoded_sample(spec: dict):
    order = next(
        o for o in example_orders(spec) if o["AmazonOrderId"] == items_payload(spec)["AmazonOrderId"]
    )
    return codec.decode_order(
        order, items_payload(spec)["OrderItems"], address_payload(spec)["ShippingAddress"]
    )


def test_every_example_order_decodes(spec):
    orders = example_orders(spec)
    assert len(orders) == 6
    for payload in orders:
        order = codec.decode_order(payload)
        assert order.channel_order_id == payload["AmazonOrderId"]
        assert order.channel_status == payload["OrderStatus"]


def test_order_with_items_and_address_becomes_a_canonical_order(spec):
    order = decoded_sample(spec)
    assert order.ref == "amazon:902-1845936-5435065"
    line = order.lines[0]
    assert (line.line_id, line.sku, line.channel_product_ref) == (
        "05015851154158",
        "NABetaASINB00551Q3CS",
        "B00551Q3CS",
    )
    assert (line.ordered, line.amount, line.tax_total) == (1, Money("10.00", "USD"), Money("1.01", "USD"))
    assert order.ship_to is not None and order.ship_to.is_complete()
    assert order.placed_at == datetime(1970, 1, 19, 3, 58, 30, tzinfo=UTC)
    assert order.status is OrderStatus.NEW and not order.is_on_hold


def test_example_order_total_equals_items_plus_tax(spec):
    order = decoded_sample(spec)
    order.check_totals()
    assert order.expected_total() == Money("11.01", "USD")


def test_pending_example_has_no_total_and_is_held(spec):
    pending = next(o for o in example_orders(spec) if o["OrderStatus"] == "Pending")
    order = codec.decode_order(pending)
    assert order.stated_total is None and order.currency == "USD"
    assert order.hold_reason == "payment not authorized yet"


def test_eu_marketplace_prices_include_vat(spec):
    iba = next(o for o in example_orders(spec) if o.get("IsIBA"))
    order = codec.decode_order(iba)
    assert order.currency == "EUR" and order.taxes_included


def test_item_price_is_extended_so_unit_price_divides_by_quantity(spec):
    items = copy.deepcopy(items_payload(spec)["OrderItems"])
    items[0].update(QuantityOrdered=4, ItemPrice={"CurrencyCode": "USD", "Amount": "10.00"})
    order = codec.decode_order(example_orders(spec)[0], items)
    assert order.lines[0].unit_price == Money("2.50", "USD")
    assert order.lines_total == Money("10.00", "USD")


def test_promotions_and_shipping_are_carried_and_totals_still_add_up(spec):
    items = copy.deepcopy(items_payload(spec)["OrderItems"])
    usd = lambda amount: {"CurrencyCode": "USD", "Amount": amount}  # noqa: E731
    items[0].update(
        PromotionDiscount=usd("1.00"), PromotionDiscountTax=usd("0.10"),
        ShippingPrice=usd("4.99"), ShippingTax=usd("0.50"), ShippingDiscount=usd("4.99"), ShippingDiscountTax=usd("0.50"),
    )  # fmt: skip
    order_payload = dict(example_orders(spec)[0], OrderTotal=usd("9.91"))
    order = codec.decode_order(order_payload, items)
    order.check_totals()
    assert order.shipping_total == Money("0", "USD")


def test_cancelled_order_lines_are_cancelled(spec):
    order_payload = dict(example_orders(spec)[0], OrderStatus="Canceled")
    order = codec.decode_order(order_payload, items_payload(spec)["OrderItems"])
    assert order.status is OrderStatus.CANCELLED and not order.is_on_hold


def test_missing_seller_sku_is_kept_for_mapping(spec):
    items = copy.deepcopy(items_payload(spec)["OrderItems"])
    del items[0]["SellerSKU"]
    order = codec.decode_order(example_orders(spec)[0], items)
    assert order.lines_without_sku() == order.lines


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda o, i: o.update(OrderTotal={"CurrencyCode": "ZZZ", "Amount": "1"}), "OrderTotal.CurrencyCode"),
        (lambda o, i: o.update(OrderStatus="Teleported"), "OrderStatus"),
        (lambda o, i: o.pop("AmazonOrderId"), "AmazonOrderId"),
        (lambda o, i: o.update(PurchaseDate="19/01/1970"), "PurchaseDate"),
        (lambda o, i: i[0].update(QuantityOrdered="two"), "OrderItems[0].QuantityOrdered"),
        (
            lambda o, i: i[0].update(ItemPrice={"CurrencyCode": "EUR", "Amount": "10.00"}),
            "OrderItems[0].ItemPrice",
        ),
        (
            lambda o, i: i[0].update(ItemTax={"CurrencyCode": "USD", "Amount": "a lot"}),
            "OrderItems[0].ItemTax.Amount",
        ),
        (lambda o, i: i[0].update(QuantityShipped=2), "OrderItems[0]"),
    ],
)
def test_malformed_order_raises_codec_error_naming_the_field(spec, mutate, field):
    order_payload = copy.deepcopy(example_orders(spec)[0])
    items = copy.deepcopy(items_payload(spec)["OrderItems"])
    mutate(order_payload, items)
    with pytest.raises(CodecError) as caught:
        codec.decode_order(order_payload, items)
    assert caught.value.field.startswith(field)


# -- ORDER_CHANGE -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def notification_schema() -> dict:
    return load_vendor_json("amazon", "OrderChangeNotification.json")


def notification_examples(schema: dict) -> list[dict]:
    """Whole-envelope examples, plus each Payload example wrapped in the first envelope."""
    envelopes = list(schema["examples"])
    for payload in schema["properties"]["Payload"]["examples"]:
        envelopes.append(dict(envelopes[0], Payload=payload))
    change = schema["properties"]["Payload"]["properties"]["OrderChangeNotification"]
    for body in change["examples"]:
        envelopes.append(dict(envelopes[0], Payload={"OrderChangeNotification": body}))
    return envelopes


def test_every_order_change_example_decodes(notification_schema):
    for envelope in notification_examples(notification_schema):
        change = codec.decode_order_change(envelope)
        assert change.channel_order_id == "903-8868176-2219830"
        assert change.kind is OrderChangeKind.CANCELLATION_REQUESTED and change.cancellation_requested
        assert change.implied_status is OrderStatus.NEW
        assert change.items[0].sku == "SellerSKUID1" and change.items[0].quantity == 10
        assert change.notification_id == "d0e9e693-c3ad-4373-979f-ed4ec98dd746"


def test_status_change_notification_is_a_status_change(notification_schema):
    envelope = copy.deepcopy(notification_schema["examples"][0])
    body = envelope["Payload"]["OrderChangeNotification"]
    body.update(
        OrderChangeType="OrderStatusChange",
        OrderChangeTrigger={"TimeOfOrderChange": None, "ChangeReason": "Shipped"},
    )
    body["Summary"].update(OrderStatus="Shipped")
    body["Summary"]["OrderItems"][0].update(IsBuyerRequestedCancel=False, SupplySourceId=None)
    change = codec.decode_order_change(envelope)
    assert change.kind is OrderChangeKind.STATUS_CHANGED and change.implied_status is OrderStatus.SHIPPED
    assert change.changed_at is None


def test_other_notification_types_are_refused(notification_schema):
    envelope = dict(notification_schema["examples"][0], NotificationType="ANY_OFFER_CHANGED")
    with pytest.raises(CodecError) as caught:
        codec.decode_order_change(envelope)
    assert caught.value.field == "NotificationType"


def test_notification_without_summary_names_the_field(notification_schema):
    envelope = copy.deepcopy(notification_schema["examples"][0])
    del envelope["Payload"]["OrderChangeNotification"]["Summary"]
    with pytest.raises(CodecError) as caught:
        codec.decode_order_change(envelope)
    assert caught.value.field == "Payload.OrderChangeNotification.Summary"


# -- confirmShipment ------------------------------------------------------------------------


def check_schema(spec: dict, schema: dict, value: object, path: str = "body") -> None:
    """Just enough JSON-Schema (refs, required, types) to hold a request to Amazon's model."""
    if "$ref" in schema:
        schema = spec["definitions"][schema["$ref"].rsplit("/", 1)[1]]
    kinds = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool}
    if "type" in schema:
        assert isinstance(value, kinds[schema["type"]]), f"{path} should be {schema['type']}"
    if isinstance(value, dict):
        missing = set(schema.get("required", ())) - set(value)
        assert not missing, f"{path} lacks {missing}"
        for key, item in value.items():
            assert key in schema["properties"], f"{path}.{key} is not in the model"
            check_schema(spec, schema["properties"][key], item, f"{path}.{key}")
    if isinstance(value, list):
        for i, item in enumerate(value):
            check_schema(spec, schema["items"], item, f"{path}[{i}]")


def confirm_request_schema(spec: dict) -> dict:
    parameters = spec["paths"][CONFIRM]["post"]["parameters"]
    return next(p for p in parameters if p["in"] == "body")["schema"]


def test_sandbox_confirm_shipment_request_is_reproduced(spec):
    expected = sandbox(spec, CONFIRM, "post", "204")[0]["request"]["parameters"]["body"]["value"]
    shipment = Shipment(
        "S1", "902-1106328-1059050", (ShipmentLine("79039765272157", 1),),
        carrier="FedEx", service="FedEx Ground", tracking_number="112345678",
        shipped_at=datetime(2022, 2, 11, 1, 0, tzinfo=UTC),
    )  # fmt: skip
    [body] = codec.encode_confirm_shipment(
        shipment,
        marketplace_id="ATVPDKIKX0DER",
        ship_from_supply_source_id="057d3fcc-b750-419f-bbcd-4d340c60c430",
    )
    check_schema(spec, confirm_request_schema(spec), body)
    wanted = copy.deepcopy(expected)
    for item in wanted["packageDetail"]["orderItems"]:
        item.pop("transparencyCodes")  # Crossdock does not track transparency codes yet
    wanted["packageDetail"]["shipDate"] = "2022-02-11T01:00:00Z"
    assert body == wanted


def test_unknown_carrier_is_sent_as_other_with_its_name(spec):
    shipment = Shipment(
        "S1", "1", (ShipmentLine("A", 2), ShipmentLine("B", 1)), carrier="Bob's Trucks",
        shipped_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        packages=(Package("P-1", "T1", lines=(ShipmentLine("A", 2),)), Package("7", "T2", lines=(ShipmentLine("B", 1),))),
    )  # fmt: skip
    bodies = codec.encode_confirm_shipment(shipment, marketplace_id="ATVPDKIKX0DER")
    for body in bodies:
        check_schema(spec, confirm_request_schema(spec), body)
    details = [b["packageDetail"] for b in bodies]
    assert [(d["packageReferenceId"], d["trackingNumber"]) for d in details] == [("1", "T1"), ("7", "T2")]
    assert details[0]["carrierCode"] == "Other" and details[0]["carrierName"] == "Bob's Trucks"
    assert details[1]["orderItems"] == [{"orderItemId": "B", "quantity": 1}]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"shipped_at": None}, "shipment.shipped_at"),
        ({"carrier": None}, "shipment.carrier"),
        ({"tracking_number": None}, "shipment.packages[0].tracking_number"),
        ({"packages": (Package("1", "T1"), Package("2", "T2"))}, "shipment.packages[0].lines"),
        ({"lines": (ShipmentLine("A", "0.5"),)}, "shipment.packages[0].lines"),
    ],
)
def test_incomplete_shipment_cannot_be_confirmed(change, field):
    values = dict(
        shipment_id="S1", order_ref="1", lines=(ShipmentLine("A", 1),), carrier="UPS",
        tracking_number="1Z", shipped_at=datetime(2024, 5, 1, tzinfo=UTC),
    )  # fmt: skip
    shipment = Shipment(**{**values, **change})
    with pytest.raises(CodecError) as caught:
        codec.encode_confirm_shipment(shipment, marketplace_id="ATVPDKIKX0DER")
    assert caught.value.field == field
