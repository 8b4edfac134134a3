"""ERP shipment lines back onto the order's lines, in the channel's units."""

from __future__ import annotations

from decimal import Decimal

from crossdock.connectors.capabilities import SalesOrderLine, SalesOrderRequest
from crossdock.connectors.erp_fulfilment import ErpShipment
from crossdock.domain.money import Money
from crossdock.domain.order_lines import OrderLine
from crossdock.domain.orders import Order
from crossdock.flows.orders.erp_fulfilment import _ship

D = Decimal


def _order() -> tuple[Order, SalesOrderRequest]:
    order = Order(
        "shopify",
        "1",
        "USD",
        lines=[
            OrderLine("L1", "CASE-A", D(2), Money(D(120), "USD")),  # 2 cases of 12 EA
            OrderLine("L2", "EACH-A", D(5), Money(D(10), "USD")),  # the same item, by the each
            OrderLine("L3", "B", D(1), Money(D(3), "USD")),
        ],
    )
    request = SalesOrderRequest(
        "shopify:1",
        "USD",
        (
            SalesOrderLine("L1", "A", D(24), "EA", D(10)),
            SalesOrderLine("L2", "A", D(5), "EA", D(10)),
            SalesOrderLine("L3", "B", D(1), "EA", D(3)),
        ),
        None,
        "Ada",
        None,
        None,
    )
    return order, request


def test_erp_units_become_channel_units_and_fill_lines_of_one_item_in_order():
    order, request = _order()
    shipped = _ship(order, request, ErpShipment("OUT-1", "done", None, None, (("A", D(26)),)))
    assert shipped == {"L1": (D(2), D(24), "CASE-A"), "L2": (D(2), D(2), "EACH-A")}
    assert [line.open for line in order.lines] == [D(0), D(3), D(1)]
    # The rest of it later; more than is open is not shipped twice.
    shipped = _ship(order, request, ErpShipment("OUT-2", "done", None, None, (("A", D(9)), ("B", D(1)))))
    assert shipped == {"L2": (D(3), D(3), "EACH-A"), "L3": (D(1), D(1), "B")}
    assert all(line.open == 0 for line in order.lines)
    assert _ship(order, request, ErpShipment("OUT-3", "done", None, None, (("A", D(1)),))) == {}


def test_a_pack_shipped_in_full_by_the_each_is_exactly_shipped():
    order = Order("shopify", "2", "USD", lines=[OrderLine("L1", "PK3-A", D(1), Money(D(30), "USD"))])
    request = SalesOrderRequest(
        "shopify:2", "USD", (SalesOrderLine("L1", "A", D(3), "EA", D(10)),), None, "Ada", None, None
    )
    shipped = _ship(order, request, ErpShipment("OUT-1", "done", None, None, (("A", D(3)),)))
    assert shipped == {"L1": (D(1), D(3), "PK3-A")}
    assert order.line("L1").open == 0
