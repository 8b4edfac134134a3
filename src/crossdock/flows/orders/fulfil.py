"""Posting to the ERP and releasing to warehouses: each external effect exactly once.

Every command carries a deterministic reference (the order's external reference, the
release reference). A step whose earlier attempt may have taken effect (any attempt after
the first, one retried from the exception desk, a resubmission: `Message.tried_before`)
looks the reference up before doing it again."""

from __future__ import annotations

from decimal import Decimal

from crossdock.connectors.capabilities import ReleaseLine, ReleaseRequest, SalesOrderRequest
from crossdock.domain.serde import from_plain
from crossdock.engine.handlers import HandlerContext
from crossdock.flows.inventory import settle_for_order
from crossdock.flows.orders import records, stages
from crossdock.flows.orders.connect import connector, order_settings
from crossdock.flows.orders.stages import Stage
from crossdock.records import Message
from crossdock.store.orders import ReleaseRecord


def sales_order_of(rec) -> SalesOrderRequest:
    return from_plain(SalesOrderRequest, rec.mapped)


async def erp_create(msg: Message, ctx: HandlerContext) -> None:
    rec = await records.load(ctx)
    if rec.erp_id or Stage(rec.stage) in stages.STOPPED_STAGES:
        return  # posted already (or cancelled meanwhile): nothing to do
    settings = await order_settings(ctx)
    erp = await connector(ctx, settings.erp, role="erp")
    request = sales_order_of(rec)
    posted = None
    if msg.tried_before:  # an earlier attempt may have created it: look before creating
        posted = await erp.find_sales_order(request.external_reference)
    if posted is None:
        posted = await erp.create_sales_order(request)
    records.save(ctx, rec.evolve(erp_id=posted.id, erp_number=posted.number, stage=Stage.POSTED.value))
    await settle_for_order(ctx, rec.order_ref, None, "convert")  # by tenant setting (reservations_convert)
    if settings.fulfilment == "erp":  # the ERP runs the warehouse: watch it for shipments
        ctx.emit(stages.ERP_WATCH, {"order_ref": rec.order_ref, "round": 0}, key=watch_key(rec.order_ref, 0))
    else:
        ctx.emit(stages.ROUTE, {"order_ref": rec.order_ref})


def watch_key(order_ref: str, round_: int) -> str:
    """One `order.erp.watch` per order and round (a rerun of a round emits the same one)."""
    return f"{order_ref}:{stages.ERP_WATCH}:{round_}"


async def release(msg: Message, ctx: HandlerContext) -> None:
    ref = ctx.payload["release_ref"]
    rec = await records.load(ctx)
    rel = next((r for r in await records.releases(ctx, rec.order_ref) if r.release_ref == ref), None)
    if rel is None or rel.state != "planned" or Stage(rec.stage) in stages.STOPPED_STAGES:
        return
    wms = await connector(ctx, rel.connection_id, role="wms")
    request = _release_request(rec, rel)
    wms_ref = None
    if msg.tried_before:
        wms_ref = await wms.find_release(ref)
    if wms_ref is None:
        wms_ref = await wms.release(request)
    order = records.canonical(rec)
    for line in rel.lines:
        order.allocate(line["line_ref"], Decimal(line["order_quantity"]))
    records.save_release(ctx, rel.evolve(state="released", wms_ref=wms_ref))
    records.save(ctx, records.with_order(rec, order, stage=Stage.RELEASED.value))


def _release_request(rec, rel: ReleaseRecord) -> ReleaseRequest:
    mapped = sales_order_of(rec)
    return ReleaseRequest(
        release_reference=rel.release_ref,
        warehouse=rel.warehouse,
        order_reference=rec.order_ref,
        lines=tuple(
            ReleaseLine(line["line_ref"], line["item_code"], Decimal(line["quantity"]), line.get("uom", "EA"))
            for line in rel.lines
        ),
        ship_to=mapped.ship_to,
        carrier=mapped.carrier,
        service=mapped.service,
    )
