"""Walmart order listings, shipping updates and line cancellations ⇄ Crossdock. Pure functions.

Inbound: a `GET /v3/orders` answer (`list.elements.order` and `list.meta.nextCursor`, the
query string of the next page); an order's version (its lines' latest `statusDate` and
status words), which names each polled snapshot; whether an order (getAnOrder) already
shows a shipment's units as shipped with its tracking number.
Outbound: `OrderShipment` (`POST /v3/orders/{purchaseOrderId}/shipping`: per line the
shipped quantity with carrier, method, tracking number and ship time) and
`OrderCancellation` (`POST .../cancel`: per line the cancelled quantity and a reason).
Walmart counts whole units (`EACH`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from crossdock.connectors.codec_errors import CodecError, Field
from crossdock.connectors.walmart.codec import CHANNEL, SHIPPED
from crossdock.domain.shipments import Package, Shipment, ShipmentLine

# Carriers Walmart knows by name (`carrierName.carrier`); any other is `otherCarrier` with a URL.
CARRIERS = {c.lower(): c for c in (
    "UPS", "USPS", "FedEx", "Airborne", "OnTrac", "DHL Ecommerce - US", "LS", "UDS", "UPSMI", "FDX",
    "PILOT", "ESTES", "SAIA", "FEDEXSP", "RL Carriers", "China Post", "YunExpress", "GLS", "Sendle",
    "Landmark Global", "OSM Worldwide", "CEVA", "TForce Freight", "AxleHire", "LSO", "Canada Post",
    "ABF Freight System", "XPO Logistics",
)}  # fmt: skip
METHOD_CODES = {m.lower(): m for m in ("Standard", "Express", "OneDay", "Freight", "WhiteGlove", "Value")}
# Crossdock's reasons (words in them) → Walmart's seller cancellation reasons.
CANCEL_REASONS = (
    ("customer", "CUSTOMER_REQUESTED_SELLER_TO_CANCEL"),
    ("price", "SELLER_CANCEL_PRICING_ERROR"),
    ("fraud", "SELLER_CANCEL_FRAUD_STOP_SHIPMENT"),
    ("address", "SELLER_CANCEL_ADDRESS_NOT_SERVICEABLE"),
)
DEFAULT_CANCEL_REASON = "SELLER_CANCEL_OUT_OF_STOCK"  # short picks and anything else


@dataclass(frozen=True, slots=True)
class ListingPage:
    orders: list[dict]  # Walmart orders as listed, decoded later by `codec.decode_order`
    next_cursor: str | None  # the query string of the next page (`?limit=...&soIndex=...`)
    total: int | None = None  # `meta.totalCount`: orders the listing matches as this page was read


def _order(payload: Any) -> Field:
    root = Field(payload, "", CHANNEL).required()
    return root["order"] if root["order"].present else root


def decode_listing(body: Any) -> ListingPage:
    """One page of `GET /v3/orders` (no orders: Walmart answers an empty list, or 404)."""
    listing = Field(body, "", CHANNEL).required()["list"]
    orders = [o.value for o in listing["elements"]["order"].items()]
    if any(not isinstance(o, dict) for o in orders):
        raise CodecError("list.elements.order", "an order is not an object", system=CHANNEL)
    cursor = listing["meta"]["nextCursor"].opt_text()
    total = listing["meta"]["totalCount"]
    return ListingPage(
        orders, cursor if cursor and cursor.strip("?") else None, int(total.count()) if total.present else None
    )


def _statuses(order: Field) -> list[tuple[Field, Field]]:
    return [
        (line, status)
        for line in order["orderLines"]["orderLine"].items()
        for status in line["orderLineStatuses"]["orderLineStatus"].items()
    ]


def _latest_ms(order: Field) -> int | None:
    stamps = [int(line["statusDate"].count()) for line in order["orderLines"]["orderLine"].items()
              if line["statusDate"].present]  # fmt: skip
    return max(stamps) if stamps else None


def updated_at(payload: Any) -> str | None:
    """When Walmart last changed the order (its lines' latest `statusDate`), ISO 8601 UTC."""
    ms = _latest_ms(_order(payload))
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def snapshot_version(payload: Any) -> str:
    """Names one state of the order: the latest status time and every line's status
    quantities, so a repeated listing of an unchanged order is the same snapshot."""
    order = _order(payload)
    words = sorted(
        f"{line['lineNumber'].opt_ident()}:{status['status'].opt_text()}={status['statusQuantity']['amount'].value}"
        for line, status in _statuses(order)
    )
    return f"{_latest_ms(order) or ''}@{','.join(words)}"


# -- shipping updates ------------------------------------------------------------------------------


def _missing(path: str, detail: str) -> CodecError:
    return CodecError(path, detail, system=CHANNEL)


def _units(quantity: Decimal, path: str) -> str:
    if quantity != quantity.to_integral_value() or quantity <= 0:
        raise _missing(path, f"Walmart ships whole units, got {quantity}")
    return str(int(quantity))


def carrier_name(carrier: str | None, tracking_url: str | None, path: str) -> dict[str, str]:
    if not carrier or not carrier.strip():
        raise _missing(f"{path}.carrier", "Walmart needs the carrier of a shipment")
    known = CARRIERS.get(carrier.strip().lower())
    if known:
        return {"carrier": known}
    if not tracking_url:
        raise _missing(
            f"{path}.tracking_url", f"carrier {carrier!r} is not one Walmart names: it needs a tracking URL"
        )
    return {"otherCarrier": carrier.strip()}


def method_code(service: str | None) -> str:
    """Walmart's shipping method of a carrier service (`Standard` unless the service is one)."""
    return METHOD_CODES.get((service or "").strip().lower().replace(" ", ""), "Standard")


def _parcels(shipment: Shipment) -> list[tuple[Package, tuple[ShipmentLine, ...]]]:
    """(package, its lines): the shipment's packages, or the shipment as one package."""
    if not shipment.packages:
        return [(Package("1", shipment.tracking_number, shipment.tracking_url), shipment.lines)]
    if len(shipment.packages) > 1 and any(not p.lines for p in shipment.packages):
        raise _missing("shipment.packages", "several packages, but not which lines are in each")
    return [(p, p.lines or shipment.lines) for p in shipment.packages]


def encode_shipment(purchase_order_id: str, shipment: Shipment) -> dict[str, Any]:
    """`OrderShipment` for `shipment`: one order line per shipped line, one `Shipped` status
    per package holding it, each with the package's tracking number."""
    if shipment.shipped_at is None:
        raise _missing("shipment.shipped_at", "Walmart needs the ship time")
    shipped_ms = int(shipment.shipped_at.timestamp() * 1000)
    by_line: dict[str, list[dict[str, Any]]] = {}
    for position, (package, lines) in enumerate(_parcels(shipment)):
        path = f"shipment.packages[{position}]"
        tracking = package.tracking_number or shipment.tracking_number
        if not tracking:
            raise _missing(f"{path}.tracking_number", "Walmart needs a tracking number")
        url = package.tracking_url or shipment.tracking_url
        info = {"shipDateTime": shipped_ms, "carrierName": carrier_name(shipment.carrier, url, "shipment"),
                "methodCode": method_code(shipment.service), "trackingNumber": tracking}  # fmt: skip
        if url:
            info["trackingURL"] = url
        for line in lines:
            amount = _units(line.quantity, f"{path}.lines[{line.line_id}]")
            by_line.setdefault(line.line_id, []).append(
                {
                    "status": "Shipped",
                    "statusQuantity": {"unitOfMeasurement": "EACH", "amount": amount},
                    "trackingInfo": dict(info),
                }  # fmt: skip
            )
    order_lines = [
        {"lineNumber": line_id, "sellerOrderId": purchase_order_id[:30],
         "orderLineStatuses": {"orderLineStatus": statuses}}
        for line_id, statuses in by_line.items()
    ]  # fmt: skip
    return {"orderShipment": {"orderLines": {"orderLine": order_lines}}}


def shows_shipment(payload: Any, shipment: Shipment) -> bool:
    """True when the order (getAnOrder) holds, on every line of `shipment`, at least its
    quantity shipped under its tracking number: Walmart took the shipping update."""
    wanted = encode_shipment(_order(payload)["purchaseOrderId"].ident(), shipment)
    found: dict[tuple[str, str], Decimal] = {}
    for line, status in _statuses(_order(payload)):
        number = status["trackingInfo"]["trackingNumber"].opt_text()
        if status["status"].opt_text() in SHIPPED and number:
            key = (line["lineNumber"].ident(), number)
            found[key] = found.get(key, Decimal(0)) + status["statusQuantity"]["amount"].count()
    for line in wanted["orderShipment"]["orderLines"]["orderLine"]:
        for status in line["orderLineStatuses"]["orderLineStatus"]:
            key = (line["lineNumber"], status["trackingInfo"]["trackingNumber"])
            if found.get(key, Decimal(0)) < Decimal(status["statusQuantity"]["amount"]):
                return False
    return True


# -- cancellations ---------------------------------------------------------------------------------


def cancellation_reason(reason: str) -> str:
    words = reason.lower()
    return next((code for word, code in CANCEL_REASONS if word in words), DEFAULT_CANCEL_REASON)


def encode_cancellation(lines: Mapping[str, Decimal], reason: str) -> dict[str, Any]:
    """`OrderCancellation`: `lines` maps Walmart line numbers to the units that will not ship."""
    if not lines:
        raise ValueError("a cancellation needs at least one line")
    code = cancellation_reason(reason)
    order_lines = [
        {"lineNumber": line_id, "orderLineStatuses": {"orderLineStatus": [
            {"status": "Cancelled", "cancellationReason": code,
             "statusQuantity": {"unitOfMeasurement": "EACH", "amount": _units(Decimal(qty), f"lines[{line_id}]")}}
        ]}}
        for line_id, qty in lines.items()
    ]  # fmt: skip
    return {"orderCancellation": {"orderLines": {"orderLine": order_lines}}}
