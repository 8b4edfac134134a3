"""Fulfilment by the ERP (`settings.orders.fulfilment: erp`): no release to a WMS.

The ERP creates the customer shipment when it confirms the sale (Tryton's
`stock.shipment.out`) and the distributor's staff complete it there. `order.erp.watch`
asks the ERP for the sale's shipments; every done one not yet recorded ships the order's
lines and is confirmed to the channel and invoiced, as a WMS shipment would be
(`warehouse.record_shipment`). While units stay open, the watch runs again after
`settings.orders.erp_watch_seconds`, one message per round.

The ERP counts in its items and units (12 EA); the channel in its own (1 CASE). The
order's mapped sales order holds both per line, so shipped quantities are converted back
line by line; an item on several lines fills them in order."""

from __future__ import annotations

from decimal import Decimal

from crossdock.connectors.capabilities import SalesOrderRequest
from crossdock.connectors.erp_fulfilment import CANCELLED, ErpFulfilment, ErpShipment
from crossdock.domain.order_lines import in_line_units
from crossdock.domain.orders import Order
from crossdock.domain.shipments import Shipment, ShipmentLine
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError, Severity
from crossdock.flows.orders import records, stages
from crossdock.flows.orders.cancel import needs_attention
from crossdock.flows.orders.connect import connector, order_settings
from crossdock.flows.orders.fulfil import sales_order_of, watch_key
from crossdock.flows.orders.stages import Stage
from crossdock.flows.orders.warehouse import package_for, record_shipment
from crossdock.records import Message
from crossdock.store.orders import OrderRecord

DONE_STAGES = frozenset({*stages.STOPPED_STAGES, Stage.SHIPPED})


async def erp_watch(msg: Message, ctx: HandlerContext) -> None:
    rec = await records.load(ctx)
    if not rec.erp_id or Stage(rec.stage) in DONE_STAGES:
        return  # nothing posted, everything shipped, or cancelled meanwhile: stop watching
    settings = await order_settings(ctx)
    erp = await connector(ctx, settings.erp, role="erp")
    if not isinstance(erp, ErpFulfilment):
        raise PermanentError(
            "config.erp_fulfilment_unsupported",
            f"the ERP connection {settings.erp} cannot report shipments, but tenant {rec.tenant_id} "
            "has settings.orders.fulfilment: erp",
            "Use an ERP that ships (Tryton), or set settings.orders.fulfilment to wms, then retry.",
            owner=Owner.PARTNER,
        )
    found = await erp.shipments_of(rec.erp_id)
    known = {s.shipment_ref for s in await records.shipments(ctx, rec.order_ref)}
    request, order = sales_order_of(rec), records.canonical(rec)
    for erp_shipment in found:
        ref = f"{rec.order_ref}#{erp_shipment.reference}"
        if not erp_shipment.done or ref in known:
            continue
        shipped = _ship(order, request, erp_shipment)
        if not shipped:
            continue  # nothing of it is open on the order any more
        lines = tuple(ShipmentLine(line_id, units, sku) for line_id, (units, _, sku) in shipped.items())
        shipment = Shipment(
            shipment_id=ref,
            order_ref=rec.channel_order_id,
            lines=lines,
            carrier=erp_shipment.carrier or request.carrier,
            service=request.service,
            tracking_number=erp_shipment.tracking_number,
            shipped_at=erp_shipment.shipped_at,
            packages=(package_for(ref, erp_shipment.tracking_number, None, lines),),
        )
        erp_quantities = {line_id: erp_qty for line_id, (_, erp_qty, _) in shipped.items()}
        await record_shipment(ctx, rec, order, shipment, erp_quantities)
    if any(line.open > 0 for line in order.lines):
        _cancelled_in_erp(ctx, rec, order, found)
        _watch_again(ctx, rec, int(ctx.payload.get("round", 0)) + 1, settings.erp_watch_seconds)


def _cancelled_in_erp(ctx: HandlerContext, rec: OrderRecord, order: Order, found: list[ErpShipment]) -> None:
    """Units are open but every shipment the ERP made for them is done or cancelled: nothing
    ships them until someone acts in the ERP (Tryton: handle the sale's shipment exception, by
    a new shipment or by ignoring the units). Raised once per set of cancelled shipments; the
    watch goes on, so a new shipment is still seen."""
    cancelled = sorted(s.reference for s in found if s.state == CANCELLED)
    if not cancelled or any(not s.done and s.state != CANCELLED for s in found):
        return
    open_units = ", ".join(f"{line.open} of line {line.line_id}" for line in order.lines if line.open > 0)
    problem = PermanentError(
        "business.erp_shipment_cancelled",
        f"order {rec.order_ref}: the ERP cancelled shipment {', '.join(cancelled)} of sales order "
        f"{rec.erp_number or rec.erp_id}; {open_units} will not ship unless the ERP ships them again",
        "In the ERP, ship the units again (a new shipment is confirmed to the channel as usual), or "
        "cancel them on the channel so the customer is told; then resolve this exception.",
        severity=Severity.HIGH,
        owner=Owner.TENANT,
    )
    needs_attention(ctx, rec.order_ref, problem, once="erp-cancelled:" + ",".join(cancelled))


def _ship(order: Order, request: SalesOrderRequest, erp_shipment: ErpShipment) -> dict[str, tuple]:
    """Ship the ERP shipment's quantities on `order`'s lines: per order line, the channel
    units shipped, the ERP quantity and the channel SKU."""
    shipped: dict[str, tuple[Decimal, Decimal, str | None]] = {}
    for item_code, quantity in erp_shipment.lines:
        rest = quantity
        for mapped in (m for m in request.lines if m.item_code == item_code):
            line = order.line(mapped.line_ref)
            basis = mapped.order_units(line.ordered)  # these order units are `mapped.quantity` ERP units
            erp_qty = min(rest, in_line_units(line.open, mapped.quantity, basis, mapped.quantity))
            if erp_qty <= 0:
                continue
            units = in_line_units(erp_qty, basis, mapped.quantity, line.open)
            order.ship(mapped.line_ref, units)
            before = shipped.get(mapped.line_ref, (Decimal(0), Decimal(0), None))
            shipped[mapped.line_ref] = (before[0] + units, before[1] + erp_qty, line.sku)
            rest -= erp_qty
            if rest <= 0:
                break
    return shipped


def _watch_again(ctx: HandlerContext, rec: OrderRecord, round_: int, seconds: float) -> None:
    payload = {"order_ref": rec.order_ref, "round": round_}
    ctx.emit(stages.ERP_WATCH, payload, key=watch_key(rec.order_ref, round_), delay_seconds=seconds)
