"""Cancellation from the channel, undone as far downstream as the order got.

Before release: cancel the ERP's sales order. After release: ask each warehouse to
cancel its release, then the ERP. After anything shipped: an exception, because
goods are on their way and a person must decide (return, refund)."""

from __future__ import annotations

from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError, Severity
from crossdock.flows.inventory import settle_for_order
from crossdock.flows.orders import records, stages
from crossdock.flows.orders.connect import connector, order_settings
from crossdock.flows.orders.stages import Stage
from crossdock.records import Message


def _too_late(ref: str, what: str) -> PermanentError:
    return PermanentError(
        "business.cancel_after_shipment",
        f"order {ref} was cancelled on the channel, but {what}",
        "Arrange a return or refund with the customer, then resolve this exception.",
        severity=Severity.HIGH,
        owner=Owner.TENANT,
    )


async def cancel(msg: Message, ctx: HandlerContext) -> None:
    rec = await records.load(ctx)
    if Stage(rec.stage) in (Stage.CANCELLED, Stage.CANCEL_REQUESTED):
        return
    if await records.shipments(ctx, rec.order_ref):
        raise _too_late(rec.order_ref, "units have already shipped")
    released = [r for r in await records.releases(ctx, rec.order_ref) if r.state == "released"]
    records.save(ctx, rec.evolve(stage=Stage.CANCEL_REQUESTED.value))
    for r in released:
        ctx.emit(stages.CANCEL_RELEASE, {"order_ref": rec.order_ref, "release_ref": r.release_ref})
    ctx.emit(stages.ERP_CANCEL, {"order_ref": rec.order_ref})


async def cancel_release(msg: Message, ctx: HandlerContext) -> None:
    rec = await records.load(ctx)
    rel = next(r for r in await records.releases(ctx, rec.order_ref) if r.release_ref == ctx.payload["release_ref"])
    if rel.state != "released":
        return
    wms = await connector(ctx, rel.connection_id, role="wms")
    cancelled = await wms.cancel_release(rel.release_ref)
    if not cancelled:
        raise _too_late(rec.order_ref, f"warehouse {rel.warehouse} has already shipped from release {rel.release_ref}")
    records.save_release(ctx, rel.evolve(state="cancelled"))


async def erp_cancel(msg: Message, ctx: HandlerContext) -> None:
    rec = await records.load(ctx)
    if Stage(rec.stage) is Stage.CANCELLED:
        return
    if rec.erp_id:
        settings = await order_settings(ctx)
        erp = await connector(ctx, settings.erp, role="erp")
        await erp.cancel_sales_order(rec.erp_id)
    order = records.canonical(rec) if rec.document else None
    if order is not None and any(line.open > 0 for line in order.lines):
        order.cancel("cancelled on the channel")
        rec = records.with_order(rec, order)
    records.save(ctx, rec.evolve(stage=Stage.CANCELLED.value))
    await settle_for_order(ctx, rec.order_ref, None, "release")
