"""After a shipment: tell the channel (with carrier and tracking), invoice it in the ERP, close.

Both steps are keyed by the shipment reference: a retry looks for the channel's
confirmation or the ERP's invoice of that shipment before making another."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from crossdock.connectors.capabilities import ChannelOrderRef, InvoiceRequest
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import TransientError
from crossdock.flows.orders import records, stages
from crossdock.flows.orders.connect import connector, order_settings
from crossdock.flows.orders.fulfil import sales_order_of
from crossdock.flows.orders.stages import Stage
from crossdock.records import Message
from crossdock.store.orders import OrderRecord, ShipmentRecord


def channel_ref(rec: OrderRecord) -> ChannelOrderRef:
    return ChannelOrderRef(rec.channel, rec.channel_order_id)


async def _shipment(ctx: HandlerContext, rec: OrderRecord) -> ShipmentRecord:
    """The step's shipment. It was written in the transaction that emitted this step, so
    not seeing it means a stale read: retry, never end the step without doing it."""
    ref = ctx.payload["shipment_ref"]
    found = next((s for s in await records.shipments(ctx, rec.order_ref) if s.shipment_ref == ref), None)
    if found is None:
        raise TransientError(f"shipment {ref} of order {rec.order_ref} is not visible yet")
    return found


async def confirm_shipment(msg: Message, ctx: HandlerContext) -> None:
    rec = await records.load(ctx)
    srec = await _shipment(ctx, rec)
    if srec.confirmation_ref:
        return
    channel = await connector(ctx, rec.connection_id, role="channel")
    shipment, order = records.shipment_of(srec), channel_ref(rec)
    confirmation = None
    if msg.tried_before:  # the channel may have taken the earlier attempt
        confirmation = await channel.find_shipment_confirmation(order, shipment)
    if confirmation is None:
        confirmation = await channel.confirm_shipment(order, shipment)
    srec = srec.evolve(confirmation_ref=confirmation, confirmed_at=ctx.now)
    records.save_shipment(ctx, srec)
    await _close_if_done(ctx, rec, srec)


async def post_invoice(msg: Message, ctx: HandlerContext) -> None:
    rec = await records.load(ctx)
    srec = await _shipment(ctx, rec)
    if srec.invoice_ref:
        return
    settings = await order_settings(ctx)
    erp = await connector(ctx, settings.erp, role="erp")
    invoice = None
    if msg.tried_before:
        invoice = await erp.find_invoice(srec.shipment_ref)
    if invoice is None:
        request = InvoiceRequest(rec.erp_id or "", srec.shipment_ref, _invoice_lines(rec, srec))
        invoice = await erp.post_invoice(request)
    srec = srec.evolve(invoice_ref=invoice, invoiced_at=ctx.now)
    records.save_shipment(ctx, srec)
    await _close_if_done(ctx, rec, srec)


def _invoice_lines(rec: OrderRecord, srec: ShipmentRecord) -> tuple[tuple[str, Decimal], ...]:
    """Shipped quantities in the ERP's items and units (the release lines carry both)."""
    item_of = {line.line_ref: line for line in sales_order_of(rec).lines}
    out = []
    for line in records.shipment_of(srec).lines:
        mapped = item_of.get(line.line_id)
        if mapped is not None:
            erp_qty = Decimal(srec.document.get("erp_quantities", {}).get(line.line_id, line.quantity))
            out.append((mapped.item_code, erp_qty))
    return tuple(out)


async def _close_if_done(ctx: HandlerContext, rec: OrderRecord, current: ShipmentRecord) -> None:
    if Stage(rec.stage) is not Stage.SHIPPED:
        return
    others = [s for s in await records.shipments(ctx, rec.order_ref) if s.shipment_ref != current.shipment_ref]
    if all(s.confirmation_ref and s.invoice_ref for s in [*others, current]):
        records.save(ctx, rec.evolve(stage=Stage.CLOSED.value))


async def cancel_lines(msg: Message, ctx: HandlerContext) -> None:
    """Tell the channel that units will not ship (short pick cancelled by policy)."""
    rec = await records.load(ctx)
    channel = await connector(ctx, rec.connection_id, role="channel")
    lines = {k: Decimal(v) for k, v in ctx.payload["lines"].items()}
    await channel.cancel_lines(channel_ref(rec), lines, ctx.payload.get("reason", "short pick"))


async def acknowledge(msg: Message, ctx: HandlerContext) -> None:
    """Tell the channel the order is accepted (Walmart: within 4 hours); the order keeps when."""
    rec = await records.load(ctx)
    if Stage(rec.stage) in stages.STOPPED_STAGES:
        return  # cancelled meanwhile: nothing to accept
    order = records.canonical(rec)
    if order.acknowledged_at is not None:
        return
    channel = await connector(ctx, rec.connection_id, role="channel")
    await channel.acknowledge_order(channel_ref(rec))
    order.acknowledge(datetime.fromtimestamp(ctx.now, UTC))
    records.save(ctx, records.with_order(rec, order))


__all__ = ["acknowledge", "cancel_lines", "confirm_shipment", "order_settings", "post_invoice"]
