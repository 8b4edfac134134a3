from decimal import Decimal

import pytest

from crossdock.domain import events
from crossdock.domain.errors import LineNotFound, QuantityRuleViolation
from crossdock.domain.money import Money
from crossdock.domain.order_status import OrderStatus
from crossdock.domain.orders import Order, OrderLine


def make_order(*quantities: int) -> Order:
    lines = [
        OrderLine(f"L{i}", f"SKU-{i}", qty, Money("10.00", "USD")) for i, qty in enumerate(quantities, 1)
    ]
    return Order("shopify", "1001", "USD", lines)


def test_status_is_derived_from_line_quantities():
    order = make_order(2, 1)
    assert order.status is OrderStatus.NEW
    order.backorder("L1", 2)
    assert order.status is OrderStatus.BACKORDERED
    order.allocate("L1", 2)
    assert order.status is OrderStatus.PARTIALLY_ALLOCATED
    order.allocate("L2", 1)
    assert order.status is OrderStatus.ALLOCATED
    order.ship("L1", 1)
    assert order.status is OrderStatus.PARTIALLY_SHIPPED
    order.ship("L1", 1)
    order.ship("L2", 1)
    assert order.status is OrderStatus.SHIPPED


def test_status_cannot_be_set():
    order = make_order(1)
    with pytest.raises(AttributeError):
        order.status = OrderStatus.SHIPPED  # type: ignore[misc]


def test_lines_that_contradict_themselves_are_refused():
    with pytest.raises(QuantityRuleViolation):
        OrderLine("L1", "SKU", 1, Money("1", "USD"), shipped=1, cancelled=1)
    with pytest.raises(QuantityRuleViolation):
        OrderLine("L1", "SKU", 2, Money("1", "USD"), returned=1)


def test_cannot_allocate_more_than_is_open():
    order = make_order(2)
    order.allocate("L1", 2)
    with pytest.raises(QuantityRuleViolation):
        order.allocate("L1", 1)


def test_cannot_ship_more_than_is_open():
    order = make_order(2)
    order.ship("L1", 2)
    with pytest.raises(QuantityRuleViolation):
        order.ship("L1", 1)


def test_shipping_consumes_allocation_first():
    order = make_order(3)
    order.allocate("L1", 2)
    order.ship("L1", 1)
    line = order.line("L1")
    assert (line.allocated, line.shipped, line.open) == (1, 1, 2)


def test_allocating_backordered_units_clears_the_backorder():
    order = make_order(2)
    order.backorder("L1", 2)
    order.allocate("L1", 2)
    assert order.line("L1").backordered == 0
    assert order.status is OrderStatus.ALLOCATED


def test_cancelling_takes_unreserved_units_before_allocated_ones():
    order = make_order(5)
    order.allocate("L1", 3)
    order.backorder("L1", 1)
    order.cancel_line("L1", 2, reason="customer")
    line = order.line("L1")
    assert (line.cancelled, line.backordered, line.allocated) == (2, 0, 3)
    cancelled = order.events[-1]
    assert isinstance(cancelled, events.LineCancelled) and cancelled.released == 0


def test_cancelling_allocated_units_releases_them():
    order = make_order(2)
    order.allocate("L1", 2)
    order.cancel_line("L1")
    assert order.line("L1").allocated == 0
    assert order.events[-1] == events.LineCancelled("shopify:1001", "L1", "SKU-1", Decimal(2), "", Decimal(2))
    assert order.status is OrderStatus.CANCELLED


def test_cancelling_the_order_keeps_shipped_units_shipped():
    order = make_order(2, 1)
    order.ship("L1", 1)
    order.cancel("out of stock")
    assert order.status is OrderStatus.SHIPPED
    assert isinstance(order.events[-1], events.OrderCancelled)


def test_cancelling_a_finished_order_is_refused():
    order = make_order(1)
    order.ship("L1", 1)
    with pytest.raises(Exception, match="nothing_to_cancel"):
        order.cancel()


def test_returns_cannot_exceed_shipped_units():
    order = make_order(2)
    order.ship("L1", 1)
    with pytest.raises(QuantityRuleViolation):
        order.record_return("L1", 2)


def test_returns_move_a_finished_order_to_returned():
    order = make_order(2)
    order.ship("L1", 2)
    order.record_return("L1", 1)
    assert order.status is OrderStatus.PARTIALLY_RETURNED
    order.record_return("L1", 1)
    assert order.status is OrderStatus.RETURNED


def test_every_verb_records_a_past_tense_event():
    order = make_order(3)
    order.backorder("L1", 1)
    order.allocate("L1", 3)
    order.release_allocation("L1", 1)
    order.allocate("L1", 1)
    order.ship("L1", 3)
    order.record_return("L1", 1)
    kinds = [type(e).__name__ for e in order.events]
    assert kinds == [
        "LineBackordered", "LineAllocated", "AllocationReleased", "LineAllocated",
        "LineShipped", "OrderShipped", "LineReturned",
    ]  # fmt: skip
    assert all(e.order_ref == "shopify:1001" for e in order.events)


def test_unknown_line_is_a_typed_error():
    with pytest.raises(LineNotFound):
        make_order(1).allocate("nope", 1)


def test_zero_or_negative_quantities_are_refused():
    order = make_order(1)
    with pytest.raises(Exception, match="invalid_quantity"):
        order.allocate("L1", 0)
    with pytest.raises(Exception, match="invalid_quantity"):
        order.ship("L1", -1)


def test_lines_without_sku_are_reported_for_mapping():
    order = Order("amazon", "1", "USD", [OrderLine("L1", "  ", 1, Money("1", "USD"))])
    assert [line.line_id for line in order.lines_without_sku()] == ["L1"]
