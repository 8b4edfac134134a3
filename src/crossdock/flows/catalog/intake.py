"""The item master comes in: pulled from the source page by page (`catalog.sync`) or pushed
(`catalog.items`). Each page of records is stored, then every catalog channel's listing of
each record is built and compared with what the channel has:

- unchanged → nothing;
- a required attribute missing (or a value the channel cannot take) → the listing is marked
  blocked and one `catalog.item.publish` is emitted, which parks: the per-item exception;
- a listing blocked or refused before → `catalog.item.publish` (behind the open exception of
  the same item and connection, which it waits for);
- changed, on a feed channel (Amazon) → queued for the connection's next feed;
- changed, on Shopify → `catalog.item.publish`, one productSet per item.
"""

from __future__ import annotations

import json

from crossdock.domain.catalog import ItemRecord, ItemRecordError
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError
from crossdock.flows.catalog import kinds
from crossdock.flows.catalog.channels import Channel, catalog_settings, channels, item_source
from crossdock.flows.catalog.listings import block, build, emit_feed, emit_item, item_key, queue
from crossdock.records import Message
from crossdock.store import catalog as store


async def sync(msg: Message, ctx: HandlerContext) -> None:
    """One page of the source's item master → `catalog.items`; the next page → `catalog.sync`."""
    section, _kinds = await catalog_settings(ctx)
    payload = ctx.payload if isinstance(ctx.payload, dict) else {}
    cid = payload.get("connection_id") or (section.source if section else None)
    if not cid:
        raise PermanentError(
            "config.catalog_source_missing",
            f"tenant {msg.tenant_id} has no catalog source to pull the item master from",
            "Set catalog.source to the tenant's ERP connection and apply the configuration, then retry.",
            owner=Owner.PARTNER,
        )
    source = await item_source(ctx, cid)
    page_size = section.page_size if section else 500
    page = await source.item_master(payload.get("after"), page_size)
    if page.records:
        ctx.emit(kinds.ITEMS, {"source": cid, "items": page.records}, ordering_key=None)
    if page.next_after:
        ctx.emit(kinds.SYNC, {"connection_id": cid, "after": page.next_after}, connection_id=cid)


async def items_received(msg: Message, ctx: HandlerContext) -> None:
    records = _records(ctx)
    tenant = msg.tenant_id
    codes = [r.code for r in records]
    section, kinds_by_id = await catalog_settings(ctx)

    def load(c):
        return store.item_digests(c, tenant, codes), store.read_listings(c, tenant, codes)

    stored, rows = await ctx.read(load)
    changed = [(r.code, _json(r), r.digest) for r in records if stored.get(r.code) != r.digest]
    source = str(ctx.payload.get("source") or "")[:64] or None
    if changed:
        ctx.stage(lambda c: store.save_items(c, tenant, changed, source, ctx.now))
    for channel in await channels(ctx, section, kinds_by_id):
        _plan(ctx, channel, records, rows)


def _plan(ctx: HandlerContext, channel: Channel, records: list[ItemRecord], rows: dict) -> None:
    encoder = channel.publisher(ctx)
    cid, queued = channel.connection_id, False
    for record in records:
        row = rows.get((cid, record.code))
        built = build(channel, encoder, record)
        if row is not None and row.digest == built.digest:
            continue  # unchanged, or the same problem already reported
        key = item_key(cid, record.code, row, built)
        if built.problem is not None:
            block(ctx, channel, row, built)
            emit_item(ctx, cid, record.code, key=key)
        elif (row is not None and row.status in (store.BLOCKED, store.REJECTED)) or not channel.feeds:
            emit_item(ctx, cid, record.code, key=key)
        else:
            queue(ctx, channel, row, built)
            queued = True
    if queued:
        emit_feed(ctx, channel)


def _records(ctx: HandlerContext) -> list[ItemRecord]:
    items = ctx.payload.get("items") if isinstance(ctx.payload, dict) else None
    if not isinstance(items, list):
        raise _malformed(ctx, "the payload has no 'items' list")
    try:
        records = [ItemRecord.from_plain(i) for i in items]
    except ItemRecordError as exc:
        raise _malformed(ctx, str(exc)) from exc
    by_code = {r.code: r for r in records}  # the last record of a code wins
    return list(by_code.values())


def _malformed(ctx: HandlerContext, detail: str) -> PermanentError:
    return PermanentError(
        "validation.catalog_payload",
        f"{ctx.message.kind} message {ctx.message.id}: {detail}",
        "Fix the item master feed (one JSON object with a code per item), then resubmit.",
        owner=Owner.PARTNER,
    )


def _json(record: ItemRecord) -> str:
    return json.dumps(record.fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
