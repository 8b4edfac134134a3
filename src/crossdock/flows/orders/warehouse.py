"""Warehouse events: picks, short picks and shipments move the order's lines.

The warehouse counts in the ERP's units (12 EA); the channel in its own (1 CASE).
Release lines carry both quantities, so every event is converted back before it
touches the canonical order or reaches the channel."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from crossdock.connectors.wms_rest.codec import WmsEvent, decode_event
from crossdock.domain.order_lines import in_line_units
from crossdock.domain.orders import Order
from crossdock.domain.serde import to_plain
from crossdock.domain.shipments import Package, Shipment, ShipmentLine, WarehouseEventKind
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError
from crossdock.flows.inventory import settle_for_order
from crossdock.flows.orders import records, stages
from crossdock.flows.orders.cancel import backordered, needs_attention
from crossdock.flows.orders.connect import order_settings
from crossdock.flows.orders.fulfil import sales_order_of
from crossdock.flows.orders.stages import Stage
from crossdock.records import Message
from crossdock.store.orders import OrderRecord, ReleaseRecord, ShipmentRecord


async def warehouse_event(msg: Message, ctx: HandlerContext) -> None:
    event = decode_event(ctx.payload.get("event", ctx.payload))
    rec = await records.load(ctx)
    rel = next((r for r in await records.releases(ctx, rec.order_ref) if r.release_ref == event.release_reference), None)
    if rel is None:
        raise PermanentError(
            "defect.release_unknown",
            f"warehouse {event.warehouse} reported {event.topic} for release {event.release_reference}, "
            f"which order {rec.order_ref} does not have",
            "Check the warehouse's release references; resolve if the event is not Crossdock's.",
            owner=Owner.PARTNER,
        )
    if event.topic == "short_picked":
        await _short_picked(ctx, rec, rel, event)
    elif event.topic == "shipped":
        await _shipped(ctx, rec, rel, event)
    # picked and packed change no quantity; they stay in the order's timeline.


def _items(rel: ReleaseRecord) -> dict[str, str]:
    """Per order line: its item code (what reservations and stock count)."""
    return {line["line_ref"]: line["item_code"] for line in rel.lines}


def _to_order_units(rel: ReleaseRecord, order: Order, quantities: dict[str, Decimal]) -> dict[str, Decimal]:
    """Warehouse quantities per order line, in the order's units (see `in_line_units`)."""
    sizes = {line["line_ref"]: (Decimal(line["order_quantity"]), Decimal(line["quantity"])) for line in rel.lines}
    out = {}
    for line_id, quantity in quantities.items():
        if line_id not in sizes:
            raise PermanentError(
                "business.unknown_release_line",
                f"the warehouse reported line {line_id} on release {rel.release_ref}, which does not hold it",
                "Check the warehouse's event against the release, then resolve or retry.",
            )
        order_units, units = sizes[line_id]
        out[line_id] = in_line_units(quantity, order_units, units, order.line(line_id).open)
    return out


def _per_line(lines) -> dict[str, Decimal]:
    """Quantities per order line; a line reported twice (two lots, two cartons) is summed."""
    total: dict[str, Decimal] = {}
    for line in lines:
        total[line.line_id] = total.get(line.line_id, Decimal(0)) + line.quantity
    return total


async def _short_picked(ctx: HandlerContext, rec: OrderRecord, rel: ReleaseRecord, event: WmsEvent) -> None:
    order = records.canonical(rec)
    policy = (await order_settings(ctx)).short_pick
    cancelled: dict[str, str] = {}
    held: dict[str, Decimal] = {}
    shortfalls = {
        line.line_id: line.shortfall
        for line in event.lines
        if line.kind is WarehouseEventKind.SHORT_PICKED and line.shortfall > 0
    }
    for line_id, units in _to_order_units(rel, order, shortfalls).items():
        if policy == "cancel":
            order.cancel_line(line_id, units, reason="short pick")
            cancelled[line_id] = str(units)
        else:
            order.release_allocation(line_id, units)
            order.backorder(line_id, units)
            held[line_id] = units
    stage = await _stage_after_short_pick(ctx, rec, order)
    records.save(ctx, records.with_order(rec, order, stage=stage.value))
    if stage is Stage.CANCEL_REQUESTED and Stage(rec.stage) is not Stage.CANCEL_REQUESTED:
        ctx.emit(stages.ERP_CANCEL, {"order_ref": rec.order_ref})  # the ERP's sales order too
    if held:
        needs_attention(ctx, rec.order_ref, backordered(rec.order_ref, held, f"short-picked at {rel.warehouse}"),
                        while_backordered=True)  # fmt: skip
    if cancelled:
        ctx.emit(stages.CANCEL_LINES, {"order_ref": rec.order_ref, "lines": cancelled, "reason": "short pick"})
        items = _items(rel)
        short = [(items[line.line_id], line.shortfall) for line in event.lines if line.line_id in cancelled]
        await settle_for_order(ctx, rec.order_ref, short, "release")
        if stage is not Stage.CANCEL_REQUESTED:  # else the whole sales order is cancelled
            # On a key of its own: an ERP that cannot take units off parks this step, not the
            # order's confirmations and invoices.
            # One reference per short pick (a warehouse may report each line's pick on its
            # own): the reporting message's id, the same on every retry of this step.
            payload = {"order_ref": rec.order_ref, "reference": f"{rel.release_ref}#short:{ctx.message.id}",
                       "lines": [{"item": item, "quantity": str(q)} for item, q in short]}  # fmt: skip
            ctx.emit(stages.ERP_CANCEL_LINES, payload, ordering_key=f"{rec.order_ref}/erp-lines",
                     correlation_id=rec.order_ref)  # fmt: skip


async def _stage_after_short_pick(ctx: HandlerContext, rec: OrderRecord, order: Order) -> Stage:
    """A short pick cancelled the last open units: the order is done. Nothing shipped: its
    ERP sales order is cancelled next (`order.erp.cancel` ends it as cancelled); something
    shipped: shipped, or closed when every shipment is confirmed and invoiced already (no
    later step would close it)."""
    stage = Stage(rec.stage)
    if any(line.open > 0 for line in order.lines) or stage in stages.STOPPED_STAGES:
        return stage
    if all(line.shipped == 0 for line in order.lines):
        return Stage.CANCEL_REQUESTED
    shipments = await records.shipments(ctx, rec.order_ref)
    settled = all(s.confirmation_ref and s.invoice_ref for s in shipments)
    return Stage.CLOSED if settled else Stage.SHIPPED


async def _shipped(ctx: HandlerContext, rec: OrderRecord, rel: ReleaseRecord, event: WmsEvent) -> None:
    assert event.shipment is not None
    ref = f"{rel.release_ref}#{event.shipment.shipment_id}"
    if any(s.shipment_ref == ref for s in await records.shipments(ctx, rec.order_ref)):
        return  # the same shipment reported again
    order, w = records.canonical(rec), event.shipment
    erp_quantities = _per_line(w.lines)
    skus = {line.line_id: line.sku for line in reversed(w.lines)}  # a line's first SKU
    units = _to_order_units(rel, order, erp_quantities)
    lines = tuple(ShipmentLine(line_id, quantity, skus[line_id]) for line_id, quantity in units.items())
    for line in lines:
        order.ship(line.line_id, line.quantity)
    shipment = Shipment(
        shipment_id=ref,
        order_ref=rec.channel_order_id,
        lines=lines,
        carrier=w.carrier,
        service=w.service,
        tracking_number=w.tracking_number,
        tracking_url=w.tracking_url,
        shipped_at=w.shipped_at,
        packages=(package_for(ref, w.tracking_number, w.tracking_url, lines),),
        location_ref=rel.warehouse,
    )
    await record_shipment(ctx, rec, order, shipment, erp_quantities, release_ref=rel.release_ref)
    if event.final:
        records.save_release(ctx, rel.evolve(state="done"))


async def record_shipment(
    ctx: HandlerContext,
    rec: OrderRecord,
    order: Order,
    shipment: Shipment,
    erp_quantities: dict[str, Decimal],
    *,
    release_ref: str | None = None,
) -> None:
    """Keep a shipment whose lines `order` has shipped already; confirm it to the channel
    and invoice it; the shipped units no longer hold stock. `erp_quantities`: per order
    line, the quantity in the ERP's units."""
    ref = shipment.shipment_id
    document = to_plain(shipment) | {"erp_quantities": {k: str(v) for k, v in erp_quantities.items()}}
    records.save_shipment(ctx, ShipmentRecord(rec.tenant_id, ref, rec.order_ref, document, release_ref))
    done = all(line.open == 0 for line in order.lines)
    records.save(ctx, records.with_order(rec, order, stage=(Stage.SHIPPED if done else Stage.PARTIALLY_SHIPPED).value))
    ctx.emit(stages.CONFIRM_SHIPMENT, {"order_ref": rec.order_ref, "shipment_ref": ref})
    ctx.emit(stages.POST_INVOICE, {"order_ref": rec.order_ref, "shipment_ref": ref})
    items = {line.line_ref: line.item_code for line in sales_order_of(rec).lines}
    shipped = [(items[k], q) for k, q in erp_quantities.items() if k in items]
    await settle_for_order(ctx, rec.order_ref, shipped, "consume")


def package_for(shipment_ref: str, tracking_number: str | None, tracking_url: str | None, lines) -> Package:
    """The shipment's one package, numbered stably (some channels want a number)."""
    return Package(str(_package_number(shipment_ref)), tracking_number, tracking_url, lines=lines)


def _package_number(shipment_ref: str) -> int:
    """A stable positive number for the shipment's package (some channels want one)."""
    return int(hashlib.sha256(shipment_ref.encode()).hexdigest()[:8], 16) + 1
