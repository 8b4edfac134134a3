"""Canonical records survive a trip through JSON unchanged."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.vendor_fixtures import load_vendor_json

from crossdock.connectors.amazon import codec as amazon
from crossdock.connectors.shopify import codec as shopify
from crossdock.domain.orders import Order
from crossdock.domain.serde import from_plain, to_plain
from crossdock.domain.shipments import Shipment


def _roundtrip(cls, value):
    return from_plain(cls, json.loads(json.dumps(to_plain(value))))


def test_shopify_order_roundtrips_with_quantities_and_money_exact():
    order = shopify.decode_order(load_vendor_json("shopify", "orders-create.2026-04.json")["response"])
    order.lines[0].shipped = Decimal("0")
    again = _roundtrip(Order, order)
    assert to_plain(again) == to_plain(order)
    assert again.status == order.status
    assert again.expected_total() == order.expected_total()


def test_shipment_roundtrips():
    shipment = shopify.decode_fulfillment(load_vendor_json("shopify", "fulfillments-create.2026-04.json")["response"])
    assert _roundtrip(Shipment, shipment) == shipment


def test_amazon_order_roundtrips():
    order = amazon.decode_order(
        {"AmazonOrderId": "111-1", "PurchaseDate": "2026-01-01T00:00:00Z", "LastUpdateDate": "2026-01-01T00:00:00Z",
         "OrderStatus": "Unshipped", "OrderTotal": {"CurrencyCode": "USD", "Amount": "10.00"}},
        [{"ASIN": "B0", "SellerSKU": "SKU-1", "OrderItemId": "1", "QuantityOrdered": 1,
          "ItemPrice": {"CurrencyCode": "USD", "Amount": "10.00"}}],
    )
    assert to_plain(_roundtrip(Order, order)) == to_plain(order)
