"""Inventory and available-to-promise: stock positions from the ERP and WMS, reservations
from the order flow, and per channel the quantity it may list (`inventory.changed`),
written into the channel's outbox (`store.publishing.queue_values`) for the publishers.

For the order flow: `reserve_for_order` (at validation, within the free stock) and
`settle_for_order` (cancelled, shipped), built on `reservation_messages(order_ref, lines, action)`.
Other producers hand values to publishing as `kinds.PUBLISH` payloads {connection_id, item,
quantity, urgency} or {connection_id, updates: [...]}; the computed value and its explanation: `store.channel_availability.get_channel_availability`."""

from __future__ import annotations

from crossdock.engine.handlers import Registry
from crossdock.flows.inventory import channels, kinds, reservations, stock
from crossdock.flows.inventory.reservations import (
    ReservationMessage,
    reservation_messages,
    reserve_for_order,
    settle_for_order,
)

__all__ = [
    "ReservationMessage",
    "kinds",
    "register",
    "reservation_messages",
    "reserve_for_order",
    "settle_for_order",
]


def register(registry: Registry) -> None:
    registry.add(kinds.SNAPSHOT, stock.snapshot)
    registry.add(kinds.ADJUSTED, stock.adjusted)
    for kind in (kinds.RESERVE, kinds.RELEASE, kinds.CONVERT, kinds.CONSUME):
        registry.add(kind, reservations.reservation)
    registry.add(kinds.CHANGED, channels.item_changed)
    registry.add(kinds.DUE, channels.availability_due)
    registry.add(kinds.RECOMPUTE, stock.recompute)
