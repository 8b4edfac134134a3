"""Domain events: facts an order's business verbs record, named in the past tense.

An `Order` appends them to `order.events`; the handler that changed the order turns
them into messages in the same transaction (transactional outbox).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every domain event; `order_ref` is the order's correlation key."""

    order_ref: str


@dataclass(frozen=True, slots=True)
class LineEvent(Event):
    line_id: str
    sku: str | None
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class LineAllocated(LineEvent):
    """Stock was reserved for `quantity` open units of a line."""


@dataclass(frozen=True, slots=True)
class AllocationReleased(LineEvent):
    """A reservation was given back (short pick, reallocation), the units are open again."""


@dataclass(frozen=True, slots=True)
class LineBackordered(LineEvent):
    """`quantity` units wait for stock."""


@dataclass(frozen=True, slots=True)
class LineShipped(LineEvent):
    """`quantity` units left the warehouse."""


@dataclass(frozen=True, slots=True)
class LineCancelled(LineEvent):
    """`quantity` open units will never ship; `released` of them had been allocated."""

    reason: str = ""
    released: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class LineReturned(LineEvent):
    """`quantity` shipped units came back."""


@dataclass(frozen=True, slots=True)
class OrderShipped(Event):
    """The last open unit shipped: nothing is left to fulfil."""


@dataclass(frozen=True, slots=True)
class OrderAcknowledged(Event):
    """The channel was told that the order is accepted and will be fulfilled."""


@dataclass(frozen=True, slots=True)
class OrderCancelled(Event):
    """Every open unit of the order was cancelled."""

    reason: str = ""
