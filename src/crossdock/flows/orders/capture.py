"""Capture: a channel's snapshot of an order becomes Crossdock's canonical order, once.

Snapshots arrive duplicated and out of order (orders/updated before orders/create);
the channel's own update time decides which is newer, and an older snapshot changes
nothing. A snapshot that says "cancelled" starts the cancellation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from crossdock.connectors.amazon import codec as amazon_codec
from crossdock.connectors.shopify import codec as shopify_codec
from crossdock.connectors.walmart import codec as walmart_codec
from crossdock.connectors.walmart import order_codec as walmart_orders
from crossdock.domain.order_status import OrderStatus
from crossdock.domain.orders import Order
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError
from crossdock.flows.orders import records, stages
from crossdock.flows.orders.cancel import needs_attention
from crossdock.flows.orders.connect import connector
from crossdock.flows.orders.stages import Stage
from crossdock.records import Message
from crossdock.store.orders import OrderRecord

_EDITABLE = {Stage.RECEIVED, Stage.ON_HOLD}
_CANCELLING = {Stage.CANCELLED, Stage.CANCEL_REQUESTED}


async def order_received(msg: Message, ctx: HandlerContext) -> None:
    order, updated_at = await _decode(msg, ctx)
    rec = await records.find(ctx, order.ref)
    cancelled = order.status is OrderStatus.CANCELLED or msg.kind == stages.CANCELLED
    if cancelled and (rec is None or Stage(rec.stage) not in _CANCELLING):
        # Cancelling is one-way on every channel, and channel times have whole seconds:
        # a cancellation in the same second as the snapshot we hold is not "older".
        await _capture_cancellation(ctx, rec, order, updated_at)
        return
    if rec is not None and _stale(rec.channel_updated_at, updated_at):
        return  # a duplicate or an older snapshot: what we hold is newer (or as new)
    if cancelled:
        return  # cancelled already
    if rec is None:
        rec = OrderRecord(
            tenant_id=msg.tenant_id,
            order_ref=order.ref,
            channel=order.channel,
            channel_order_id=order.channel_order_id,
            connection_id=msg.connection_id or "",
            stage=Stage.RECEIVED.value,
            status=order.status.value,
            document={},
        )
    elif Stage(rec.stage) not in _EDITABLE:
        # Posted already: keep our line progress. Units the channel cancelled since (an order
        # edit, a refund) are a person's to stop downstream: the ERP and the warehouse have them.
        _edited_after_posting(ctx, rec, order, updated_at)
        return
    if acknowledged := rec.document.get("acknowledged_at"):  # Crossdock's fact, not the channel's
        order.acknowledged_at = datetime.fromisoformat(acknowledged)
    held = order.is_on_hold
    rec = records.with_order(rec, order, channel_updated_at=updated_at)
    rec = rec.evolve(stage=(Stage.ON_HOLD if held else Stage.RECEIVED).value, problem=order.hold_reason)
    records.save(ctx, rec)
    if not held:
        ctx.emit(
            stages.VALIDATE,
            {"order_ref": order.ref},
            ordering_key=stages.validate_key(order.ref),
            correlation_id=order.ref,
        )


async def _capture_cancellation(ctx: HandlerContext, rec: OrderRecord | None, order: Order, updated_at: str | None) -> None:
    if rec is None:  # cancelled before we ever saw it open: keep it for the record, nothing downstream
        rec = OrderRecord(
            tenant_id=ctx.message.tenant_id,
            order_ref=order.ref,
            channel=order.channel,
            channel_order_id=order.channel_order_id,
            connection_id=ctx.message.connection_id or "",
            stage=Stage.CANCELLED.value,
            status=order.status.value,
            document={},
        )
        records.save(ctx, records.with_order(rec, order, channel_updated_at=updated_at))
        return
    if not _stale(rec.channel_updated_at, updated_at):
        records.save(ctx, rec.evolve(channel_updated_at=updated_at))
    if Stage(rec.stage) not in _CANCELLING:
        ctx.emit(stages.CANCEL, {"order_ref": rec.order_ref, "reason": "cancelled on the channel"})


def _stale(held: str | None, incoming: str | None) -> bool:
    """ISO-8601 times of one channel compare as text once normalised to UTC 'Z' or offsets alike."""
    return bool(held and incoming and incoming <= held)


async def _decode(msg: Message, ctx: HandlerContext) -> tuple[Order, str | None]:
    payload: dict[str, Any] = ctx.payload
    live = await ctx.services.connections.get(msg.connection_id) if msg.connection_id else None
    kind = live.kind if live else payload.get("channel")
    if kind == "shopify":
        event = payload.get("event", payload)
        return shopify_codec.decode_order(event), _utc(event.get("updated_at"))
    if kind == "amazon":
        raw = payload["order"]
        order = await _decode_amazon(msg, ctx, raw, payload.get("items"))
        return order, _utc(raw.get("LastUpdateDate"))
    if kind == "walmart":
        raw = payload["order"]
        return walmart_codec.decode_order(raw), walmart_orders.updated_at(raw)
    raise PermanentError(
        "config.channel_unknown",
        f"orders from connection {msg.connection_id} of kind {kind!r} cannot be decoded",
        "Order capture supports shopify, amazon and walmart connections.",
        owner=Owner.PARTNER,
    )


async def _decode_amazon(msg: Message, ctx: HandlerContext, raw: dict[str, Any], items: Any) -> Order:
    """getOrders lists no buyer name or street (personal data): an order to fulfil gets its
    address from getOrderAddress. Orders on hold (Pending: no address yet), cancelled or
    shipped are decoded from the listing alone; a later snapshot brings the address."""
    channel = None
    if items is None:
        channel = await connector(ctx, msg.connection_id, role="channel")
        items = await channel.order_items(raw["AmazonOrderId"])
    order = amazon_codec.decode_order(raw, items)
    open_ = order.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_SHIPPED)
    if order.is_on_hold or not open_ or (order.ship_to is not None and order.ship_to.is_complete()):
        return order
    channel = channel or await connector(ctx, msg.connection_id, role="channel")
    address = await channel.order_address(raw["AmazonOrderId"])
    return amazon_codec.decode_order(raw, items, address) if address else order


def _utc(stamp: str | None) -> str | None:
    """Channel times normalised to UTC ISO text, so they compare correctly as strings."""
    if not stamp:
        return None
    from datetime import UTC, datetime

    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC).isoformat()
    except ValueError:
        return stamp


async def shipment_observed(msg: Message, ctx: HandlerContext) -> None:
    """A channel's fulfilment webhook. Fulfilments Crossdock confirmed come back this way;
    the delivery stays in the order's lineage and changes nothing (the warehouse is the
    source of truth for what shipped)."""


def _edited_after_posting(ctx: HandlerContext, rec: OrderRecord, snapshot: Order, updated_at: str | None) -> None:
    """Units the channel cancelled or added beyond what the order (or an earlier snapshot)
    says go to the desk once: the ERP and the warehouse have the order as it was posted. The
    snapshot's cancelled and ordered units are kept so a later update says nothing new."""
    posted = records.canonical(rec).lines
    cancelled = _most(rec.document.get("channel_cancelled"), {line.line_id: line.cancelled for line in posted})
    ordered = _most(rec.document.get("channel_ordered"), {line.line_id: line.ordered for line in posted})
    newly_cancelled = {
        line.line_id: line.cancelled - cancelled[line.line_id]
        for line in snapshot.lines
        if line.line_id in cancelled and line.cancelled > cancelled[line.line_id]
    }
    added = {
        line.line_id: line.ordered - ordered.get(line.line_id, Decimal(0))
        for line in snapshot.lines
        if line.ordered > ordered.get(line.line_id, Decimal(0))
    }
    document = dict(rec.document)
    if seen := {line.line_id: str(line.cancelled) for line in snapshot.lines if line.cancelled > 0}:
        document["channel_cancelled"] = seen
    if added:
        latest = _most({line.line_id: str(line.ordered) for line in snapshot.lines}, ordered)
        document["channel_ordered"] = {line_id: str(q) for line_id, q in latest.items()}
    records.save(ctx, rec.evolve(channel_updated_at=updated_at, document=document))
    changes = [f"cancelled {q} of line {line}" for line, q in newly_cancelled.items()]
    changes += [f"added {q} to line {line}" if line in ordered else f"added line {line} ({q})"
                for line, q in added.items()]  # fmt: skip
    if not changes:
        return
    problem = PermanentError(
        "business.channel_edit_after_posting",
        f"order {rec.order_ref}: the channel {', '.join(changes)} after the order reached the ERP "
        f"(stage {rec.stage})",
        "Cancelled units: reduce the lines in the ERP and ask the warehouse to hold them, or ship "
        "and refund on the channel. Added units: add them to the ERP sales order and ship them, or "
        "take them off on the channel. Resolve this exception once decided.",
    )
    needs_attention(ctx, rec.order_ref, problem)


def _most(seen: dict[str, str] | None, posted: dict[str, Decimal]) -> dict[str, Decimal]:
    """Per line, the larger of what the posted order says and an earlier snapshot reported."""
    out = dict(posted)
    for line_id, quantity in (seen or {}).items():
        out[line_id] = max(out.get(line_id, Decimal(0)), Decimal(quantity))
    return out
