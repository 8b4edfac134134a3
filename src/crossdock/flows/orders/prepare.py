"""Before the ERP sees anything: map, validate, price-check; then route to warehouses.

Every problem becomes a typed exception naming the offending value and how to fix
it (`mapping.sku_unknown`, `validation.address_incomplete`, `business.price_mismatch`,
...). After the operator fixes the mapping, retrying the exception runs this step
again on the same order."""

from __future__ import annotations

import time
from decimal import Decimal

from crossdock.connectors.capabilities import SalesOrderLine, SalesOrderRequest
from crossdock.domain.errors import DomainError
from crossdock.domain.mapping_rules import MappedOrder
from crossdock.domain.money import Money
from crossdock.domain.routing import Release, RouteLine, RoutingPlan, route
from crossdock.domain.serde import to_plain
from crossdock.domain.validation import check_order
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import PermanentError, Severity, ThrottledError, TransientError
from crossdock.flows.inventory import reserve_for_order
from crossdock.flows.orders import records, stages
from crossdock.flows.orders.cancel import backordered, needs_attention
from crossdock.flows.orders.connect import connector, order_settings
from crossdock.flows.orders.fulfil import sales_order_of
from crossdock.flows.orders.stages import Stage
from crossdock.flows.tenant_config import tenant_config
from crossdock.records import Message
from crossdock.store.orders import ReleaseRecord

PRICE_CACHE_SECONDS = 300.0
DEFAULT_WAREHOUSE = "MAIN"


def _permanent(error: DomainError) -> PermanentError:
    problems = getattr(error, "problems", None) or [error]
    return PermanentError(
        error.code,
        error.detail,
        error.hint,
        severity=Severity.HIGH,
        context={"problems": [{"category": p.code, "detail": p.detail, "hint": p.hint} for p in problems]},
    )


async def validate(msg: Message, ctx: HandlerContext) -> None:
    rec = await records.load(ctx)
    if Stage(rec.stage) is not Stage.RECEIVED:
        return  # validated already, on hold, or cancelled meanwhile
    order = records.canonical(rec)
    rules = (await tenant_config(ctx)).rules
    try:
        mapped = rules.mappings.map_order(order, rec.channel)
    except DomainError as exc:
        raise _permanent(exc) from exc
    settings = await order_settings(ctx)
    channel = await connector(ctx, rec.connection_id, role="channel")
    acknowledge = getattr(channel, "requires_acknowledgement", False) and order.acknowledged_at is None
    try:
        items = [line.item_code for line in mapped.lines]
        # A step run again (an operator's retry after fixing a price in the ERP) reads the
        # prices afresh: the cached ones are what it was parked on.
        prices = await _price_list(ctx, settings.erp, items, order.currency, fresh=msg.tried_before)
    except (TransientError, ThrottledError):
        if not acknowledge:
            raise
        # The ERP cannot price the order now; the channel's deadline does not wait for it.
        # Acknowledge what passes every other check, then validate again (prices included).
        _check(mapped, rules, None)
        # On the order's key, behind the acknowledgement: run beside it, the next validation
        # would find the order not yet acknowledged and ask again, round after round.
        ctx.emit(stages.ACKNOWLEDGE, {"order_ref": rec.order_ref}, ordering_key=rec.order_ref)
        ctx.emit(stages.VALIDATE, {"order_ref": rec.order_ref}, ordering_key=rec.order_ref)
        return
    _check(mapped, rules, prices)
    request = sales_order_request(mapped)
    records.save(ctx, rec.evolve(mapped=to_plain(request), stage=Stage.VALIDATED.value, problem=None))
    await reserve_for_order(ctx, rec.order_ref, [(line.item_code, line.quantity) for line in request.lines])
    # The order's next steps go back on its own key (validation ran on `validate_key`).
    if acknowledge:  # before the ERP step: an ERP outage never delays the acknowledgement
        ctx.emit(stages.ACKNOWLEDGE, {"order_ref": rec.order_ref}, ordering_key=rec.order_ref)
    ctx.emit(stages.ERP_CREATE, {"order_ref": rec.order_ref}, ordering_key=rec.order_ref)


def _check(mapped: MappedOrder, rules, prices: dict[str, Money] | None) -> None:
    try:
        check_order(
            mapped,
            known_currencies=rules.validation.known_currencies,
            price_list=prices,
            price_tolerance_percent=rules.validation.price_tolerance_percent,
        )
    except DomainError as exc:
        raise _permanent(exc) from exc


async def _price_list(
    ctx: HandlerContext, erp_id: str | None, items: list[str], currency: str, *, fresh: bool = False
) -> dict[str, Money]:
    """ERP list prices, cached per connection for a few minutes (price lists change rarely);
    `fresh`: read them all from the ERP (and keep them)."""
    erp = await connector(ctx, erp_id, role="erp")
    cache = ctx.services.cache_for(erp_id).setdefault(f"prices:{currency}", {})
    now = time.monotonic()
    missing = [i for i in items if fresh or i not in cache or now - cache[i][0] > PRICE_CACHE_SECONDS]
    if missing:
        fetched = await erp.prices(missing, currency)
        for item in missing:
            cache[item] = (now, fetched.get(item))
    return {i: Money(cache[i][1], currency) for i in items if cache[i][1] is not None}


def sales_order_request(mapped: MappedOrder) -> SalesOrderRequest:
    order = mapped.order
    customer = order.customer
    name = (customer.name if customer else None) or (order.ship_to.name if order.ship_to else None) or order.ref
    return SalesOrderRequest(
        external_reference=order.ref,
        currency=order.currency,
        lines=tuple(
            SalesOrderLine(
                line_ref=line.line_id,
                item_code=line.item_code,
                quantity=line.quantity.value,
                uom=line.quantity.uom,
                unit_price=line.unit_price.amount,
                tax_code=line.tax_codes[0] if line.tax_codes else None,
                discount=line.discount.amount,
                order_quantity=line.channel_quantity.value,
            )
            for line in mapped.lines
        ),
        customer_code=mapped.customer.code,
        customer_name=name,
        customer_email=customer.email if customer else None,
        ship_to=order.ship_to,
        bill_to=order.bill_to,
        carrier=mapped.carrier_service.carrier,
        service=mapped.carrier_service.service,
        legal_entity=mapped.legal_entity,
        shipping_amount=order.shipping_total.amount,
        channel=mapped.channel,
    )


async def route_order(msg: Message, ctx: HandlerContext) -> None:
    rec = await records.load(ctx)
    if Stage(rec.stage) is not Stage.POSTED:
        return
    request, order = sales_order_of(rec), records.canonical(rec)
    lines = [RouteLine(line.line_ref, line.item_code, line.quantity) for line in request.lines]
    tenant = msg.tenant_id
    rules = (await tenant_config(ctx)).rules
    settings = await order_settings(ctx)
    if rules.routing is None:
        plan = RoutingPlan((Release(DEFAULT_WAREHOUSE, tuple(lines)),), ())
    else:
        erp = await connector(ctx, settings.erp, role="erp")
        stock = await erp.stock(sorted({line.item_code for line in lines}))
        plan = route(lines, request.ship_to, rules.routing, stock)
    posted = {line.line_ref: line for line in request.lines}

    def in_order_units(line: RouteLine) -> Decimal:
        sent = posted[line.line_id]
        return line.quantity * sent.order_units(order.line(line.line_id).ordered) / sent.quantity

    for release in plan.releases:
        ref = f"{rec.order_ref}@{release.warehouse}"
        rows = [
            {
                "line_ref": line.line_id,
                "item_code": line.item_code,
                "quantity": str(line.quantity),
                "uom": posted[line.line_id].uom,
                "order_quantity": str(in_order_units(line)),
            }
            for line in release.lines
        ]
        conn_id = settings.wms_for(release.warehouse) or ""
        records.save_release(ctx, ReleaseRecord(tenant, ref, rec.order_ref, release.warehouse, conn_id, rows, "planned"))
        ctx.emit(stages.RELEASE, {"order_ref": rec.order_ref, "release_ref": ref})
    for line in plan.backorders:
        order.backorder(line.line_id, in_order_units(line))
    if plan.backorders:
        units = {line.line_id: in_order_units(line) for line in plan.backorders}
        problem = backordered(rec.order_ref, units, "no warehouse could serve them when the order was routed")
        needs_attention(ctx, rec.order_ref, problem, while_backordered=True)
    stage = Stage.RELEASED if plan.releases else Stage.POSTED
    records.save(ctx, records.with_order(rec, order, stage=stage.value))
