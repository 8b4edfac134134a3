"""An order acknowledged to its channel keeps when, once, through storage."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from crossdock.domain import events
from crossdock.domain.money import Money
from crossdock.domain.order_lines import OrderLine
from crossdock.domain.orders import Order
from crossdock.domain.serde import from_plain, to_plain


def order() -> Order:
    price = Money(Decimal("5"), "USD")
    return Order("walmart", "1796277083022", "USD", [OrderLine("1", "CD-1001", Decimal(2), price, price * 2)])


def test_the_first_acknowledgement_counts_and_survives_storage():
    o = order()
    first, later = datetime(2026, 5, 1, 10, 0, tzinfo=UTC), datetime(2026, 5, 1, 11, 0, tzinfo=UTC)
    o.acknowledge(first)
    o.acknowledge(later)
    assert o.acknowledged_at == first
    assert [type(e) for e in o.events] == [events.OrderAcknowledged]
    assert from_plain(Order, to_plain(o)).acknowledged_at == first


def test_an_order_stored_before_acknowledgements_existed_reads_as_not_acknowledged():
    plain = to_plain(order())
    del plain["acknowledged_at"]
    assert from_plain(Order, plain).acknowledged_at is None
