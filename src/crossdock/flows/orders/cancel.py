"""Cancellation from the channel, undone as far downstream as the order got.

Before release: cancel the ERP's sales order. After release: ask each warehouse to
cancel its release, then the ERP. After anything shipped, or when a warehouse refuses:
the order goes on (what ships is confirmed and invoiced) and a person decides about a
return or refund on an exception of its own (`order.attention`)."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from crossdock.connectors.capabilities import ErpLineCancellation
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError, Severity, TransientError
from crossdock.flows.inventory import settle_for_order
from crossdock.flows.orders import records, stages
from crossdock.flows.orders.connect import connector, order_settings
from crossdock.flows.orders.stages import Stage
from crossdock.records import Message


def needs_attention(ctx: HandlerContext, order_ref: str, problem: PermanentError, *, while_backordered: bool = False,
                    once: str | None = None) -> None:  # fmt: skip
    """Put `problem` on the exception desk without holding the order's own steps (`once`: a
    name for it, so a step that finds the same problem every round raises it once)."""
    payload = {"order_ref": order_ref, "category": problem.category, "detail": problem.detail,
               "hint": problem.hint, "while_backordered": while_backordered}  # fmt: skip
    key = None if once is None else f"{order_ref}/attention:{hashlib.sha256(once.encode()).hexdigest()[:24]}"
    ctx.emit(stages.ATTENTION, payload, key=key, ordering_key=f"{order_ref}/attention", correlation_id=order_ref)


async def attention(msg: Message, ctx: HandlerContext) -> None:
    """Parks at once with what a person must decide; a retry finds backordered units gone
    (shipped later, cancelled) and ends."""
    p = ctx.payload
    if p.get("while_backordered"):
        rec = await records.find(ctx, p["order_ref"])  # its ordering key is not the order's
        if rec is None or not any(line.backordered > 0 for line in records.canonical(rec).lines):
            return
    raise PermanentError(p["category"], p["detail"], p["hint"], severity=Severity.HIGH, owner=Owner.TENANT)


def backordered(order_ref: str, units: dict[str, Decimal], why: str) -> PermanentError:
    listed = ", ".join(f"{q} of line {line}" for line, q in units.items())
    return PermanentError(
        "business.backordered",
        f"order {order_ref}: {listed} backordered ({why}); nothing ships them until a person acts",
        "Ship them in a later release from the warehouse, or cancel them on the channel so the "
        "customer is told; this exception ends by itself once no unit is backordered.",
        severity=Severity.HIGH,
        owner=Owner.TENANT,
    )


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
        needs_attention(ctx, rec.order_ref, _too_late(rec.order_ref, "units have already shipped"))
        return
    released = [r for r in await records.releases(ctx, rec.order_ref) if r.state == "released"]
    records.save(ctx, rec.evolve(stage=Stage.CANCEL_REQUESTED.value))
    for r in released:
        ctx.emit(stages.CANCEL_RELEASE, {"order_ref": rec.order_ref, "release_ref": r.release_ref})
    ctx.emit(stages.ERP_CANCEL, {"order_ref": rec.order_ref})


async def cancel_release(msg: Message, ctx: HandlerContext) -> None:
    """A warehouse that refuses (it shipped, or picking started) keeps the release: the order
    goes back to `released`, so the shipment on its way is recorded, confirmed to the channel
    and invoiced like any other, and a person decides about a return on an exception of its
    own (`order.attention`), which holds none of the order's steps."""
    rec = await records.load(ctx)
    rel = next(r for r in await records.releases(ctx, rec.order_ref) if r.release_ref == ctx.payload["release_ref"])
    if rel.state != "released":
        return
    wms = await connector(ctx, rel.connection_id, role="wms")
    if await wms.cancel_release(rel.release_ref):
        records.save_release(ctx, rel.evolve(state="cancelled"))
        return
    if Stage(rec.stage) is Stage.CANCEL_REQUESTED:
        records.save(ctx, rec.evolve(stage=Stage.RELEASED.value))
    refused = _too_late(rec.order_ref, f"warehouse {rel.warehouse} would not cancel release {rel.release_ref}: "
                        "it has shipped or started picking, and what it ships is confirmed and invoiced")  # fmt: skip
    needs_attention(ctx, rec.order_ref, refused)


async def erp_cancel_lines(msg: Message, ctx: HandlerContext) -> None:
    """Units that will not ship (a short pick cancelled by policy) come off the ERP's sales
    order, so its open quantity and what it allocates end with what ships. An ERP whose
    connector cannot do it leaves it to a person (`business.erp_lines_not_cancelled`)."""
    rec = await records.find(ctx, ctx.payload["order_ref"])  # its ordering key is not the order's
    if rec is None or not rec.erp_id or Stage(rec.stage) is Stage.CANCELLED:
        return  # the whole sales order is cancelled instead
    if Stage(rec.stage) is Stage.CANCEL_REQUESTED:  # a warehouse may refuse: then the order goes on
        raise TransientError(f"order {rec.order_ref} is being cancelled; its sales order may stay")
    settings = await order_settings(ctx)
    erp = await connector(ctx, settings.erp, role="erp")
    lines = tuple((line["item"], Decimal(line["quantity"])) for line in ctx.payload["lines"])
    if not isinstance(erp, ErpLineCancellation):
        listed = ", ".join(f"{q} × {item}" for item, q in lines)
        raise PermanentError(
            "business.erp_lines_not_cancelled",
            f"sales order {rec.erp_number or rec.erp_id} of {rec.order_ref} still holds {listed}, which will not ship",
            "This ERP's connector cannot reduce a sales order: take the units off it in the ERP, then resolve.",
            owner=Owner.TENANT,
        )
    await erp.cancel_sales_order_lines(rec.erp_id, ctx.payload["reference"], lines)


async def erp_cancel(msg: Message, ctx: HandlerContext) -> None:
    rec = await records.load(ctx)
    if Stage(rec.stage) is not Stage.CANCEL_REQUESTED:
        return  # cancelled already, or a warehouse refused: the ERP keeps the order it ships
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
