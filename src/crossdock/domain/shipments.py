"""Shipments and warehouse events: what left (or failed to leave) the warehouse for an order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from crossdock.domain.errors import InvalidShipment
from crossdock.domain.money import Quantity, to_decimal
from crossdock.domain.orders import Order
from crossdock.domain.parties import Address


class ShipmentStatus(StrEnum):
    """Where a shipment stands with its carrier."""

    PENDING = "pending"  # announced or being prepared; not yet handed to the carrier
    SHIPPED = "shipped"  # handed to the carrier; tracking may follow
    DELIVERED = "delivered"  # the carrier reported delivery
    CANCELLED = "cancelled"  # withdrawn; its units are open again on the order
    FAILED = "failed"  # the channel or carrier rejected it


@dataclass(frozen=True, slots=True)
class ShipmentLine:
    """Units of one order line in a shipment. `line_id` is the order line's id."""

    line_id: str
    quantity: Decimal
    sku: str | None = None

    def __post_init__(self) -> None:
        qty = to_decimal(self.quantity, "quantity")
        if qty <= 0:
            raise InvalidShipment(f"shipment line {self.line_id} must ship a positive quantity")
        object.__setattr__(self, "quantity", qty)


@dataclass(frozen=True, slots=True)
class Package:
    """One parcel. `reference` is unique within the order (Amazon wants a positive number);
    `lines` is empty when the source does not say which units are in which parcel."""

    reference: str
    tracking_number: str | None = None
    tracking_url: str | None = None
    weight: Quantity | None = None
    lines: tuple[ShipmentLine, ...] = ()


@dataclass(frozen=True, slots=True)
class Shipment:
    """Units of an order that left together, with carrier and tracking."""

    shipment_id: str
    order_ref: str  # the channel's order id the shipment belongs to
    lines: tuple[ShipmentLine, ...]
    status: ShipmentStatus = ShipmentStatus.SHIPPED
    carrier: str | None = None
    service: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipped_at: datetime | None = None
    ship_to: Address | None = None
    packages: tuple[Package, ...] = ()
    location_ref: str | None = None  # the warehouse or channel location it left from

    def __post_init__(self) -> None:
        if not self.lines:
            raise InvalidShipment(f"shipment {self.shipment_id} has no lines")
        known = {line.line_id for line in self.lines}
        for package in self.packages:
            stray = {line.line_id for line in package.lines} - known
            if stray:
                raise InvalidShipment(f"package {package.reference} holds lines not shipped: {sorted(stray)}")

    def quantity_of(self, line_id: str) -> Decimal:
        return sum((line.quantity for line in self.lines if line.line_id == line_id), Decimal(0))


def apply_shipment(order: Order, shipment: Shipment) -> None:
    """Record every line of `shipment` as shipped on `order` (all-or-nothing)."""
    for line in shipment.lines:
        if order.line(line.line_id).open < shipment.quantity_of(line.line_id):
            raise InvalidShipment(
                f"shipment {shipment.shipment_id} ships more of {line.line_id} than is open"
            )
    for line in shipment.lines:
        order.ship(line.line_id, line.quantity)


class WarehouseEventKind(StrEnum):
    """What a warehouse (WMS, 3PL) reports about released order lines."""

    PICKED = "picked"  # the full requested quantity was picked
    SHORT_PICKED = "short_picked"  # fewer units found than requested; the rest needs a decision
    PACKED = "packed"  # picked units are packed, a package reference exists
    SHIPPED = "shipped"  # packed units left with the carrier


@dataclass(frozen=True, slots=True)
class WarehouseEvent:
    """One report from a warehouse about one order line."""

    kind: WarehouseEventKind
    order_ref: str
    line_id: str
    quantity: Decimal
    requested: Decimal | None = None  # for SHORT_PICKED: what was asked for
    package_reference: str | None = None
    occurred_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantity", to_decimal(self.quantity, "quantity"))
        if self.kind is WarehouseEventKind.SHORT_PICKED and self.requested is None:
            raise InvalidShipment("a short pick must say how many units were requested")

    @property
    def shortfall(self) -> Decimal:
        """Units requested but not picked (0 unless SHORT_PICKED)."""
        if self.requested is None:
            return Decimal(0)
        return max(Decimal(0), to_decimal(self.requested, "requested") - self.quantity)
