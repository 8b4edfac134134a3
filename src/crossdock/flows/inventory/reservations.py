"""Reservations: units a captured order holds until the ERP allocates them.

The order flow emits the messages `reservation_messages` builds, from its own handlers:

    for kind, payload, key in reservation_messages(ref, [(item, qty), ...], "reserve"):
        ctx.emit(kind, payload, ordering_key=key)

Each action is idempotent per message; the lines say which units (None: the whole order,
for release, convert and consume). Every item whose reservation changed is recomputed."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from crossdock.domain.availability import ReservationState, reserve, settle
from crossdock.engine.handlers import HandlerContext
from crossdock.flows.inventory import kinds
from crossdock.flows.inventory.stock import changed, malformed, quantity
from crossdock.flows.tenant_config import tenant_config
from crossdock.records import Message
from crossdock.store import reservations as store

Action = Literal["reserve", "release", "convert", "consume"]
_KINDS: dict[str, str] = {
    "reserve": kinds.RESERVE,
    "release": kinds.RELEASE,
    "convert": kinds.CONVERT,
    "consume": kinds.CONSUME,
}
_SETTLED = {
    kinds.RELEASE: ReservationState.RELEASED,
    kinds.CONVERT: ReservationState.CONVERTED,
    kinds.CONSUME: ReservationState.CONSUMED,
}


class ReservationMessage(NamedTuple):
    kind: str
    payload: dict
    key: str  # the ordering key: the order reference, so one order's actions apply in order


def reservation_messages(
    order_ref: str, lines: Iterable[tuple[str, Decimal | int | str]] | None, action: Action
) -> list[ReservationMessage]:
    """The messages that make the order's reservations follow `action` on `lines`.

    `reserve` takes the order's full current lines (an edited order sends them again);
    `release`, `convert` and `consume` take the lines concerned, or None for everything open."""
    if action not in _KINDS:
        raise ValueError(f"unknown reservation action {action!r}; one of {', '.join(_KINDS)}")
    if lines is None and action == "reserve":
        raise ValueError("reserve needs the order's lines")
    payload: dict = {"order_ref": order_ref}
    if lines is not None:
        payload["lines"] = [{"item": item, "quantity": str(qty)} for item, qty in lines]
    return [ReservationMessage(_KINDS[action], payload, order_ref)]


async def reserve_for_order(ctx: HandlerContext, order_ref: str, lines: Iterable[tuple[str, Decimal]]) -> None:
    """From the order flow's validation: the order holds exactly `lines` (item codes, stock
    units) in the same transaction as the step's outcome. Beyond the free stock the step
    fails as `business.insufficient_stock` (unless the tenant accepts orders beyond stock),
    so the order never reaches the ERP on units another order holds. Tenants without an
    `availability:` section keep no reservations."""
    tenant = ctx.message.tenant_id
    section = (await tenant_config(ctx)).rules.availability
    if section is None:
        return
    wanted = [(item, Decimal(qty)) for item, qty in lines]
    within = not section.accept_orders_beyond_stock
    ctx.stage(lambda c: store.reserve_order(c, tenant, order_ref, wanted, ctx.now, within_stock=within))
    changed(ctx, [item for item, _ in wanted])


async def settle_for_order(
    ctx: HandlerContext, order_ref: str, lines: Iterable[tuple[str, Decimal]] | None, action: Action
) -> None:
    """From the order flow: the order's units were released, converted or consumed
    (`lines` None: everything it holds). Applied by the inventory flow, in the order's own order."""
    section = (await tenant_config(ctx)).rules.availability
    if section is None or (action == "consume" and section.reservations_end == "stock_report"):
        return  # consumed by the stock source's shipment adjustment (`stock.adjusted`)
    if action == "convert" and section.reservations_convert != "erp_order":
        return  # converted by the stock source's allocation entry (`stock.adjusted`)
    for kind, payload, key in reservation_messages(order_ref, None if lines is None else list(lines), action):
        ctx.emit(kind, payload, ordering_key=key)


async def reservation(msg: Message, ctx: HandlerContext) -> None:
    """inventory.reserve | release | convert | consume: read, changed and written in the
    outcome's transaction with the order's rows locked, so a stock lane moving the same hold
    at the same moment (store.settle_from_stock) is not overwritten."""
    payload = ctx.payload
    ref = payload.get("order_ref") if isinstance(payload, dict) else None
    if not ref:
        raise malformed(ctx, "the payload names no order_ref")
    lines = _lines(ctx, payload.get("lines"))
    tenant = msg.tenant_id
    held_items = [r.item for r in await ctx.read(lambda c: store.read_reservations(c, tenant, ref))]
    items = held_items if lines is None else [*held_items, *(item for item, _ in lines)]

    def apply(c: Any) -> None:
        held = store.read_reservations(c, tenant, ref, lock=True)
        rows = reserve(held, ref, lines or []) if msg.kind == kinds.RESERVE else settle(held, lines, _SETTLED[msg.kind])
        store.save_reservations(c, tenant, rows, ctx.now)

    ctx.stage(apply)
    if items:
        changed(ctx, items)


def _lines(ctx: HandlerContext, raw) -> list[tuple[str, Decimal]] | None:
    if raw is None:
        return None
    try:
        return [(str(e["item"]), quantity(e["quantity"])) for e in raw]
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise malformed(ctx, f"a line is malformed ({exc!r})") from exc
