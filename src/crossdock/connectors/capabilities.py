"""What the flows ask of external systems: small protocols, one per capability.

A connector implements the capabilities its system has. Flows depend on these
protocols only, never on a vendor's client, so a sales channel, an ERP or a
warehouse can be swapped by configuration. Every outbound request a connector
makes is handed to its `Recorder` (lineage, secrets redacted), also when it fails.

Failures are raised as `crossdock.errors` classes: TransientError (with
`ambiguous=True` when the request may have taken effect), ThrottledError
(retry_after) or PermanentError(category, detail, hint).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from crossdock.domain.parties import Address
from crossdock.domain.shipments import Shipment
from crossdock.records import LineageRecord

Recorder = Callable[[LineageRecord], None]


# --------------------------------------------------------------------------- inbound


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """A verified inbound delivery, ready to become a message."""

    idempotency_key: str  # unique per business event within the tenant
    kind: str  # message kind, e.g. `order.received`, `wms.event`
    topic: str
    ordering_key: str | None = None
    correlation_id: str | None = None


class SignatureError(Exception):
    """The delivery is not from who it claims to be (bad, missing or stale signature)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@runtime_checkable
class InboundVerifier(Protocol):
    def verify(
        self, config: Any, connection_id: str, topic: str, headers: Mapping[str, str], body: bytes, now: float
    ) -> InboundEvent:
        """Check the sender's signature and name the event; raise SignatureError otherwise."""
        ...


# --------------------------------------------------------------------------- sales channels


@dataclass(frozen=True, slots=True)
class ChannelOrderRef:
    """Enough to address an order on its channel."""

    channel: str  # `shopify`, `amazon`, ...
    channel_order_id: str  # the channel's own id (Shopify numeric id, AmazonOrderId)
    line_refs: Mapping[str, str] = field(default_factory=dict)  # canonical line id → channel line id


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of orders polled from a channel, and where to continue."""

    orders: list[dict]  # vendor payloads, decoded later by the channel's codec
    cursor: str  # persisted; the next poll starts here
    more: bool  # another page is ready now


@runtime_checkable
class SalesChannel(Protocol):
    channel: str
    requires_acknowledgement: bool

    async def acknowledge_order(self, order: ChannelOrderRef) -> None: ...

    async def find_shipment_confirmation(self, order: ChannelOrderRef, shipment: Shipment) -> str | None:
        """The channel's reference of a confirmation already made for `shipment` (after an ambiguous failure)."""
        ...

    async def confirm_shipment(self, order: ChannelOrderRef, shipment: Shipment) -> str:
        """Tell the channel what shipped, with carrier and tracking; answers the channel's reference."""
        ...

    async def cancel_lines(self, order: ChannelOrderRef, lines: Mapping[str, Decimal], reason: str) -> None:
        """Tell the channel these quantities will not ship (short pick policy, cancellation)."""
        ...


@runtime_checkable
class OrderSource(Protocol):
    """A channel whose orders are polled (Amazon, Walmart) rather than pushed."""

    async def poll_orders(self, cursor: str | None) -> OrderPage: ...

    def snapshot_ref(self, order: dict) -> tuple[str, str]:
        """(channel order id, version) of a polled order: the same state listed again is the
        same snapshot (one message), a changed order a new one."""
        ...

    async def order_items(self, channel_order_id: str) -> list[dict]: ...


# --------------------------------------------------------------------------- ERP


@dataclass(frozen=True, slots=True)
class SalesOrderLine:
    line_ref: str  # canonical order line id, echoed back by the ERP where it can
    item_code: str
    quantity: Decimal
    uom: str
    unit_price: Decimal
    tax_code: str | None = None
    discount: Decimal = Decimal("0")
    # The order's own units this line stands for: what the channel ordered and had not
    # cancelled when the order was mapped. None in requests stored before it was kept, when
    # no unit was cancelled before posting: the order line's ordered quantity.
    order_quantity: Decimal | None = None

    def order_units(self, ordered: Decimal) -> Decimal:
        """The order units `quantity` ERP units stand for (`ordered`: the order line's)."""
        return ordered if self.order_quantity is None else self.order_quantity


@dataclass(frozen=True, slots=True)
class SalesOrderRequest:
    """An ERP-ready sales order: mapped, validated, routed."""

    external_reference: str  # channel + channel order id: how the order is found again
    currency: str
    lines: tuple[SalesOrderLine, ...]
    customer_code: str | None  # an existing ERP customer, or None to create one
    customer_name: str
    customer_email: str | None
    ship_to: Address | None
    bill_to: Address | None = None
    carrier: str | None = None
    service: str | None = None
    legal_entity: str | None = None
    shipping_amount: Decimal = Decimal("0")
    channel: str = ""


@dataclass(frozen=True, slots=True)
class ErpSalesOrder:
    id: str
    number: str | None
    external_reference: str
    state: str


@dataclass(frozen=True, slots=True)
class InvoiceRequest:
    sales_order_id: str
    shipment_reference: str  # one invoice per shipment: how it is found again
    lines: tuple[tuple[str, Decimal], ...]  # (item code, quantity shipped)


@runtime_checkable
class Erp(Protocol):
    async def find_sales_order(self, external_reference: str) -> ErpSalesOrder | None: ...

    async def create_sales_order(self, order: SalesOrderRequest) -> ErpSalesOrder: ...

    async def cancel_sales_order(self, sales_order_id: str) -> None: ...

    async def prices(self, item_codes: list[str], currency: str) -> dict[str, Decimal]:
        """List prices per item code (items without a price are absent)."""
        ...

    async def stock(self, item_codes: list[str]) -> dict[tuple[str, str], Decimal]:
        """On hand per (warehouse code, item code)."""
        ...

    async def find_invoice(self, shipment_reference: str) -> str | None: ...

    async def post_invoice(self, invoice: InvoiceRequest) -> str: ...


@runtime_checkable
class ErpLineCancellation(Protocol):
    """An ERP that takes units off an open sales order (a short pick cancelled by policy), so
    its open quantities and allocations end with what will ship. `reference` names the
    cancellation: the same reference again changes nothing."""

    async def cancel_sales_order_lines(
        self, sales_order_id: str, reference: str, lines: tuple[tuple[str, Decimal], ...]
    ) -> None: ...


# --------------------------------------------------------------------------- warehouse


@dataclass(frozen=True, slots=True)
class ReleaseLine:
    line_ref: str
    item_code: str
    quantity: Decimal
    uom: str = "EA"


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    release_reference: str  # order + warehouse: how the release is found again
    warehouse: str
    order_reference: str
    lines: tuple[ReleaseLine, ...]
    ship_to: Address | None
    carrier: str | None = None
    service: str | None = None


@runtime_checkable
class Warehouse(Protocol):
    async def find_release(self, release_reference: str) -> str | None: ...

    async def release(self, release: ReleaseRequest) -> str: ...

    async def cancel_release(self, release_reference: str) -> bool:
        """True when cancelled; False when it is too late (something already shipped)."""
        ...
