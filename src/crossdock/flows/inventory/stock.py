"""Stock from the ERP or WMS: snapshots set positions, adjustments add to them; then every
item touched is recomputed (`inventory.changed`, ordering key: the item's bucket).

The report is the payload itself, or, for a WMS stock event taken in by webhook intake,
the event's `data` (see `stock_body`); its source defaults to the message's connection."""

from __future__ import annotations

import zlib
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
    source = _source(msg, ctx)
    ctx.stage(lambda c: store.apply_snapshot(c, msg.tenant_id, positions, source, ctx.now))
    changed(ctx, [p.item for p in positions])


async def adjusted(msg: Message, ctx: HandlerContext) -> None:
    adjustments = _parse(ctx, "adjustments", _adjustment)
    source = _source(msg, ctx)
    ctx.stage(lambda c: store.apply_adjustments(c, msg.tenant_id, adjustments, source, ctx.now))
    body = stock_body(ctx)
    order_ref = body.get("order_reference") if body.get("reason") == "shipment" else None
    if isinstance(order_ref, str) and order_ref:
        # The units left on hand and the order's hold on them ends in the same transaction,
        # so they are never counted free in between (nor twice).
        shipped = [(a.item, -a.on_hand) for a in adjustments if a.on_hand < 0]
        ctx.stage(lambda c: store.consume_order(c, msg.tenant_id, order_ref, shipped, ctx.now))
    changed(ctx, [a.item for a in adjustments])


BUCKETS = 16  # ordering buckets of `inventory.changed`: this many run side by side per tenant
CHUNK = 500  # items per `inventory.changed` at most


def changed(ctx: HandlerContext, items: list[str]) -> None:
    """Recompute these items: one `inventory.changed` per ordering bucket (the item's hash),
    so an item's changes stay in order while a burst is computed in few messages."""
    buckets: dict[int, list[str]] = {}
    for item in dict.fromkeys(items):
        buckets.setdefault(zlib.crc32(item.encode()) % BUCKETS, []).append(item)
    for bucket, members in sorted(buckets.items()):
        for start in range(0, len(members), CHUNK):
            chunk = members[start : start + CHUNK]
            payload = {"item": chunk[0]} if len(chunk) == 1 else {"items": chunk}
            ctx.emit(kinds.CHANGED, payload, ordering_key=f"atp:{bucket}")


def stock_body(ctx: HandlerContext) -> Any:
    """The stock report: the payload, or the `data` of a WMS event as intake stores it
    (`{"topic", "webhook_id", "event": {"type": "inventory.adjusted", "data": {...}}}`)."""
    payload = ctx.payload
    event = payload.get("event") if isinstance(payload, dict) else None
    if isinstance(event, dict) and isinstance(event.get("data"), dict):
        return event["data"]
    return payload


def _source(msg: Message, ctx: HandlerContext) -> str | None:
    body = stock_body(ctx)
    source = body.get("source") if isinstance(body, dict) else None
    return source if isinstance(source, str) and source else msg.connection_id


def _parse(ctx: HandlerContext, field: str, build: Callable[[dict], T]) -> list[T]:
    body = stock_body(ctx)
    entries = body.get(field) if isinstance(body, dict) else None
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
