"""The order lifecycle, derived from line quantities so it can never contradict them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class OrderStatus(StrEnum):
    """Where an order (or one line) stands. Computed, never stored or set.

    "Open" units are ordered − shipped − cancelled. Closing or archiving is not a fact
    about quantities, so it is not a status here; a channel's "closed" maps to the
    quantity state it implies.
    """

    NEW = "new"  # open units, none allocated, backordered or shipped (some may be cancelled)
    BACKORDERED = "backordered"  # open units wait for stock; none allocated or shipped
    PARTIALLY_ALLOCATED = "partially_allocated"  # some open units reserved, others not; none shipped
    ALLOCATED = "allocated"  # every open unit reserved; ready to release to the warehouse
    PARTIALLY_SHIPPED = "partially_shipped"  # some units shipped, some still open
    SHIPPED = "shipped"  # nothing open, some units shipped (the rest cancelled), none returned
    PARTIALLY_RETURNED = "partially_returned"  # nothing open, some shipped units came back
    RETURNED = "returned"  # nothing open, every shipped unit came back
    CANCELLED = "cancelled"  # every ordered unit cancelled, nothing shipped


@dataclass(frozen=True, slots=True)
class Tally:
    """Quantities summed over one line or all lines of an order."""

    ordered: Decimal = Decimal(0)
    allocated: Decimal = Decimal(0)
    backordered: Decimal = Decimal(0)
    shipped: Decimal = Decimal(0)
    cancelled: Decimal = Decimal(0)
    returned: Decimal = Decimal(0)

    @property
    def open(self) -> Decimal:
        return self.ordered - self.shipped - self.cancelled

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.ordered + other.ordered,
            self.allocated + other.allocated,
            self.backordered + other.backordered,
            self.shipped + other.shipped,
            self.cancelled + other.cancelled,
            self.returned + other.returned,
        )


def derive_status(tally: Tally) -> OrderStatus:
    """The status these quantities imply. Per line, allocated + backordered ≤ open and
    returned ≤ shipped, so sums over lines keep the same meaning."""
    if tally.open > 0:
        return _open_status(tally)
    if tally.shipped == 0:
        return OrderStatus.CANCELLED if tally.cancelled > 0 else OrderStatus.NEW
    if tally.returned == 0:
        return OrderStatus.SHIPPED
    if tally.returned < tally.shipped:
        return OrderStatus.PARTIALLY_RETURNED
    return OrderStatus.RETURNED


def _open_status(tally: Tally) -> OrderStatus:
    if tally.shipped > 0:
        return OrderStatus.PARTIALLY_SHIPPED
    if tally.allocated == tally.open:
        return OrderStatus.ALLOCATED
    if tally.allocated > 0:
        return OrderStatus.PARTIALLY_ALLOCATED
    if tally.backordered > 0:
        return OrderStatus.BACKORDERED
    return OrderStatus.NEW


# Statuses in which nothing has shipped yet and units are still open.
UNSHIPPED = frozenset(
    {OrderStatus.NEW, OrderStatus.BACKORDERED, OrderStatus.PARTIALLY_ALLOCATED, OrderStatus.ALLOCATED}
)
# Statuses in which nothing is open any more.
FINISHED = frozenset(
    {OrderStatus.SHIPPED, OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED, OrderStatus.CANCELLED}
)
