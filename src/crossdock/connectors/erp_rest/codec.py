"""The generic REST ERP's JSON ⇄ Crossdock's ERP requests and answers. Pure functions.

Amounts and quantities go out as decimal strings and are read back from strings (or
numbers read through their text). The contract has no discount or shipping fields: a
line's discount is folded into its unit price, shipping is not sent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from crossdock.connectors.capabilities import ErpSalesOrder, InvoiceRequest, SalesOrderLine, SalesOrderRequest
from crossdock.connectors.codec_errors import Field
from crossdock.domain.parties import Address
from crossdock.domain.pricing import BasePrice

SYSTEM = "erp"
PRICE_PLACES = Decimal("0.0001")
_ADDRESS_FIELDS = ("name", "company", "line1", "line2", "city", "region", "postal_code", "country", "phone")


def text(value: Decimal) -> str:
    """A decimal as the contract writes it: no exponent, no trailing zeros after the point."""
    out = format(value, "f")
    return out.rstrip("0").rstrip(".") if "." in out else out


def net_unit_price(line: SalesOrderLine) -> Decimal:
    """The unit price after the line's discount (a money amount for the whole line)."""
    if not line.discount:
        return line.unit_price
    net = (line.unit_price * line.quantity - line.discount) / line.quantity
    return net.quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN)


def address(value: Address | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {k: v for k in _ADDRESS_FIELDS if (v := getattr(value, k)) is not None}


def customer_ref(order: SalesOrderRequest) -> str:
    """How a customer the hub creates is found again: by e-mail per channel, else per order."""
    if order.customer_email:
        return f"{order.channel or 'hub'}:{order.customer_email.strip().lower()}"
    return order.external_reference


def customer_body(order: SalesOrderRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"name": order.customer_name, "external_ref": customer_ref(order)}
    if order.customer_email:
        body["email"] = order.customer_email
    if (where := address(order.bill_to or order.ship_to)) is not None:
        body["address"] = where
    return body


def sales_order_body(order: SalesOrderRequest, customer_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_reference": order.external_reference,
        "currency": order.currency,
        "lines": [
            {
                "item": line.item_code,
                "quantity": text(line.quantity),
                "unit_price": text(net_unit_price(line)),
                "external_line_reference": line.line_ref,
            }
            for line in order.lines
        ],
    }
    if customer_id:
        body["customer_id"] = customer_id
    if (ship_to := address(order.ship_to)) is not None:
        body["ship_to"] = ship_to
    return body


def sales_order(payload: Any, path: str = "") -> ErpSalesOrder:
    so = Field(payload, path, SYSTEM).required()
    return ErpSalesOrder(
        id=so["id"].ident(),
        number=so["number"].opt_ident(),
        external_reference=so["external_reference"].text(),
        state=so["status"].text(),
    )


def pick_sales_order(payload: Any) -> ErpSalesOrder | None:
    """The sales order a lookup by reference found: the first one not cancelled, else the first.

    The ERP does not refuse duplicates; should any exist, the oldest live one is the order."""
    found = [sales_order(f.value, f.path) for f in Field(payload, "", SYSTEM)["sales_orders"].items()]
    live = [so for so in found if so.state != "cancelled"]
    return (live or found or [None])[0]


def customer_id(payload: Any) -> str | None:
    customers = Field(payload, "", SYSTEM)["customers"].items()
    return customers[0]["id"].ident() if customers else None


def created_id(payload: Any) -> str:
    return Field(payload, "", SYSTEM).required()["id"].ident()


def prices(payload: Any, currency: str) -> dict[str, Decimal]:
    """Per item, the unit price for a single unit in `currency` (first price list that has one)."""
    found: dict[str, Decimal] = {}
    for row in Field(payload, "", SYSTEM)["prices"].items():
        if row["currency"].text().upper() != currency.upper():
            continue
        minimum = row["min_quantity"].opt_decimal()
        item = row["item"].text()
        if (minimum is None or minimum <= 1) and item not in found:
            found[item] = row["unit_price"].decimal()
    return found


def price_list(payload: Any, currency: str) -> list[BasePrice]:
    """Per item, the single-unit price in `currency` and its `unit_cost` when the ERP gives one
    (the first price list line that has a price; the base price list of pricing)."""
    found: dict[str, BasePrice] = {}
    for row in Field(payload, "", SYSTEM)["prices"].items():
        if row["currency"].text().upper() != currency.upper():
            continue
        minimum = row["min_quantity"].opt_decimal()
        item = row["item"].text()
        if (minimum is None or minimum <= 1) and item not in found:
            cost = row["unit_cost"].opt_decimal()
            found[item] = BasePrice(item, row["unit_price"].decimal(), currency.upper(), cost)
    return list(found.values())


def stock(payload: Any, warehouse: str) -> dict[tuple[str, str], Decimal]:
    return {
        (warehouse, row["item"].text()): row["on_hand"].decimal()
        for row in Field(payload, "", SYSTEM)["stock"].items()
    }


def invoice_body(invoice: InvoiceRequest) -> dict[str, Any]:
    return {
        "sales_order": invoice.sales_order_id,
        "shipment_reference": invoice.shipment_reference,
        "lines": [{"item": item, "quantity": text(qty)} for item, qty in invoice.lines],
    }


def invoice_for_shipment(payload: Any, shipment_reference: str) -> str | None:
    """The id of the oldest invoice of `shipment_reference` in an invoice listing."""
    for row in Field(payload, "", SYSTEM)["invoices"].items():
        if row["shipment_reference"].opt_text() == shipment_reference:
            return row["id"].ident()
    return None
