"""Shopify as a sales channel: shipment confirmations as fulfillments with tracking.

Confirming a shipment reads the order first (its fulfillment orders, to address the
units, and its fulfillments, to see what was confirmed already), then sends one
`fulfillmentCreate`. The shipment's tracking numbers are how a confirmation is found
again: after an ambiguous failure the flow calls `find_shipment_confirmation` before
confirming again, and `confirm_shipment` itself answers an existing fulfillment
carrying the same tracking instead of creating a second one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from crossdock.connectors.capabilities import ChannelOrderRef
from crossdock.connectors.registry import ConnectorContext, ConnectorKind
from crossdock.connectors.shopify.client import MUTATION_COST, AlreadyFulfilled, Operation, ShopifyClient
from crossdock.connectors.shopify.codec import (
    FULFILLMENT_CREATE_MUTATION,
    FulfillmentOrderLine,
    encode_fulfillment_create,
)
from crossdock.connectors.shopify.config import ShopifyConfig
from crossdock.connectors.shopify.inbound import ShopifyWebhookVerifier
from crossdock.domain.shipments import Shipment
from crossdock.errors import PermanentError, TransientError
from crossdock.records import LineageRecord

MAX_FULFILLMENT_ORDERS = 5
MAX_FO_LINES = 50
MAX_FULFILLMENTS = 20
# Lines read per fulfillment, to tell two shipments under one tracking number apart; a
# fulfillment with more is matched by its tracking number alone (what the query may cost is
# bounded by the store's bucket of 1,000 points).
MAX_FULFILLMENT_LINES = 10
FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})

ORDER_FULFILMENT = Operation(
    root="order",
    text=f"""
query order($id: ID!) {{
  order(id: $id) {{
    id
    cancelledAt
    fulfillmentOrders(first: {MAX_FULFILLMENT_ORDERS}) {{
      nodes {{
        id status
        assignedLocation {{ location {{ id }} }}
        lineItems(first: {MAX_FO_LINES}) {{
          nodes {{ id remainingQuantity lineItem {{ id }} }}
          pageInfo {{ hasNextPage }}
        }}
      }}
      pageInfo {{ hasNextPage }}
    }}
    fulfillments(first: {MAX_FULFILLMENTS}) {{
      id status trackingInfo(first: 10) {{ company number url }}
      fulfillmentLineItems(first: {MAX_FULFILLMENT_LINES}) {{ nodes {{ quantity lineItem {{ id }} }} pageInfo {{ hasNextPage }} }}
    }}
  }}
}}""".strip(),
    # Shopify multiplies nested connections; its own figure replaces this after one answer.
    cost=1 + 2 + MAX_FULFILLMENT_ORDERS * (3 + MAX_FO_LINES) + 2 + MAX_FULFILLMENTS * (2 + MAX_FULFILLMENT_LINES),
)
FULFILLMENT_CREATE = Operation("fulfillmentCreate", FULFILLMENT_CREATE_MUTATION, MUTATION_COST)


@dataclass(frozen=True)
class OpenUnits:
    """One order line's units on one fulfillment order."""

    fulfillment_order_id: str
    line_item_id: str  # the FulfillmentOrderLineItem
    remaining: int


@dataclass(frozen=True)
class OrderFulfilment:
    """What Shopify says about an order's fulfilment, read by one `order` query."""

    cancelled: bool
    known_items: frozenset[str]  # Shopify LineItem numeric ids on any fulfillment order
    open_units: dict[str, list[OpenUnits]]  # Shopify LineItem numeric id → where its units are open
    # (gid, tracking numbers, units per LineItem numeric id or None when not all were read);
    # None: not answered
    fulfillments: list[tuple[str, frozenset[str], dict[str, int] | None]] | None

    def fulfillment_with(self, numbers: frozenset[str], units: dict[str, int]) -> str | None:
        """The fulfillment that is this shipment: one of its tracking numbers and exactly its
        units. A tracking number alone is not enough: a carrier's master or PRO number, or two
        cartons of one release, can carry the same number on two shipments."""
        return next(
            (
                gid
                for gid, tracked, moved in self.fulfillments or ()
                if tracked & numbers and (moved is None or moved == units)
            ),
            None,
        )


class ShopifyChannel:
    """`SalesChannel` for one Shopify store (opened config: secrets in clear)."""

    channel = "shopify"
    requires_acknowledgement = False

    def __init__(self, config: ShopifyConfig, ctx: ConnectorContext) -> None:
        self.config, self.ctx = config, ctx
        self.client = ShopifyClient(config, ctx)

    async def acknowledge_order(self, order: ChannelOrderRef) -> None:
        """Shopify orders need no acknowledgement."""

    async def find_shipment_confirmation(self, order: ChannelOrderRef, shipment: Shipment) -> str | None:
        state = await self._read_order(order)
        if state.fulfillments is None:
            raise PermanentError(
                "remote.unexpected_answer",
                f"Shopify's answer for order {order.channel_order_id} lists no fulfillments; "
                "cannot tell whether the shipment was confirmed",
                "Check the order's fulfillments in the Shopify admin before retrying.",
            )
        numbers = _tracking_numbers(shipment)
        if numbers:
            return state.fulfillment_with(numbers, _units(shipment))
        if not state.fulfillments:
            return None
        raise PermanentError(
            "business.unverifiable_shipment",
            f"shipment {shipment.shipment_id} has no tracking number, and order {order.channel_order_id} "
            "already has fulfillments: cannot tell whether one of them is this shipment",
            "Compare the order's fulfillments in the Shopify admin with the shipment, then retry or resolve.",
        )

    async def confirm_shipment(self, order: ChannelOrderRef, shipment: Shipment) -> str:
        state = await self._read_order(order)
        numbers = _tracking_numbers(shipment)
        if numbers and (found := state.fulfillment_with(numbers, _units(shipment))):
            return found
        if state.cancelled:
            raise PermanentError(
                "business.order_cancelled",
                f"Shopify order {order.channel_order_id} is cancelled; shipment {shipment.shipment_id} "
                "cannot be confirmed on it",
                "Refund or contact the customer in Shopify; resolve this exception.",
            )
        refs = self._units_for(order, shipment, state)
        variables = encode_fulfillment_create(shipment, refs, notify_customer=self.config.notify_customer)
        try:
            payload = await self.client.execute(FULFILLMENT_CREATE, variables)
        except AlreadyFulfilled:
            again = await self._read_order(order)
            if numbers and (found := again.fulfillment_with(numbers, _units(shipment))):
                return found
            raise
        created = ((payload or {}).get("fulfillment") or {}).get("id")
        if not created:  # accepted without saying what it made: look before trying again
            raise TransientError("Shopify fulfillmentCreate answered no fulfillment id", ambiguous=True)
        return str(created)

    async def cancel_lines(self, order: ChannelOrderRef, lines: Mapping[str, Decimal], reason: str) -> None:
        """Not sent: the Shopify store Crossdock drives offers no line cancellation.

        Real Shopify would take an order edit (orderEditBegin, orderEditSetQuantity,
        orderEditCommit) or a refund; neither exists in the sandbox, so the decision is
        kept as a lineage note and the merchant adjusts the order in the Shopify admin.
        """
        note = {
            "note": "cancel_lines not sent: no line cancellation operation is configured for Shopify",
            "order": order.channel_order_id,
            "lines": {order.line_refs.get(k, k): str(q) for k, q in lines.items()},
            "reason": reason,
        }
        self.ctx.record(
            LineageRecord(
                direction="out",
                connection_id=self.ctx.connection_id,
                url=f"shopify:order/{order.channel_order_id}#cancel_lines",
                request_body=orjson.dumps(note).decode(),
                error="not sent",
            )
        )

    # -- reading -------------------------------------------------------------------------

    async def _read_order(self, order: ChannelOrderRef) -> OrderFulfilment:
        node = await self.client.execute(ORDER_FULFILMENT, {"id": _gid("Order", order.channel_order_id)})
        if not isinstance(node, dict):
            raise PermanentError(
                "remote.order_not_found",
                f"Shopify has no order {order.channel_order_id}",
                "Check the order id and that the access token belongs to the order's store.",
            )
        return _read_fulfilment(node, self.config.location_gid)

    def _units_for(
        self, order: ChannelOrderRef, shipment: Shipment, state: OrderFulfilment
    ) -> dict[str, FulfillmentOrderLine]:
        """Each shipment line's fulfillment order line, with enough units open for it."""
        refs = {}
        short = []
        for line in shipment.lines:
            item = _numeric(order.line_refs.get(line.line_id, line.line_id))
            wanted = shipment.quantity_of(line.line_id)
            if item not in state.known_items:
                raise PermanentError(
                    "mapping.line_unknown",
                    f"line {line.line_id} (Shopify line item {item}) is on no fulfillment order of "
                    f"order {order.channel_order_id}",
                    "Check the order line mapping of the shipment, then edit and resubmit.",
                )
            place = next((u for u in state.open_units.get(item, ()) if u.remaining >= wanted), None)
            if place is None:
                short.append(f"{line.line_id} ({wanted} wanted)")
                continue
            refs[line.line_id] = FulfillmentOrderLine(place.fulfillment_order_id, place.line_item_id)
        if short:
            raise AlreadyFulfilled(
                f"Shopify order {order.channel_order_id} has no open units left for lines {', '.join(short)}"
            )
        return refs


def _read_fulfilment(node: dict[str, Any], location: str | None) -> OrderFulfilment:
    fos = node.get("fulfillmentOrders") or {}
    if _more(fos):
        raise _too_big(node, f"more than {MAX_FULFILLMENT_ORDERS} fulfillment orders")
    known: set[str] = set()
    open_units: dict[str, list[OpenUnits]] = {}
    for fo in fos.get("nodes") or ():
        if _more(fo.get("lineItems") or {}):
            raise _too_big(node, f"more than {MAX_FO_LINES} lines on a fulfillment order")
        where = ((fo.get("assignedLocation") or {}).get("location") or {}).get("id")
        usable = fo.get("status") in FULFILLABLE and not (location and where and where != location)
        for li in (fo.get("lineItems") or {}).get("nodes") or ():
            item = _numeric(str((li.get("lineItem") or {}).get("id")))
            known.add(item)
            if usable:
                units = OpenUnits(str(fo["id"]), str(li["id"]), int(li.get("remainingQuantity") or 0))
                open_units.setdefault(item, []).append(units)
    fulfillments = None
    if isinstance(node.get("fulfillments"), list):
        if len(node["fulfillments"]) >= MAX_FULFILLMENTS:
            raise _too_big(node, f"{MAX_FULFILLMENTS} or more fulfillments")
        fulfillments = [
            (
                str(f["id"]),
                frozenset(str(t["number"]) for t in f.get("trackingInfo") or () if t.get("number")),
                _moved(f),
            )
            for f in node["fulfillments"]
        ]
    return OrderFulfilment(bool(node.get("cancelledAt")), frozenset(known), open_units, fulfillments)


def _more(connection: dict[str, Any]) -> bool:
    return bool((connection.get("pageInfo") or {}).get("hasNextPage"))


def _too_big(node: dict[str, Any], what: str) -> PermanentError:
    return PermanentError(
        "remote.unsupported",
        f"Shopify order {node.get('id')} has {what}; Crossdock reads one page",
        "Confirm this shipment in the Shopify admin and resolve the exception.",
    )


def _moved(fulfillment: dict[str, Any]) -> dict[str, int] | None:
    """A fulfillment's units per LineItem numeric id; None when not all its lines were read."""
    lines = fulfillment.get("fulfillmentLineItems")
    if not isinstance(lines, dict) or _more(lines):
        return None
    units: dict[str, int] = {}
    for li in lines.get("nodes") or ():
        item = _numeric(str((li.get("lineItem") or {}).get("id")))
        units[item] = units.get(item, 0) + int(li.get("quantity") or 0)
    return units


def _units(shipment: Shipment) -> dict[str, int]:
    """The shipment's units per Shopify LineItem numeric id (its lines' ids)."""
    units: dict[str, int] = {}
    for line in shipment.lines:
        units[_numeric(line.line_id)] = units.get(_numeric(line.line_id), 0) + int(line.quantity)
    return units


def _tracking_numbers(shipment: Shipment) -> frozenset[str]:
    numbers = {p.tracking_number for p in shipment.packages if p.tracking_number}
    if shipment.tracking_number:
        numbers.add(shipment.tracking_number)
    return frozenset(numbers)


def _gid(kind: str, ident: str) -> str:
    return ident if ident.startswith("gid://") else f"gid://shopify/{kind}/{ident}"


def _numeric(ident: str) -> str:
    return ident.rsplit("/", 1)[-1]


KIND = ConnectorKind(
    "shopify", build=lambda config, ctx: ShopifyChannel(config, ctx), inbound=ShopifyWebhookVerifier()
)
