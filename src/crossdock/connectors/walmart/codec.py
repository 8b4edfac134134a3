"""Walmart Marketplace payloads ⇄ Crossdock's canonical models. Pure functions, no I/O.

Outbound: the bulk inventory feed file (feedType=inventory, spec 1.4, the JSON form of
`InventoryFeed`: `InventoryHeader` + `Inventory` [{sku, quantity {unit: EACH, amount}}]);
the order acknowledgement request (no body: `POST /v3/orders/{purchaseOrderId}/acknowledge`).
Inbound: the feed status with item details (`GET /v3/feeds/{feedId}?includeDetails=true`),
per-item `ingestionStatus` → accepted or failed; one SKU's quantity (getInventory,
`GET /v3/inventory?sku=`) → `ChannelLevel`; and orders (`GET /v3/orders`, getAnOrder,
released orders) → canonical `Order`. Walmart orders must be acknowledged within 4 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from crossdock.connectors.codec_errors import Field, build, money
from crossdock.connectors.inventory_publishing import ItemFailure, PendingFeed, PublishResult, StockUpdate
from crossdock.connectors.inventory_reading import ChannelLevel
from crossdock.domain.money import Money
from crossdock.domain.order_lines import Discount, OrderLine, ShippingCharge, TaxLine
from crossdock.domain.orders import Order
from crossdock.domain.parties import Address, Customer

CHANNEL = "walmart"
FEED_TYPE = "inventory"
FEED_VERSION = "1.4"
WAITING_FEED = frozenset({"RECEIVED", "INPROGRESS"})
WAITING_ITEM = frozenset({"INPROGRESS", "RECEIVED"})
SHIPPED = frozenset({"Shipped", "Delivered"})
_COUNTRIES = {"USA": "US", "CAN": "CA", "MEX": "MX", "PRI": "PR"}
_DATA_HINT = "Read Walmart's error for this SKU; fix the item (or its SKU mapping) in Seller Center, then publish again."


# -- inventory feed -----------------------------------------------------------------------------


def encode_inventory_feed(updates: list[StockUpdate]) -> dict[str, Any]:
    """The JSON bulk inventory feed file (item i of `Inventory` carries updates[i])."""
    if not updates:
        raise ValueError("an inventory feed needs at least one item")
    if any(u.quantity < 0 for u in updates):
        raise ValueError("inventory quantities must not be negative")
    return {
        "InventoryHeader": {"version": FEED_VERSION},
        "Inventory": [
            {"sku": u.channel_ref, "quantity": {"unit": "EACH", "amount": u.quantity}} for u in updates
        ],
    }


def _ingestion_errors(item: Field) -> str:
    parts = []
    for error in item["ingestionErrors"]["ingestionError"].items():
        code = error["code"].opt_ident() or error["type"].opt_text() or "?"
        field = error["field"].opt_text()
        parts.append(f"{code}: {error['description'].opt_text() or ''}" + (f" [{field}]" if field else ""))
    return "; ".join(parts) or "no error detail given"


def feed_items(body: Any) -> list[Field]:
    return Field(body, "", CHANNEL).required()["itemDetails"]["itemIngestionStatus"].items()


def decode_feed_status(pages: list[Any], pending: PendingFeed) -> PublishResult | None:
    """Per-update outcome of an inventory feed from its status pages; None while processing."""
    if not pages:
        return None
    head = Field(pages[0], "", CHANNEL).required()
    status = head["feedStatus"].text()
    if status in WAITING_FEED:
        return None
    if status != "PROCESSED":
        detail = _ingestion_errors(head) if head["ingestionErrors"].present else status
        failure = ItemFailure(
            "remote.feed_not_processed",
            f"Walmart feed {pending.feed_id} ended {status}: {detail}",
            "Publish these quantities again; if feeds keep failing, check the feed in Seller Center.",
        )
        return PublishResult(failed=dict.fromkeys(pending.keys, failure))
    by_position: dict[int, Field] = {}
    by_sku: dict[str, Field] = {}
    for item in (i for page in pages for i in feed_items(page)):
        if item["index"].present:
            by_position[int(item["index"].count())] = item
        if item["sku"].present:
            by_sku.setdefault(item["sku"].text(), item)
    accepted, failed = [], {}
    for position, key in enumerate(pending.keys):
        sku = pending.skus[position] if pending.skus else None
        item = by_position.get(position) or (by_sku.get(sku) if sku else None)
        state = item["ingestionStatus"].opt_text() if item else None
        if state in WAITING_ITEM:
            return None
        if state == "SUCCESS":
            accepted.append(key)
        elif item is None:
            failed[key] = ItemFailure(
                "remote.feed_item_missing",
                f"Walmart's status of feed {pending.feed_id} does not list SKU {sku}",
                "Publish this quantity again.",
            )
        else:
            category = "remote.listing_rejected" if state == "DATA_ERROR" else "remote.feed_item_failed"
            failed[key] = ItemFailure(
                category,
                f"Walmart refused the quantity of SKU {sku} (feed {pending.feed_id}): {state} {_ingestion_errors(item)}",
                _DATA_HINT
                if state == "DATA_ERROR"
                else "Walmart failed on its side: publish this quantity again.",
            )
    return PublishResult(accepted, failed)


def items_received(body: Any) -> int:
    node = Field(body, "", CHANNEL).required()["itemsReceived"]
    return int(node.count()) if node.present else 0


# -- inventory read (reconciliation) -------------------------------------------------------------


def decode_inventory(body: Any, sku: str) -> ChannelLevel:
    """getInventory's answer for `sku`: `{sku, quantity: {unit: EACH, amount}}`, the quantity at
    the ship node asked for. It must name the SKU asked for (Walmart answers it decoded) and a
    whole, non-negative amount; any other shape is a CodecError."""
    root = Field(body, "", CHANNEL).required()
    named = root["sku"].text()
    if named != sku:
        raise root["sku"].fail(f"answers for SKU {named!r}, not the {sku!r} asked for")
    quantity = root["quantity"].required()
    unit = quantity["unit"].opt_text()
    if unit not in (None, "EACH"):
        raise quantity["unit"].fail(f"expected EACH, got {unit!r}")
    return ChannelLevel(sku, int(quantity["amount"].count()))


def inventory_not_found(body: Any) -> bool:
    """True for Walmart's "no such SKU" answer to getInventory (a 404 naming CONTENT_NOT_FOUND)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, dict):
        errors = errors.get("error")
    return isinstance(errors, list) and any(
        isinstance(e, dict) and str(e.get("code") or "").startswith("CONTENT_NOT_FOUND") for e in errors
    )


# -- orders -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AcknowledgeRequest:
    method: str
    path: str
    body: None = None


def encode_acknowledge(purchase_order_id: str) -> AcknowledgeRequest:
    """Walmart's acknowledgement of a whole order: a POST without a body."""
    if not purchase_order_id.strip():
        raise ValueError("purchase order id must not be blank")
    return AcknowledgeRequest("POST", f"/v3/orders/{quote(purchase_order_id.strip(), safe='')}/acknowledge")


def _millis(node: Field) -> datetime | None:
    if not node.present:
        return None
    return datetime.fromtimestamp(int(node.count()) / 1000, UTC)


def _money(node: Field) -> Money:
    return money(node["amount"], node["currency"])


def _taxes(charge: Field) -> tuple[TaxLine, ...]:
    tax = charge["tax"]
    if not tax.present or not tax["taxAmount"].present:
        return ()
    amount = _money(tax["taxAmount"])
    return () if amount.is_zero() else (TaxLine(tax["taxName"].opt_text() or "Tax", amount),)


def _status_quantities(line: Field) -> tuple[Decimal, Decimal, list[str]]:
    shipped, cancelled, words = Decimal(0), Decimal(0), []
    for status in line["orderLineStatuses"]["orderLineStatus"].items():
        word = status["status"].text()
        qty = status["statusQuantity"]["amount"].count()
        words.append(word)
        if word in SHIPPED:
            shipped += qty
        elif word == "Cancelled":
            cancelled += qty
    return shipped, cancelled, words


def _decode_line(line: Field, currency: str) -> tuple[OrderLine, list[ShippingCharge], list[str]]:
    ordered = line["orderLineQuantity"]["amount"].count()
    line_id = line["lineNumber"].ident()
    price, discounts, taxes, shipping = Money.zero(currency), [], [], []
    for charge in line["charges"]["charge"].items():
        amount = _money(charge["chargeAmount"])
        kind, name = charge["chargeType"].text().upper(), charge["chargeName"].opt_text() or ""
        if kind == "SHIPPING":
            title = f"{name or 'Shipping'} for line {line_id}"
            shipping.append(ShippingCharge(title, amount, tax_lines=_taxes(charge)))
            continue
        if name == "ItemPrice":
            price = amount  # Walmart's item price per unit
        elif not amount.is_zero():
            discounts.append(Discount(abs(amount), name))
        taxes += _taxes(charge)
    shipped, cancelled, words = _status_quantities(line)
    decoded = build(
        line, OrderLine, line_id=line_id, sku=line["item"]["sku"].opt_text(), ordered=ordered,
        unit_price=price, amount=price * ordered, description=line["item"]["productName"].opt_text() or "",
        discounts=tuple(discounts), tax_lines=tuple(taxes), shipped=shipped, cancelled=cancelled,
    )  # fmt: skip
    return decoded, shipping, words


def _address(info: Field) -> Address | None:
    postal = info["postalAddress"]
    if not postal.present:
        return None
    country = postal["country"].opt_text()
    return Address(
        name=postal["name"].opt_text(), line1=postal["address1"].opt_text(), line2=postal["address2"].opt_text(),
        city=postal["city"].opt_text(), region=postal["state"].opt_text(), postal_code=postal["postalCode"].opt_text(),
        country=_COUNTRIES.get(country.upper(), country) if country else None, phone=info["phone"].opt_text(),
    )  # fmt: skip


def _currency(lines: list[Field]) -> str:
    for line in lines:
        for charge in line["charges"]["charge"].items():
            return charge["chargeAmount"]["currency"].text()
    return "USD"


def decode_order(payload: Any) -> Order:
    """Canonical `Order` from a Walmart order (`order` of getAnOrder, an `elements.order` item)."""
    root = Field(payload, "", CHANNEL).required()
    order = root["order"] if root["order"].present else root
    lines = order["orderLines"]["orderLine"].items()
    currency = _currency(lines)
    decoded = [_decode_line(line, currency) for line in lines]
    ship_to = _address(order["shippingInfo"])
    words = sorted({w for _, _, ws in decoded for w in ws})
    return build(
        order,
        Order,
        channel=CHANNEL,
        channel_order_id=order["purchaseOrderId"].ident(),
        currency=currency,
        lines=[line for line, _, _ in decoded],
        name=order["customerOrderId"].opt_ident(),
        placed_at=_millis(order["orderDate"]),
        customer=Customer(
            customer_ref=order["customerOrderId"].opt_ident(),
            email=order["customerEmailId"].opt_text(),
            name=ship_to.name if ship_to else None,
            phone=order["shippingInfo"]["phone"].opt_text(),
        ),  # fmt: skip
        ship_to=ship_to,
        shipping=tuple(c for _, charges, _ in decoded for c in charges),
        channel_status=",".join(words) or None,
    )


def decode_orders(listing: Any) -> list[Order]:
    """Every order of a `GET /v3/orders` (or released orders) answer."""
    root = Field(listing, "", CHANNEL).required()
    return [decode_order(o.value) for o in root["list"]["elements"]["order"].items()]


def needs_acknowledgement(payload: Any) -> bool:
    """True while some line is still `Created` (Walmart wants an acknowledgement within 4 hours)."""
    root = Field(payload, "", CHANNEL).required()
    order = root["order"] if root["order"].present else root
    return any(
        s["status"].opt_text() == "Created"
        for line in order["orderLines"]["orderLine"].items()
        for s in line["orderLineStatuses"]["orderLineStatus"].items()
    )
