"""Base prices and effective-dated entries: what they are, and when each item is recomputed.

`pricing.poll` reads the ERP's price list and emits `pricing.base_changed` with the rows that
differ from the stored ones (nothing when none do); any other feed may push
`pricing.base_changed` itself. `pricing.entries` sets or cancels effective-dated prices.
Every item touched is recomputed (`pricing.changed`, ordering key: the item), and each entry
schedules a delayed `pricing.due` at its start and at its end, so its price publishes when
it starts and reverts when it ends."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from crossdock.configuration.pricing import BasePriceInput, PriceEntryInput
from crossdock.domain.pricing import BasePrice, PriceEntry
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError
from crossdock.flows.pricing import channels, kinds
from crossdock.records import Message, NewMessage
from crossdock.store import pricing as store

ROWS_PER_MESSAGE = 500  # base price rows per pricing.base_changed a poll emits
PAGE = 1000  # items per pricing.recompute


async def poll(msg: Message, ctx: HandlerContext) -> None:
    conn_id = (ctx.payload or {}).get("connection_id") or msg.connection_id
    tenant = msg.tenant_id
    section = await ctx.read(lambda c: store.pricing_section(c, tenant))
    currency = section.base_currency if section is not None else "USD"
    source = await channels.price_list(ctx, conn_id)
    rows = await source.price_list(None, currency)
    known = await ctx.read(lambda c: store.read_base(c, tenant))
    changed = [r for r in rows if known.get(r.item) != r]
    for start in range(0, len(changed), ROWS_PER_MESSAGE):
        chunk = changed[start : start + ROWS_PER_MESSAGE]
        prices = [{"item": b.item, "price": str(b.price), "cost": _text(b.cost)} for b in chunk]
        ctx.emit(
            kinds.BASE_CHANGED,
            {"source": conn_id, "currency": currency, "prices": prices},
            ordering_key="base-prices",
            connection_id=conn_id,
        )


async def base_changed(msg: Message, ctx: HandlerContext) -> None:
    """New base prices (and entries, when the feed has effective-dated ones)."""
    payload = _payload(ctx)
    currency = str(payload.get("currency") or "USD").upper()
    source = str(payload.get("source") or msg.connection_id or "feed")[:64]
    rows = [r.to_domain(currency) for r in _parse(ctx, BasePriceInput, payload.get("prices"))]
    entries = [_entry(ctx, e) for e in _parse(ctx, PriceEntryInput, payload.get("entries"))]
    tenant = msg.tenant_id
    known = await ctx.read(lambda c: store.read_base(c, tenant, [r.item for r in rows]))
    fresh = [r for r in rows if known.get(r.item) != r]
    if fresh:
        ctx.stage(lambda c: store.save_base(c, tenant, fresh, source, ctx.now))
    moved = await _set_entries(ctx, entries, source)
    changed(ctx, [r.item for r in fresh] + [e.item for e in entries] + moved)


async def entries(msg: Message, ctx: HandlerContext) -> None:
    """Set and cancel effective-dated prices; each set entry is scheduled at its start and end."""
    payload = _payload(ctx)
    actor = str(payload.get("actor") or "crossdock")[:200]
    wanted = [_entry(ctx, e) for e in _parse(ctx, PriceEntryInput, payload.get("set"))]
    refs = [str(r) for r in payload.get("cancel") or []]
    tenant = msg.tenant_id
    moved = await _set_entries(ctx, wanted, actor)
    gone = await ctx.read(lambda c: store.live_entries(c, tenant, refs)) if refs else []

    def cancel(c) -> None:
        for ref in refs:
            store.cancel_entry(c, tenant, ref, actor, ctx.now)

    if gone:
        ctx.stage(cancel)
    changed(ctx, [e.item for e in wanted] + [e.item for e in gone] + moved)


async def recompute(msg: Message, ctx: HandlerContext) -> None:
    """Every item with a base price or an entry, `PAGE` at a time (the rules changed)."""
    after = (ctx.payload or {}).get("after") if isinstance(ctx.payload, dict) else None
    tenant = msg.tenant_id
    items = await ctx.read(lambda c: store.priced_items(c, tenant, after, PAGE))
    changed(ctx, items)
    if len(items) == PAGE:
        ctx.emit(kinds.RECOMPUTE, {"after": items[-1]}, ordering_key=None)


async def _set_entries(ctx: HandlerContext, wanted: list[PriceEntry], actor: str) -> list[str]:
    """Stage the entries; answer the items an entry set again under its ref leaves (it moved
    to another item): they are computed again, or they would keep the entry's price."""
    if not wanted:
        return []
    tenant = ctx.message.tenant_id
    stored = await ctx.read(lambda c: store.live_entries(c, tenant, [e.ref for e in wanted]))
    now_for = {e.ref: e.item for e in wanted}
    ctx.stage(lambda c: store.save_entries(c, tenant, wanted, actor, ctx.now))
    for e in wanted:
        for at in (e.starts_at, e.ends_at):
            if at is not None and at > ctx.now:
                ctx.emit(
                    kinds.DUE,
                    {"item": e.item, "ref": e.ref, "at": at},
                    ordering_key=None,  # a delayed message at the head of the item's key would hold it
                    delay_seconds=at - ctx.now,
                )
    return [e.item for e in stored if now_for.get(e.ref) != e.item]


def changed(ctx: HandlerContext, items: Iterable[str]) -> None:
    """One `pricing.changed` per distinct item, in the item's own order."""
    for item in dict.fromkeys(items):
        ctx.emit(kinds.CHANGED, {"item": item}, ordering_key=item, correlation_id=f"price:{item}")


def entries_message(
    tenant_id: str,
    actor: str,
    set_: list[dict[str, Any]] | None = None,
    cancel: list[str] | None = None,
    request_key: str | None = None,
) -> NewMessage:
    """The `pricing.entries` message for a person's change (API, CLI). Each change is its own
    message: set, cancel, set again of the same entry are three changes, and a key made from
    the content would drop the second set as a repeat of the first. A client that sends one
    request twice (a retry after a lost answer) names it with `request_key`; the same key from
    the same actor is one message."""
    payload = {"actor": actor, "set": set_ or [], "cancel": cancel or []}
    key = uuid.uuid4().hex if request_key is None else request_digest(actor, request_key)
    return NewMessage(tenant_id, kinds.ENTRIES, f"price-entries:{key}", payload)


def request_digest(actor: str, request_key: str) -> str:
    """One actor's request named by its client: the same pair, the same digest."""
    return hashlib.sha256(f"{actor}\n{request_key}".encode()).hexdigest()[:32]


# -- payloads ----------------------------------------------------------------------------------------


def _payload(ctx: HandlerContext) -> dict:
    if not isinstance(ctx.payload, dict):
        raise malformed(ctx, "the payload is not an object")
    return ctx.payload


def _parse(ctx: HandlerContext, model: Any, raw: Any) -> list:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise malformed(ctx, "expected a list of entries")
    try:
        return [model.model_validate(e) for e in raw]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise malformed(ctx, problems) from None


def _entry(ctx: HandlerContext, given: PriceEntryInput) -> PriceEntry:
    if not given.ref:
        raise malformed(ctx, f"a price entry for {given.item} has no ref")
    return given.to_domain()


def malformed(ctx: HandlerContext, detail: str) -> PermanentError:
    return PermanentError(
        "validation.pricing_payload",
        f"{ctx.message.kind} message {ctx.message.id}: {detail}",
        "Fix the price feed (item, decimal price and cost, ISO 8601 times per entry), then resubmit.",
        owner=Owner.PARTNER,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


__all__ = ["BasePrice", "base_changed", "changed", "entries", "entries_message", "poll", "request_digest", "recompute"]
