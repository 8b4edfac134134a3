"""Stock from the ERP or WMS: snapshots set positions, adjustments add to them; then every
item touched is recomputed (`inventory.changed`, ordering key: the item's bucket).

The report is the payload itself, or, for a WMS stock event taken in by webhook intake,
the event's `data` (see `stock_body`); its source defaults to the message's connection.
A source that numbers its stock ledger entries puts the `sequence` in the report (an
adjustment: its entry's; a snapshot: the last entry it includes; an entry may carry its
own): positions then merge by sequence whatever order reports arrive in
(`domain.stock_ledger`), and what was ignored or rebased is counted (`stock.<verdict>`)
and logged."""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from crossdock.domain.availability import Adjustment, Inbound, Position
from crossdock.domain.availability_rules import ZERO
from crossdock.domain.stock_ledger import Note, Verdict
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError
from crossdock.flows.inventory import kinds
from crossdock.flows.tenant_config import tenant_config
from crossdock.records import Message
from crossdock.store import inventory as store
from crossdock.store import reservations
from crossdock.store.counters import bump_counter

T = TypeVar("T")
log = logging.getLogger("crossdock.stock")


async def snapshot(msg: Message, ctx: HandlerContext) -> None:
    positions = _parse(ctx, "positions", _position)
    source = _source(msg, ctx)

    def apply(c: Any) -> None:
        notes = []
        for sequence, group in _by_sequence(positions):
            notes += store.apply_snapshot(c, msg.tenant_id, group, source, ctx.now, sequence=sequence)
        _report(c, msg, source, notes)

    ctx.stage(apply)
    changed(ctx, [p.item for p, _ in positions])


async def adjusted(msg: Message, ctx: HandlerContext) -> None:
    adjustments = _parse(ctx, "adjustments", _adjustment)
    source = _source(msg, ctx)
    order_ref = stock_body(ctx).get("order_reference")
    # A tenant whose holds end at the warehouse's shipment event (`reservations_end: shipment`)
    # has the order flow take shipped units off: a source naming the order would do it twice.
    counts_shipments = True
    if isinstance(order_ref, str) and order_ref:
        section = (await tenant_config(ctx)).rules.availability
        counts_shipments = section is None or section.reservations_end == "stock_report"

    def apply(c: Any) -> None:
        notes = []
        for sequence, group in _by_sequence(adjustments):
            notes += store.apply_adjustments(c, msg.tenant_id, group, source, ctx.now, sequence=sequence)
        _report(c, msg, source, notes)
        if isinstance(order_ref, str) and order_ref:
            # The source's allocation (or the units leaving) and the order's hold on them
            # change in the same transaction, so the units are never counted free in between
            # (nor twice): an entry a snapshot counted already still moves the hold once; a
            # duplicate, or an entry that moved it before (reservations.settle_from_stock keeps
            # them), moves nothing.
            taken = {(n.item, n.location, n.sequence) for n in notes if n.verdict is Verdict.DUPLICATE}
            entries = [hold_entry(a, seq, counts_shipments) for a, seq in adjustments
                       if (a.item, a.location, seq) not in taken]  # fmt: skip
            reservations.settle_from_stock(c, msg.tenant_id, order_ref, entries, source, ctx.now)

    ctx.stage(apply)
    changed(ctx, [a.item for a, _ in adjustments])


def hold_entry(a: Adjustment, sequence: int | None, counts_shipments: bool = True) -> reservations.HoldEntry:
    """What an adjustment naming an order says about its units: the signed changes of what the
    source allocates to it and (`counts_shipments`) of on hand."""
    return reservations.HoldEntry(a.item, a.location, sequence, a.allocated, a.on_hand if counts_shipments else ZERO)


def _by_sequence(entries: list[tuple[T, int | None]]) -> list[tuple[int | None, list[T]]]:
    """The report's entries per ledger sequence: those without one first, then oldest first."""
    groups: dict[int | None, list[T]] = {}
    for entry, sequence in entries:
        groups.setdefault(sequence, []).append(entry)
    return sorted(groups.items(), key=lambda g: -1 if g[0] is None else g[0])


def _report(conn: Any, msg: Message, source: str | None, notes: list[Note]) -> None:
    """Count (`stock.<verdict>`, durable) and log the entries not taken as reported: ignored
    as included, duplicate or superseded, a rebased snapshot, another source's ledger."""
    odd = [n for n in notes if n.verdict is not Verdict.APPLIED]
    if not odd:
        return
    verdicts = Counter(n.verdict for n in odd)
    for verdict, count in sorted(verdicts.items()):
        bump_counter(conn, msg.tenant_id, f"stock.{verdict}", count)
    level = logging.WARNING if Verdict.RESTARTED in verdicts else logging.INFO
    e = odd[0]
    log.log(
        level,
        "%s message %s of %s, sequence %s: %s (e.g. %s@%s, position at sequence %s)",
        msg.kind,
        msg.id,
        source,
        e.sequence,
        ", ".join(f"{count} {verdict}" for verdict, count in sorted(verdicts.items())),
        e.item,
        e.location,
        "none" if e.held is None else e.held,
    )


BUCKETS = 4  # ordering buckets of `inventory.changed`: this many run side by side per tenant
CHUNK = 500  # items per `inventory.changed` at most


RECOMPUTE_PAGE = 1000  # items an `inventory.recompute` step hands to `changed`


async def recompute(msg: Message, ctx: HandlerContext) -> None:
    """One page of every item the tenant holds or lists, computed again (rules changed)."""
    after = ctx.payload.get("after") if isinstance(ctx.payload, dict) else None
    items = await ctx.read(lambda c: store.items_page(c, msg.tenant_id, after, RECOMPUTE_PAGE))
    changed(ctx, items)
    if len(items) == RECOMPUTE_PAGE:
        ctx.emit(kinds.RECOMPUTE, {"after": items[-1]}, ordering_key=None, correlation_id=msg.correlation_id)


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


def _parse(ctx: HandlerContext, field: str, build: Callable[[dict], T]) -> list[tuple[T, int | None]]:
    """The report's entries, each with its ledger sequence (its own, or the report's)."""
    body = stock_body(ctx)
    entries = body.get(field) if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise malformed(ctx, f"the payload has no {field!r} list")
    try:
        default = sequence(body.get("sequence"))
    except ValueError as exc:
        raise malformed(ctx, f"the report's sequence is malformed ({exc})") from exc
    try:
        return [(build(e), sequence(e["sequence"]) if "sequence" in e else default) for e in entries]
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise malformed(ctx, f"an entry of {field!r} is malformed ({exc!r})") from exc


def malformed(ctx: HandlerContext, detail: str) -> PermanentError:
    return PermanentError(
        "validation.inventory_payload",
        f"{ctx.message.kind} message {ctx.message.id}: {detail}",
        "Fix the stock feed (item, location and decimal quantities per entry, a whole-number "
        "ledger sequence if any), then resubmit.",
        owner=Owner.PARTNER,
    )


MAX_SEQUENCE = 2**63 - 1  # a BIGINT


def sequence(value: Any) -> int | None:
    """A stock ledger sequence: a whole number from 0 (or its decimal digits as text)."""
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQUENCE:
        raise ValueError(f"not a ledger sequence: {value!r}")
    return value


# Bounds of a stock quantity. Why: a report's "1e30" parsed as a Decimal, then the
# availability's whole-unit rounding raised InvalidOperation (past the context's precision)
# on every attempt, as if the fault were passing, and held the item's channel updates.
MAX_QUANTITY = Decimal(10) ** 12
MIN_EXPONENT = -12  # at most 12 decimal places


def quantity(value: Any) -> Decimal:
    """A stock quantity: a finite decimal number (or its text) under a trillion units in
    magnitude, with at most 12 decimal places; ValueError otherwise, naming the value."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a quantity: {value!r}")
    try:
        q = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a quantity: {value!r}") from None
    if not q.is_finite():
        raise ValueError(f"not a quantity: {value!r}")
    if abs(q) >= MAX_QUANTITY or int(q.as_tuple().exponent) < MIN_EXPONENT:
        raise ValueError(f"quantity {value!r} is out of range (under 10^12 units, at most 12 decimal places)")
    return q


def _inbound(entries: Any) -> tuple[Inbound, ...]:
    if not entries:
        return ()  # most positions expect nothing: no generator per position of a burst
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
