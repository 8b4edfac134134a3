"""Each system's status words, mapped onto Crossdock's canonical lifecycle.

A channel status does not set an order's status (that comes from line quantities);
it tells Crossdock which canonical statuses it is consistent with, which one to assume
when line detail is missing, and whether the order may be fulfilled yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from crossdock.domain.errors import UnknownChannelStatus
from crossdock.domain.order_status import FINISHED, UNSHIPPED, OrderStatus
from crossdock.domain.shipments import ShipmentStatus

K = TypeVar("K")
V = TypeVar("V")


class PaymentStatus(StrEnum):
    """Where the buyer's payment stands, as far as the channel tells us."""

    PENDING = "pending"  # not captured yet: manual payment, payment terms, COD
    AUTHORIZED = "authorized"  # reserved on the buyer's instrument, not captured
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"  # the authorization was cancelled
    EXPIRED = "expired"  # the authorization lapsed before capture


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """What one channel status word means for Crossdock."""

    assumed: OrderStatus  # the status to assume when only the word is known
    consistent: frozenset[OrderStatus]  # canonical statuses that do not contradict it
    fulfillable: bool = True  # False: hold the order (payment or release date pending)
    meaning: str = ""

    def contradicts(self, status: OrderStatus) -> bool:
        return status not in self.consistent


_AFTER_SHIPPING = frozenset({OrderStatus.SHIPPED, OrderStatus.PARTIALLY_RETURNED, OrderStatus.RETURNED})
_GONE = frozenset({OrderStatus.CANCELLED})

AMAZON_ORDER_STATUS: Mapping[str, ChannelStatus] = {
    "PendingAvailability": ChannelStatus(
        OrderStatus.NEW, UNSHIPPED | _GONE, False, "pre-order: release date in the future, not paid"
    ),
    "Pending": ChannelStatus(OrderStatus.NEW, UNSHIPPED | _GONE, False, "payment not authorized yet"),
    "Unshipped": ChannelStatus(OrderStatus.NEW, UNSHIPPED, True, "paid, nothing shipped"),
    "PartiallyShipped": ChannelStatus(
        OrderStatus.PARTIALLY_SHIPPED, frozenset({OrderStatus.PARTIALLY_SHIPPED}), True, "some items shipped"
    ),
    "Shipped": ChannelStatus(OrderStatus.SHIPPED, _AFTER_SHIPPING, True, "all items shipped"),
    "InvoiceUnconfirmed": ChannelStatus(
        OrderStatus.SHIPPED, _AFTER_SHIPPING, True, "all shipped; invoice not confirmed to Amazon"
    ),
    "Canceled": ChannelStatus(OrderStatus.CANCELLED, FINISHED, False, "cancelled"),
    "Unfulfillable": ChannelStatus(
        OrderStatus.CANCELLED, UNSHIPPED | _GONE, False, "Amazon-fulfilled order that cannot be fulfilled"
    ),
}

# Order-level `fulfillment_status` of a Shopify order; None means nothing fulfilled yet.
SHOPIFY_FULFILLMENT_STATUS: Mapping[str | None, ChannelStatus] = {
    None: ChannelStatus(OrderStatus.NEW, UNSHIPPED | _GONE, True, "unfulfilled"),
    "unfulfilled": ChannelStatus(OrderStatus.NEW, UNSHIPPED | _GONE, True, "unfulfilled"),
    "partial": ChannelStatus(
        OrderStatus.PARTIALLY_SHIPPED,
        frozenset({OrderStatus.PARTIALLY_SHIPPED}) | _AFTER_SHIPPING,
        True,
        "some line items fulfilled",
    ),
    "fulfilled": ChannelStatus(OrderStatus.SHIPPED, _AFTER_SHIPPING, True, "every line item fulfilled"),
    "restocked": ChannelStatus(
        OrderStatus.CANCELLED,
        _GONE | _AFTER_SHIPPING,
        False,
        "items returned to stock after cancel or refund",
    ),
}

SHOPIFY_FINANCIAL_STATUS: Mapping[str, PaymentStatus] = {
    "pending": PaymentStatus.PENDING,
    "authorized": PaymentStatus.AUTHORIZED,
    "partially_paid": PaymentStatus.PARTIALLY_PAID,
    "paid": PaymentStatus.PAID,
    "partially_refunded": PaymentStatus.PARTIALLY_REFUNDED,
    "refunded": PaymentStatus.REFUNDED,
    "voided": PaymentStatus.VOIDED,
    "expired": PaymentStatus.EXPIRED,
}

# Payment states in which goods must not leave: there is no payment and none is coming.
UNFULFILLABLE_PAYMENT = frozenset({PaymentStatus.VOIDED, PaymentStatus.EXPIRED})

# `status` of a Shopify fulfillment object.
SHOPIFY_FULFILLMENT_OBJECT_STATUS: Mapping[str, ShipmentStatus] = {
    "pending": ShipmentStatus.PENDING,
    "open": ShipmentStatus.PENDING,
    "success": ShipmentStatus.SHIPPED,
    "cancelled": ShipmentStatus.CANCELLED,
    "error": ShipmentStatus.FAILED,
    "failure": ShipmentStatus.FAILED,
}


def lookup(table: Mapping[K, V], system: str, word: K) -> V:
    """The meaning of `word` in `table`, or `UnknownChannelStatus` naming the system."""
    try:
        return table[word]
    except KeyError:
        raise UnknownChannelStatus(
            f"{system} status {word!r} is not mapped",
            f"Add {word!r} to the {system} status map in crossdock.domain.status_maps.",
        ) from None
