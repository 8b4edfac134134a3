from decimal import Decimal

import pytest

from crossdock.domain.errors import InvalidShipment, UnknownChannelStatus
from crossdock.domain.money import Money
from crossdock.domain.order_status import OrderStatus
from crossdock.domain.orders import Order, OrderLine
from crossdock.domain.shipments import (
    Package,
    Shipment,
    ShipmentLine,
    WarehouseEvent,
    WarehouseEventKind,
    apply_shipment,
)
from crossdock.domain.status_maps import AMAZON_ORDER_STATUS, SHOPIFY_FULFILLMENT_STATUS, lookup


def make_order() -> Order:
    return Order("amazon", "1", "USD", [OrderLine("A", "SKU-A", 2, Money("1", "USD"))])


def test_shipment_needs_lines_with_positive_quantities():
    with pytest.raises(InvalidShipment):
        Shipment("S1", "1", ())
    with pytest.raises(InvalidShipment):
        ShipmentLine("A", Decimal(0))


def test_package_cannot_hold_lines_the_shipment_does_not_ship():
    with pytest.raises(InvalidShipment):
        Shipment("S1", "1", (ShipmentLine("A", 1),), packages=(Package("1", lines=(ShipmentLine("B", 1),)),))


def test_applying_a_shipment_ships_its_lines():
    order = make_order()
    apply_shipment(order, Shipment("S1", "1", (ShipmentLine("A", 2),)))
    assert order.status is OrderStatus.SHIPPED


def test_applying_a_shipment_that_ships_too_much_changes_nothing():
    order = make_order()
    with pytest.raises(InvalidShipment):
        apply_shipment(order, Shipment("S1", "1", (ShipmentLine("A", 3),)))
    assert order.line("A").shipped == 0 and not order.events


def test_short_pick_reports_its_shortfall():
    event = WarehouseEvent(WarehouseEventKind.SHORT_PICKED, "amazon:1", "A", 1, requested=Decimal(3))
    assert event.shortfall == 2
    with pytest.raises(InvalidShipment):
        WarehouseEvent(WarehouseEventKind.SHORT_PICKED, "amazon:1", "A", 1)


def test_every_amazon_order_status_is_mapped():
    spec_values = {
        "Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled",
        "Unfulfillable", "InvoiceUnconfirmed", "PendingAvailability",
    }  # fmt: skip
    assert set(AMAZON_ORDER_STATUS) == spec_values


def test_amazon_pending_orders_must_not_be_fulfilled():
    assert not AMAZON_ORDER_STATUS["Pending"].fulfillable
    assert not AMAZON_ORDER_STATUS["PendingAvailability"].fulfillable
    assert AMAZON_ORDER_STATUS["Unshipped"].fulfillable


def test_channel_status_detects_a_contradiction_with_the_lines():
    order = make_order()
    assert AMAZON_ORDER_STATUS["Shipped"].contradicts(order.status)
    assert not AMAZON_ORDER_STATUS["Unshipped"].contradicts(order.status)
    order.ship("A", 2)
    assert not SHOPIFY_FULFILLMENT_STATUS["fulfilled"].contradicts(order.status)


def test_unmapped_status_word_is_a_mapping_error():
    with pytest.raises(UnknownChannelStatus) as caught:
        lookup(AMAZON_ORDER_STATUS, "Amazon", "Teleported")
    assert caught.value.code == "mapping.unknown_status"
