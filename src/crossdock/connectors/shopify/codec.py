"""Shopify payloads ⇄ Crossdock's canonical models. Pure functions, no I/O.

Inbound: the order webhook body (orders/create, orders/updated and orders/cancelled
share it), fulfillments/create and inventory_levels/update. Outbound: the variables
of the Admin GraphQL `fulfillmentCreate` mutation (API 2026-04).

Identifiers are kept as the decimal text of Shopify's numeric `id` fields, so ids
from different webhooks (an order's line items, a fulfillment's line items) match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crossdock.connectors.codec_errors import CodecError, Field, build, money
from crossdock.domain.money import Money, normalize_currency
from crossdock.domain.observations import StockObservation
from crossdock.domain.order_lines import Discount, OrderLine, ShippingCharge, TaxLine
from crossdock.domain.orders import Order
from crossdock.domain.parties import Address, Customer
from crossdock.domain.shipments import Package, Shipment, ShipmentLine, ShipmentStatus
from crossdock.domain.status_maps import (
    SHOPIFY_FINANCIAL_STATUS,
    SHOPIFY_FULFILLMENT_OBJECT_STATUS,
    UNFULFILLABLE_PAYMENT,
    lookup,
)

CHANNEL = "shopify"
MAX_INPUT_ARRAY = 250  # Admin GraphQL rejects array inputs longer than this

FULFILLMENT_CREATE_MUTATION = """
mutation fulfillmentCreate($fulfillment: FulfillmentInput!, $message: String) {
  fulfillmentCreate(fulfillment: $fulfillment, message: $message) {
    fulfillment { id status trackingInfo { company number url } }
    userErrors { field message }
  }
}
""".strip()


def _root(payload: Any) -> Field:
    return Field(payload, "", CHANNEL).required()


# -- parties ------------------------------------------------------------------------------


def decode_address(node: Field) -> Address | None:
    if not node.present:
        return None
    full_name = node["name"].opt_text()
    if full_name is None:
        parts = (node["first_name"].opt_text(), node["last_name"].opt_text())
        full_name = " ".join(p for p in parts if p) or None
    return Address(
        name=full_name,
        line1=node["address1"].opt_text(),
        line2=node["address2"].opt_text(),
        city=node["city"].opt_text(),
        region=node["province_code"].opt_text() or node["province"].opt_text(),
        postal_code=node["zip"].opt_text(),
        country=node["country_code"].opt_text(),
        company=node["company"].opt_text(),
        phone=node["phone"].opt_text(),
    )


def _decode_customer(node: Field, order: Field) -> Customer | None:
    if not node.present:
        return None
    parts = (node["first_name"].opt_text(), node["last_name"].opt_text())
    return Customer(
        customer_ref=node["id"].opt_ident(),
        name=" ".join(p for p in parts if p) or None,
        email=node["email"].opt_text() or order["email"].opt_text(),
        phone=node["phone"].opt_text(),
        default_address=decode_address(node["default_address"]),
    )


# -- money around lines -----------------------------------------------------------------


def _tax_lines(node: Field, currency: str) -> tuple[TaxLine, ...]:
    return tuple(
        TaxLine(t["title"].opt_text() or "tax", money(t["price"], currency), t["rate"].opt_decimal())
        for t in node.items()
    )


def _discounts(node: Field, applications: list[Field], currency: str) -> tuple[Discount, ...]:
    result = []
    for allocation in node.items():
        index = allocation["discount_application_index"].opt_decimal()
        app = (
            applications[int(index)] if index is not None and 0 <= index < len(applications) else Field(None)
        )
        title = app["title"].opt_text() or app["description"].opt_text() or "discount"
        result.append(Discount(money(allocation["amount"], currency), title, app["code"].opt_text()))
    return tuple(result)


def _shipping(order: Field, currency: str, apps: list[Field]) -> tuple[ShippingCharge, ...]:
    return tuple(
        ShippingCharge(
            title=s["title"].opt_text() or "shipping",
            amount=money(s["price"], currency),
            code=s["code"].opt_text(),
            discounts=_discounts(s["discount_allocations"], apps, currency),
            tax_lines=_tax_lines(s["tax_lines"], currency),
        )
        for s in order["shipping_lines"].items()
        if not s["is_removed"].flag()
    )


# -- order ---------------------------------------------------------------------------------


def _line_progress(item: Field, cancelled_order: bool) -> tuple[Decimal, Decimal, Decimal]:
    """(ordered, shipped, cancelled) from Shopify's quantity fields.

    `quantity` is what was ordered; units removed by order edits or refunds are gone
    from `current_quantity`; `fulfillable_quantity` is what is left to fulfil.
    """
    ordered = item["quantity"].count()
    current = item["current_quantity"].count() if item["current_quantity"].present else ordered
    if current > ordered:
        raise item["current_quantity"].fail(f"{current} exceeds the ordered quantity {ordered}")
    status = item["fulfillment_status"].opt_text()
    if status == "fulfilled":
        shipped = current
    elif status == "partial":
        remaining = item["fulfillable_quantity"].count() if item["fulfillable_quantity"].present else current
        shipped = max(Decimal(0), current - remaining)
    else:
        shipped = Decimal(0)
    cancelled = ordered - shipped if cancelled_order else min(ordered - current, ordered - shipped)
    return ordered, shipped, max(Decimal(0), cancelled)


def _decode_line(item: Field, currency: str, apps: list[Field], cancelled_order: bool) -> OrderLine:
    ordered, shipped, cancelled = _line_progress(item, cancelled_order)
    return build(
        item,
        OrderLine,
        line_id=item["id"].ident(),
        sku=item["sku"].opt_text(),
        ordered=ordered,
        unit_price=money(item["price"], currency),
        description=item["name"].opt_text() or item["title"].opt_text() or "",
        channel_product_ref=item["variant_id"].opt_ident(),
        discounts=_discounts(item["discount_allocations"], apps, currency),
        tax_lines=_tax_lines(item["tax_lines"], currency),
        shipped=shipped,
        cancelled=cancelled,
    )


def _unallocated_discount(order: Field, lines: list[OrderLine], currency: str) -> tuple[Discount, ...]:
    """Part of `total_discounts` that no line carries, kept as an order-level discount."""
    if not order["total_discounts"].present:
        return ()
    total = money(order["total_discounts"], currency)
    rest = total - Money.total((line.discount_total for line in lines), currency)
    return (Discount(rest, "order discount not allocated to lines"),) if rest.amount > 0 else ()


def _hold_reason(order: Field) -> str | None:
    word = order["financial_status"].opt_text()
    if word is None:
        return None
    payment = build(order["financial_status"], lookup, SHOPIFY_FINANCIAL_STATUS, "Shopify", word)
    return f"payment {payment.value}" if payment in UNFULFILLABLE_PAYMENT else None


def decode_order(payload: Any) -> Order:
    """Canonical `Order` from a Shopify order webhook body."""
    order = _root(payload)
    currency = build(order["currency"], normalize_currency, order["currency"].text())
    apps = order["discount_applications"].items()
    cancelled = order["cancelled_at"].present
    lines = [_decode_line(item, currency, apps, cancelled) for item in order["line_items"].items()]
    words = [order["financial_status"].opt_text(), order["fulfillment_status"].opt_text() or "unfulfilled"]
    return build(
        order,
        Order,
        channel=CHANNEL,
        channel_order_id=order["id"].ident(),
        currency=currency,
        lines=lines,
        name=order["name"].opt_text(),
        placed_at=order["created_at"].opt_timestamp() or order["processed_at"].opt_timestamp(),
        customer=_decode_customer(order["customer"], order),
        ship_to=decode_address(order["shipping_address"]),
        bill_to=decode_address(order["billing_address"]),
        shipping=_shipping(order, currency, apps),
        order_discounts=_unallocated_discount(order, lines, currency),
        taxes_included=order["taxes_included"].flag(),
        stated_total=money(order["total_price"], currency) if order["total_price"].present else None,
        hold_reason=_hold_reason(order),
        channel_status=" ".join(w for w in words if w) + (" cancelled" if cancelled else ""),
    )


# -- fulfillments and stock ------------------------------------------------------------------


def _shipment_status(node: Field) -> ShipmentStatus:
    if node["shipment_status"].opt_text() == "delivered":
        return ShipmentStatus.DELIVERED
    word = node["status"].opt_text() or "success"
    return build(node["status"], lookup, SHOPIFY_FULFILLMENT_OBJECT_STATUS, "Shopify fulfillment", word)


def _packages(node: Field) -> tuple[Package, ...]:
    numbers = [n.text() for n in node["tracking_numbers"].items()]
    urls = [u.opt_text() for u in node["tracking_urls"].items()]
    urls += [None] * (len(numbers) - len(urls))
    return tuple(Package(str(i + 1), n, u) for i, (n, u) in enumerate(zip(numbers, urls, strict=False)))


def decode_fulfillment(payload: Any) -> Shipment:
    """Canonical `Shipment` from a fulfillments/create (or fulfillments/update) body."""
    node = _root(payload)
    lines = tuple(
        build(item, ShipmentLine, item["id"].ident(), item["quantity"].count(), item["sku"].opt_text())
        for item in node["line_items"].items()
    )
    return build(
        node,
        Shipment,
        shipment_id=node["id"].ident(),
        order_ref=node["order_id"].ident(),
        lines=lines,
        status=_shipment_status(node),
        carrier=node["tracking_company"].opt_text(),
        service=node["service"].opt_text(),
        tracking_number=node["tracking_number"].opt_text(),
        tracking_url=node["tracking_url"].opt_text(),
        shipped_at=node["created_at"].opt_timestamp(),
        ship_to=decode_address(node["destination"]),
        packages=_packages(node),
        location_ref=node["location_id"].opt_ident(),
    )


def decode_inventory_level(payload: Any) -> StockObservation:
    """A stock observation from inventory_levels/update; `available` null means untracked."""
    node = _root(payload)
    return StockObservation(
        channel=CHANNEL,
        item_ref=node["inventory_item_id"].ident(),
        location_ref=node["location_id"].ident(),
        available=node["available"].opt_decimal(),
        observed_at=node["updated_at"].opt_timestamp(),
    )


# -- outbound: fulfillmentCreate --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FulfillmentOrderLine:
    """Where an order line item sits in Shopify's fulfillment orders (fetched beforehand)."""

    fulfillment_order_id: str
    line_item_id: str  # the FulfillmentOrderLineItem id, not the order's LineItem id


def _gid(kind: str, ident: str) -> str:
    return ident if ident.startswith("gid://") else f"gid://shopify/{kind}/{ident}"


def _fulfillment_lines(shipment: Shipment, refs: Mapping[str, FulfillmentOrderLine]) -> list[dict]:
    groups: dict[str, list[dict]] = {}
    for i, line in enumerate(shipment.lines):
        where = Field(line.line_id, f"shipment.lines[{i}]", CHANNEL)
        ref = refs.get(line.line_id)
        if ref is None:
            raise where.fail(f"line {line.line_id} is on no fulfillment order")
        if line.quantity != line.quantity.to_integral_value():
            raise where.fail(f"Shopify fulfils whole units, got {line.quantity}")
        item = {"id": _gid("FulfillmentOrderLineItem", ref.line_item_id), "quantity": int(line.quantity)}
        groups.setdefault(_gid("FulfillmentOrder", ref.fulfillment_order_id), []).append(item)
    if any(len(items) > MAX_INPUT_ARRAY for items in groups.values()):
        raise CodecError(
            "shipment.lines", f"more than {MAX_INPUT_ARRAY} lines on one fulfillment order", system=CHANNEL
        )
    return [{"fulfillmentOrderId": fo, "fulfillmentOrderLineItems": items} for fo, items in groups.items()]


def _tracking_info(shipment: Shipment) -> dict:
    tracked = [p for p in shipment.packages if p.tracking_number]
    if not tracked and shipment.tracking_number:
        tracked = [Package("1", shipment.tracking_number, shipment.tracking_url)]
    info: dict[str, Any] = {"company": shipment.carrier} if shipment.carrier else {}
    if len(tracked) == 1:
        info["number"] = tracked[0].tracking_number
        if tracked[0].tracking_url:
            info["url"] = tracked[0].tracking_url
    elif tracked:
        info["numbers"] = [p.tracking_number for p in tracked]
        if all(p.tracking_url for p in tracked):
            info["urls"] = [p.tracking_url for p in tracked]
    return info


def encode_fulfillment_create(
    shipment: Shipment, refs: Mapping[str, FulfillmentOrderLine], *, notify_customer: bool = False
) -> dict:
    """Variables for `FULFILLMENT_CREATE_MUTATION`; `refs` maps order line ids to fulfillment order lines."""
    fulfillment: dict[str, Any] = {
        "lineItemsByFulfillmentOrder": _fulfillment_lines(shipment, refs),
        "notifyCustomer": notify_customer,
    }
    tracking = _tracking_info(shipment)
    if tracking:
        fulfillment["trackingInfo"] = tracking
    return {"fulfillment": fulfillment}
