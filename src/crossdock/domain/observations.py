"""Small canonical values for what a channel tells Crossdock without sending a full document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from crossdock.domain.order_status import OrderStatus


@dataclass(frozen=True, slots=True)
class StockObservation:
    """A channel's view of stock for one item at one location at one moment.

    `available` is None when the channel does not track that item's stock; it is
    not zero, and must not be published as zero.
    """

    channel: str
    item_ref: str  # the channel's inventory item id
    location_ref: str
    available: Decimal | None
    observed_at: datetime | None = None
    sku: str | None = None


class OrderChangeKind(StrEnum):
    """Why a channel says an order changed."""

    STATUS_CHANGED = "status_changed"  # the channel's order status moved on
    CANCELLATION_REQUESTED = "cancellation_requested"  # the buyer asked to cancel; seller decides
    BUYER_REQUESTED_CHANGE = "buyer_requested_change"  # another buyer request
    TIP_CHANGED = "tip_changed"  # a delivery tip was added or changed
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class OrderChangeItem:
    line_id: str
    sku: str | None
    quantity: Decimal
    quantity_shipped: Decimal | None = None
    buyer_requested_cancel: bool = False


@dataclass(frozen=True, slots=True)
class OrderChange:
    """A notice that an order changed on the channel; the order should be fetched again.

    `implied_status` is the canonical status the channel's status word suggests;
    the order's real status still comes from its lines.
    """

    channel: str
    channel_order_id: str
    kind: OrderChangeKind
    reason: str
    channel_status: str
    implied_status: OrderStatus
    changed_at: datetime | None = None
    items: tuple[OrderChangeItem, ...] = ()
    notification_id: str | None = None

    @property
    def cancellation_requested(self) -> bool:
        return self.kind is OrderChangeKind.CANCELLATION_REQUESTED or any(
            item.buyer_requested_cancel for item in self.items
        )
