"""Amazon SP-API payloads ⇄ Crossdock's canonical models. Pure functions, no I/O.

Inbound: Orders API v0 `Order` and `OrderItem` objects (getOrders / getOrder /
getOrderItems / getOrderAddress payloads) and the ORDER_CHANGE notification.
Outbound: the confirmShipment request body, one per package.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any

from crossdock.connectors.codec_errors import CodecError, Field, build, money
from crossdock.domain.money import Money, normalize_currency
from crossdock.domain.observations import OrderChange, OrderChangeItem, OrderChangeKind
from crossdock.domain.order_lines import Discount, OrderLine, ShippingCharge, TaxLine
from crossdock.domain.orders import Order
from crossdock.domain.parties import Address, Customer
from crossdock.domain.shipments import Package, Shipment, ShipmentLine
from crossdock.domain.status_maps import AMAZON_ORDER_STATUS, ChannelStatus, lookup

CHANNEL = "amazon"

# Currency of a marketplace, for orders that carry no money yet (Pending orders).
MARKETPLACE_CURRENCY = {
    "ATVPDKIKX0DER": "USD", "A2EUQ1WTGCTBG2": "CAD", "A1AM78C64UM0Y8": "MXN", "A2Q3Y263D00KWC": "BRL",
    "A1F83G8C2ARO7P": "GBP", "A1PA6795UKMFR9": "EUR", "A13V1IB3VIYZZH": "EUR", "APJ6JRA9NG5V4": "EUR",
    "A1RKKUPIHCS9HS": "EUR", "A1805IZSGTT6HS": "EUR", "AMEN7PMS3EDWL": "EUR", "A2NODRKZP88ZB9": "SEK",
    "A1C3SOZRARQ6R3": "PLN", "A1VC38T7YXB528": "JPY", "A39IBJ37TRP1C6": "AUD", "A21TJRUUN4KGV": "INR",
}  # fmt: skip
# Marketplaces whose item and shipping prices include VAT (Europe and the UK).
VAT_INCLUSIVE_MARKETPLACES = frozenset(
    {"A1F83G8C2ARO7P", "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS",
     "A1805IZSGTT6HS", "AMEN7PMS3EDWL", "A2NODRKZP88ZB9", "A1C3SOZRARQ6R3"}
)  # fmt: skip
# Amazon's carrier codes for the carriers Crossdock's tenants ship with most; others go as "Other".
CARRIER_CODES = {
    code.lower(): code
    for code in ("UPS", "USPS", "FedEx", "DHL", "OnTrac", "Amazon Shipping", "Royal Mail", "DPD",
                 "Hermes", "GLS", "Canada Post", "Purolator", "Australia Post", "Japan Post", "Yamato Transport")
}  # fmt: skip


def _root(payload: Any, path: str = "") -> Field:
    return Field(payload, path, CHANNEL).required()


def decode_address(node: Field) -> Address | None:
    if not node.present:
        return None
    return Address(
        name=node["Name"].opt_text(),
        line1=node["AddressLine1"].opt_text(),
        line2=node["AddressLine2"].opt_text(),
        line3=node["AddressLine3"].opt_text(),
        city=node["City"].opt_text(),
        region=node["StateOrRegion"].opt_text(),
        postal_code=node["PostalCode"].opt_text(),
        country=node["CountryCode"].opt_text(),
        company=node["CompanyName"].opt_text(),
        phone=node["Phone"].opt_text(),
    )


def _amount(node: Field, currency: str) -> Money | None:
    """A Money object ({CurrencyCode, Amount}) in the order's currency, or None when absent."""
    if not node.present:
        return None
    found = money(node["Amount"], node["CurrencyCode"])
    if found.currency != currency:
        raise node["CurrencyCode"].fail(f"is {found.currency}, the order is in {currency}")
    return found


def _nonzero(*amounts: Money | None) -> list[Money]:
    return [a for a in amounts if a is not None and not a.is_zero()]


def _item_taxes(item: Field, currency: str, kind: str) -> tuple[TaxLine, ...]:
    tax = _amount(item[f"{kind}Tax"], currency)
    discount_tax = _amount(
        item[f"{kind}DiscountTax" if kind == "Shipping" else "PromotionDiscountTax"], currency
    )
    lines = [TaxLine(f"{kind}Tax", a) for a in _nonzero(tax)]
    return tuple(lines + [TaxLine(f"{kind} discount tax", -a) for a in _nonzero(discount_tax)])


def _shipping_charge(item: Field, currency: str) -> ShippingCharge | None:
    price = _amount(item["ShippingPrice"], currency)
    if price is None:
        return None
    discounts = _nonzero(_amount(item["ShippingDiscount"], currency))
    return ShippingCharge(
        title=f"shipping for item {item['OrderItemId'].ident()}",
        amount=price,
        discounts=tuple(Discount(d, "ShippingDiscount") for d in discounts),
        tax_lines=_item_taxes(item, currency, "Shipping"),
    )


def _decode_line(item: Field, currency: str, cancelled: bool) -> OrderLine:
    ordered = item["QuantityOrdered"].count()
    shipped = item["QuantityShipped"].count() if item["QuantityShipped"].present else Decimal(0)
    amount = _amount(item["ItemPrice"], currency) or Money.zero(currency)
    promotions = _nonzero(_amount(item["PromotionDiscount"], currency))
    return build(
        item,
        OrderLine,
        line_id=item["OrderItemId"].ident(),
        sku=item["SellerSKU"].opt_text(),
        ordered=ordered,
        unit_price=Money(amount.amount / ordered, currency) if ordered else amount,  # ItemPrice = price × qty
        amount=amount,
        description=item["Title"].opt_text() or "",
        channel_product_ref=item["ASIN"].opt_text(),
        discounts=tuple(Discount(p, "PromotionDiscount") for p in promotions),
        tax_lines=_item_taxes(item, currency, "Item"),
        shipped=shipped,
        cancelled=ordered - shipped if cancelled else Decimal(0),
    )


def _currency(order: Field, items: list[Field]) -> str:
    for node in [order["OrderTotal"], *(i["ItemPrice"] for i in items)]:
        if node.present:
            return build(node["CurrencyCode"], normalize_currency, node["CurrencyCode"].text())
    marketplace = order["MarketplaceId"].opt_text()
    if marketplace in MARKETPLACE_CURRENCY:
        return MARKETPLACE_CURRENCY[marketplace]
    raise order["OrderTotal"].fail("is required to know the currency of this marketplace")


def _customer(order: Field) -> Customer | None:
    buyer = order["BuyerInfo"]
    if not buyer.present:
        return None
    return Customer(email=buyer["BuyerEmail"].opt_text(), name=buyer["BuyerName"].opt_text())


def _status(order: Field) -> tuple[str, ChannelStatus]:
    word = order["OrderStatus"].text()
    return word, build(order["OrderStatus"], lookup, AMAZON_ORDER_STATUS, "Amazon", word)


def decode_order(order_payload: Any, order_items: Any = None, shipping_address: Any = None) -> Order:
    """Canonical `Order` from an Orders v0 `Order`, its `OrderItems` and, when fetched
    separately (getOrderAddress), its `ShippingAddress`."""
    order = _root(order_payload)
    items = Field(order_items, "OrderItems", CHANNEL).items()
    word, status = _status(order)
    currency = _currency(order, items)
    cancelled = word == "Canceled"
    charges = [_shipping_charge(item, currency) for item in items]
    address = (
        Field(shipping_address, "ShippingAddress", CHANNEL) if shipping_address else order["ShippingAddress"]
    )
    return build(
        order,
        Order,
        channel=CHANNEL,
        channel_order_id=order["AmazonOrderId"].text(),
        currency=currency,
        lines=[_decode_line(item, currency, cancelled) for item in items],
        name=order["SellerOrderId"].opt_text() or order["AmazonOrderId"].text(),
        placed_at=order["PurchaseDate"].timestamp(),
        customer=_customer(order),
        ship_to=decode_address(address),
        shipping=tuple(c for c in charges if c is not None),
        taxes_included=order["MarketplaceId"].opt_text() in VAT_INCLUSIVE_MARKETPLACES,
        stated_total=_amount(order["OrderTotal"], currency),
        hold_reason=None if status.fulfillable or cancelled else status.meaning,
        channel_status=word,
    )


# -- ORDER_CHANGE notification ---------------------------------------------------------------


def _change_kind(change_type: str, reason: str, items: list[OrderChangeItem]) -> OrderChangeKind:
    if change_type == "OrderStatusChange":
        return OrderChangeKind.STATUS_CHANGED
    if change_type == "DeliveryTipChange":
        return OrderChangeKind.TIP_CHANGED
    if change_type != "BuyerRequestedChange":
        return OrderChangeKind.OTHER
    if "cancel" in reason.lower() or any(i.buyer_requested_cancel for i in items):
        return OrderChangeKind.CANCELLATION_REQUESTED
    return OrderChangeKind.BUYER_REQUESTED_CHANGE


def _change_item(item: Field) -> OrderChangeItem:
    shipped = item["QuantityShipped"]
    return OrderChangeItem(
        line_id=item["OrderItemId"].ident(),
        sku=item["SellerSKU"].opt_text(),
        quantity=item["Quantity"].count(),
        quantity_shipped=shipped.count() if shipped.present else None,
        buyer_requested_cancel=item["IsBuyerRequestedCancel"].flag(),
    )


def decode_order_change(payload: Any) -> OrderChange:
    """An `OrderChange` from an ORDER_CHANGE notification (the whole envelope)."""
    root = _root(payload)
    if root["NotificationType"].text() != "ORDER_CHANGE":
        raise root["NotificationType"].fail(f"expected ORDER_CHANGE, got {root['NotificationType'].value!r}")
    change = root["Payload"]["OrderChangeNotification"].required()
    summary = change["Summary"].required()
    word, status = _status(summary)
    items = [_change_item(item) for item in summary["OrderItems"].items()]
    reason = change["OrderChangeTrigger"]["ChangeReason"].opt_text() or ""
    return OrderChange(
        channel=CHANNEL,
        channel_order_id=change["AmazonOrderId"].text(),
        kind=_change_kind(change["OrderChangeType"].text(), reason, items),
        reason=reason,
        channel_status=word,
        implied_status=status.assumed,
        changed_at=change["OrderChangeTrigger"]["TimeOfOrderChange"].opt_timestamp(),
        items=tuple(items),
        notification_id=root["NotificationMetadata"]["NotificationId"].opt_text(),
    )


# -- outbound: confirmShipment ------------------------------------------------------------------


def _missing(path: str, detail: str) -> CodecError:
    return CodecError(path, detail, system=CHANNEL)


def _carrier(shipment: Shipment) -> dict[str, str]:
    if not shipment.carrier:
        raise _missing("shipment.carrier", "Amazon needs a carrier to confirm a shipment")
    code = CARRIER_CODES.get(shipment.carrier.strip().lower(), "Other")
    return {"carrierCode": code, "carrierName": shipment.carrier}


def _package_items(package: Package, shipment: Shipment, path: str) -> list[dict]:
    lines: tuple[ShipmentLine, ...] = package.lines or shipment.lines
    if not package.lines and len(shipment.packages) > 1:
        raise _missing(f"{path}.lines", "several packages, but not which items are in this one")
    items = []
    for line in lines:
        if line.quantity != line.quantity.to_integral_value():
            raise _missing(
                f"{path}.lines", f"Amazon confirms whole units, got {line.quantity} of {line.line_id}"
            )
        items.append({"orderItemId": line.line_id, "quantity": int(line.quantity)})
    return items


def _reference(package: Package, position: int) -> str:
    """Amazon accepts only positive numbers as package reference."""
    ref = package.reference.strip()
    return ref if ref.isdigit() and int(ref) > 0 else str(position)


def encode_confirm_shipment(
    shipment: Shipment, *, marketplace_id: str, ship_from_supply_source_id: str | None = None
) -> list[dict]:
    """confirmShipment request bodies for `shipment`, one per package."""
    if shipment.shipped_at is None:
        raise _missing("shipment.shipped_at", "Amazon needs the ship date")
    packages = shipment.packages or (Package("1", shipment.tracking_number, shipment.tracking_url),)
    bodies = []
    for position, package in enumerate(packages, start=1):
        path = f"shipment.packages[{position - 1}]"
        if not package.tracking_number:
            raise _missing(f"{path}.tracking_number", "Amazon needs a tracking number")
        detail = {
            "packageReferenceId": _reference(package, position),
            **_carrier(shipment),
            "trackingNumber": package.tracking_number,
            "shipDate": shipment.shipped_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "orderItems": _package_items(package, shipment, path),
        }
        if shipment.service:
            detail["shippingMethod"] = shipment.service
        if ship_from_supply_source_id:
            detail["shipFromSupplySourceId"] = ship_from_supply_source_id
        bodies.append({"marketplaceId": marketplace_id, "packageDetail": detail})
    return bodies
