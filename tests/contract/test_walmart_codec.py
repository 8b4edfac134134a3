"""Walmart codec against Walmart's published inventory and orders specs (and their examples)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crossdock.connectors.inventory_publishing import PendingFeed, StockUpdate
from crossdock.connectors.walmart import codec
from crossdock.domain.money import Money
from crossdock.domain.order_status import OrderStatus
from tests.vendor_fixtures import load_vendor_json

jsonschema = pytest.importorskip("jsonschema")
JSON = "application/json"


@pytest.fixture(scope="module")
def inventory_spec() -> dict:
    return load_vendor_json("walmart", "inventory.json")


@pytest.fixture(scope="module")
def orders_spec() -> dict:
    return load_vendor_json("walmart", "orders.json")


def bulk_operation(spec: dict) -> dict:
    return spec["paths"]["/v3/feeds"]["post"]


def example_orders(spec: dict) -> list[dict]:
    """Every order in the examples of the orders spec."""
    found = []
    for methods in spec["paths"].values():
        for op in methods.values():
            content = op["responses"]["200"]["content"][JSON]
            samples = (
                [content["example"]]
                if "example" in content
                else [e["value"] for e in content["examples"].values()]
            )
            for sample in samples:
                if "order" in sample:
                    found.append(sample["order"])
                found += (sample.get("list") or {}).get("elements", {}).get("order", [])
    return found


def test_inventory_feed_is_walmarts_json_example(inventory_spec):
    example = bulk_operation(inventory_spec)["requestBody"]["content"]["multipart/form-data"]["examples"][
        "json1"
    ]["value"]
    updates = [StockUpdate("I1", "test1", 10, None, "a"), StockUpdate("I2", "894728", 20, 5, "b")]
    assert codec.encode_inventory_feed(updates) == example


def test_every_feed_item_matches_the_inventory_schema(inventory_spec):
    schema = {"$ref": "#/components/schemas/Inventory", "components": inventory_spec["components"]}
    feed = codec.encode_inventory_feed([StockUpdate("I", f"S{i}", i, None, str(i)) for i in range(5)])
    for item in feed["Inventory"]:
        jsonschema.Draft7Validator(schema).validate(item)
    assert {p["name"]: p["schema"].get("enum") for p in bulk_operation(inventory_spec)["parameters"]}[
        "feedType"
    ] == [
        codec.FEED_TYPE,
        "MP_INVENTORY",
    ]


def test_inventory_feed_refuses_negative_or_empty():
    with pytest.raises(ValueError):
        codec.encode_inventory_feed([StockUpdate("I", "S", -1, None, "k")])
    with pytest.raises(ValueError):
        codec.encode_inventory_feed([])


def test_every_example_order_decodes(orders_spec):
    orders = example_orders(orders_spec)
    assert len(orders) >= 8
    for payload in orders:
        order = codec.decode_order(payload)
        assert order.channel == "walmart" and order.channel_order_id == payload["purchaseOrderId"]
        assert order.lines and order.currency == "USD"


def test_shipped_order_reads_lines_prices_taxes_and_address(orders_spec):
    payload = next(o for o in example_orders(orders_spec) if o["purchaseOrderId"] == "1815367951431")
    order = codec.decode_order({"order": payload})
    (line,) = order.lines
    assert (line.line_id, line.sku, line.ordered, line.shipped) == ("1", "YHY-FN25200B2", 1, 1)
    assert line.unit_price == Money(Decimal("5"), "USD")
    assert line.tax_total == Money(Decimal("0.34"), "USD")
    assert order.status is OrderStatus.SHIPPED
    assert order.ship_to.country == "US" and order.ship_to.postal_code == "63016"
    assert order.ship_to.phone == "3143450432" and order.name == "4372135469400"
    assert order.customer.email.endswith("@relay.walmart.com")
    assert order.placed_at == datetime.fromtimestamp(1623796407, UTC)
    assert order.expected_total() == Money(Decimal("5.34"), "USD")


def test_cancelled_line_is_cancelled(orders_spec):
    payload = next(o for o in example_orders(orders_spec) if o["purchaseOrderId"] == "3796235970012")
    order = codec.decode_order(payload)
    assert order.lines[0].cancelled == 1 and order.status is OrderStatus.CANCELLED
    assert order.channel_status == "Cancelled"


def test_created_orders_need_acknowledgement(orders_spec):
    by_status = {}
    for payload in example_orders(orders_spec):
        words = {
            s["status"]
            for li in payload["orderLines"]["orderLine"]
            for s in li["orderLineStatuses"]["orderLineStatus"]
        }
        by_status.setdefault(frozenset(words), payload)
    assert codec.needs_acknowledgement(by_status[frozenset({"Created"})])
    assert not codec.needs_acknowledgement(by_status[frozenset({"Acknowledged"})])


def test_acknowledge_is_the_specs_operation(orders_spec):
    request = codec.encode_acknowledge("1796277083022")
    op = orders_spec["paths"]["/v3/orders/{purchaseOrderId}/acknowledge"][request.method.lower()]
    assert op["operationId"] == "acknowledgeOrders" and "requestBody" not in op
    assert request.path == "/v3/orders/1796277083022/acknowledge" and request.body is None
    with pytest.raises(ValueError):
        codec.encode_acknowledge(" ")


def feed_page(status: str, details: list[dict] | None = None) -> dict:
    page = {"feedId": "F@1", "feedStatus": status, "itemsReceived": len(details or [])}
    if details is not None:
        page["itemDetails"] = {"itemIngestionStatus": details}
    return page


def test_feed_status_fails_only_the_refused_items():
    pending = PendingFeed("F@1", ("a", "b", "c"), ("S1", "S2", "S3"))
    error = {
        "ingestionError": [
            {"type": "DATA_ERROR", "code": "ERR_EXT_DATA_0101001", "field": "sku", "description": "unknown"}
        ]
    }
    details = [
        {"sku": "S1", "index": 0, "ingestionStatus": "SUCCESS"},
        {"sku": "S2", "index": 1, "ingestionStatus": "DATA_ERROR", "ingestionErrors": error},
        {"sku": "S3", "index": 2, "ingestionStatus": "SUCCESS"},
    ]
    result = codec.decode_feed_status([feed_page("PROCESSED", details)], pending)
    assert result.accepted == ["a", "c"]
    assert "ERR_EXT_DATA_0101001" in result.failed["b"].detail and "S2" in result.failed["b"].detail
    assert codec.decode_feed_status([feed_page("INPROGRESS")], pending) is None
    failed = codec.decode_feed_status([feed_page("ERROR")], pending)
    assert set(failed.failed) == {"a", "b", "c"} and not failed.accepted
