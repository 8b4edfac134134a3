"""Stock from the ERP or WMS: snapshots set positions, adjustments add to them; then every
item touched is recomputed (`inventory.changed`, ordering key: the item)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from crossdock.domain.availability import Adjustment, Inbound, Position
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError
from crossdock.flows.inventory import kinds
from crossdock.records import Message
from crossdock.store import inventory as store

T = TypeVar("T")


async def snapshot(msg: Message, ctx: HandlerContext) -> None:
    positions = _parse(ctx, "positions", _position)
    source = ctx.payload.get("source")
    ctx.stage(lambda c: store.apply_snapshot(c, msg.tenant_id, positions, source, ctx.now))
    changed(ctx, [p.item for p in positions])


async def adjusted(msg: Message, ctx: HandlerContext) -> None:
    adjustments = _parse(ctx, "adjustments", _adjustment)
    source = ctx.payload.get("source")
    ctx.stage(lambda c: store.apply_adjustments(c, msg.tenant_id, adjustments, source, ctx.now))
    changed(ctx, [a.item for a in adjustments])


def changed(ctx: HandlerContext, items: list[str]) -> None:
    """One `inventory.changed` per distinct item, in the item's own order."""
    for item in dict.fromkeys(items):
        ctx.emit(kinds.CHANGED, {"item": item}, ordering_key=item)


def _parse(ctx: HandlerContext, field: str, build: Callable[[dict], T]) -> list[T]:
    entries = ctx.payload.get(field) if isinstance(ctx.payload, dict) else None
    if not isinstance(entries, list):
        raise malformed(ctx, f"the payload has no {field!r} list")
    try:
        return [build(e) for e in entries]
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise malformed(ctx, f"an entry of {field!r} is malformed ({exc!r})") from exc


def malformed(ctx: HandlerContext, detail: str) -> PermanentError:
    return PermanentError(
        "validation.inventory_payload",
        f"{ctx.message.kind} message {ctx.message.id}: {detail}",
        "Fix the stock feed (item, location and decimal quantities per entry), then resubmit.",
        owner=Owner.PARTNER,
    )


def quantity(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a quantity: {value!r}")
    q = Decimal(str(value))
    if not q.is_finite():
        raise ValueError(f"not a quantity: {value!r}")
    return q


def _inbound(entries: Any) -> tuple[Inbound, ...]:
    return tuple(Inbound(quantity(i["quantity"]), date.fromisoformat(i["expected"])) for i in entries or ())


def _position(e: dict) -> Position:
    return Position(
        str(e["item"]),
        str(e["location"]),
        quantity(e.get("on_hand", 0)),
        quantity(e.get("allocated", 0)),
        quantity(e.get("unavailable", 0)),
        _inbound(e.get("inbound")),
    )


def _adjustment(e: dict) -> Adjustment:
    return Adjustment(
        str(e["item"]),
        str(e["location"]),
        quantity(e.get("on_hand", 0)),
        quantity(e.get("allocated", 0)),
        quantity(e.get("unavailable", 0)),
        _inbound(e["inbound"]) if "inbound" in e else None,
    )
