"""Amazon listings feeds for the catalog: queued listings go out together, the processing
report comes back per message.

`catalog.feed.publish` takes the connection's queued listings (oldest first, at most 25,000),
sends them as one JSON_LISTINGS_FEED once the seller's 5-feeds-per-5-minutes window allows
(until then the message waits, no attempt used) and marks them submitted. `catalog.feed.check`
asks for the feed until Amazon has processed it: accepted listings are published; each
refused one is marked rejected and gets a `catalog.item.publish` that parks with Amazon's
issues, so every refusal is its own exception and the rest of the feed is done."""

from __future__ import annotations

import json

from crossdock.connectors.amazon.catalog import FeedOutcome
from crossdock.connectors.amazon.catalog_feed import MAX_MESSAGES, ListingProblem
from crossdock.engine.handlers import HandlerContext
from crossdock.flows.catalog import kinds
from crossdock.flows.catalog.channels import Channel, catalog_settings, channels
from crossdock.flows.catalog.listings import emit_feed, emit_item
from crossdock.records import Message
from crossdock.store import catalog as store
from crossdock.store.catalog import ListingRow

_HINTS = {
    "catalog.attribute_missing": (
        "Amazon requires {names} for this product type: add the value to item {item} in the item master, or "
        "map it under catalog.channels.{cid}.attributes (list it in required so Crossdock checks it before "
        "sending); sync the item master, then retry the exception."
    ),
    "catalog.listing_rejected": (
        "Read Amazon's issue (the processing report is in this feed's lineage); correct item {item} or the "
        "mapping under catalog.channels.{cid}, sync, then retry. Retrying sends the listing again as it is now."
    ),
    "catalog.feed_not_processed": (
        "Amazon processed none of feed {feed}; retry to send the listing again. If feeds keep failing, check "
        "the feed in Seller Central and report it."
    ),
}


async def _channel(ctx: HandlerContext) -> Channel | None:
    cid = str(ctx.payload.get("connection_id") or "")
    section, kinds_by_id = await catalog_settings(ctx)
    if section is None or cid not in section.channels:
        return None
    (channel,) = await channels(ctx, section, kinds_by_id, only=cid)
    return channel if channel.feeds else None


async def publish_feed(msg: Message, ctx: HandlerContext) -> None:
    channel = await _channel(ctx)
    if channel is None:
        return
    tenant, cid = msg.tenant_id, channel.connection_id
    rows = await ctx.read(lambda c: store.queued(c, tenant, cid, MAX_MESSAGES))
    if not rows:
        return
    feed_id = await channel.publisher(ctx).submit([json.loads(r.document or "{}") for r in rows])
    entries = [(r.item_code, r.digest, n) for n, r in enumerate(rows, start=1)]
    ctx.stage(lambda c: store.mark_submitted(c, tenant, cid, feed_id, entries, ctx.now))
    _check_later(ctx, channel, feed_id, 0)
    if len(rows) == MAX_MESSAGES:
        ctx.emit(kinds.FEED_PUBLISH, {"connection_id": cid}, connection_id=cid)  # the rest, in the next feed


def _check_later(ctx: HandlerContext, channel: Channel, feed_id: str, round_: int) -> None:
    cid = channel.connection_id
    ctx.emit(
        kinds.FEED_CHECK,
        {"connection_id": cid, "feed_id": feed_id, "round": round_},
        key=f"catalog.feed.check:{cid}:{feed_id}:{round_}",
        ordering_key=None,  # a waiting check must not hold the next feed back
        correlation_id=f"catalog-feed:{cid}",
        connection_id=cid,
        delay_seconds=channel.settings.feed_check_seconds,
    )


async def check_feed(msg: Message, ctx: HandlerContext) -> None:
    channel = await _channel(ctx)
    if channel is None:
        return
    tenant, cid, feed_id = msg.tenant_id, channel.connection_id, str(ctx.payload.get("feed_id"))
    outcome = await channel.publisher(ctx).outcome(feed_id)
    if outcome is None:
        _check_later(ctx, channel, feed_id, int(ctx.payload.get("round") or 0) + 1)
        return

    def load(c):
        return store.in_feed(c, tenant, cid, feed_id), store.count_queued(c, tenant, cid)

    rows, waiting = await ctx.read(load)
    accepted, rejected = [], []
    for row in rows:
        why = _refusal(outcome, row, cid, feed_id)
        if why is None:
            accepted.append((row.item_code, row.digest))
        else:
            rejected.append((row.item_code, row.digest, why))
            emit_item(ctx, cid, row.item_code, rejected_in_feed=feed_id)
    ctx.stage(lambda c: store.settle_feed(c, tenant, cid, feed_id, accepted, rejected, ctx.now))
    if waiting:
        emit_feed(ctx, channel)  # listings queued meanwhile whose feed has not been asked for


def _refusal(outcome: FeedOutcome, row: ListingRow, cid: str, feed_id: str) -> dict | None:
    if outcome.failed is not None:
        problem = ListingProblem("catalog.feed_not_processed", f"the feed ended {outcome.failed}", ())
        owner = "partner"
    else:
        found = outcome.problems.get(row.feed_message or 0)
        if found is None:
            return None
        problem, owner = found, "tenant"
    names = ", ".join(problem.attributes) or "attributes"
    detail = (
        f"Amazon refused the listing of item {row.item_code} (SKU {row.sku}) on {cid}, feed {feed_id} "
        f"message {row.feed_message}: {problem.detail}"
    )
    hint = _HINTS[problem.category].format(names=names, item=row.item_code, cid=cid, feed=feed_id)
    return {
        "category": problem.category,
        "detail": detail,
        "hint": hint,
        "owner": owner,
        "item": row.item_code,
        "connection_id": cid,
        "feed_id": feed_id,
        "attributes": list(problem.attributes),
    }
