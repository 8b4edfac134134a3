"""`availability.flush`: the connection's most urgent queued values go to its bulk API.

One flush runs at a time per connection (its ordering key). It sends batches (the
publisher's `max_batch`, or the channel's `publishing.batch_size`; each one call or one
feed) while ready values remain, up to `MAX_BATCHES` or `TIME_BUDGET_S`, then the next
flush is scheduled while values remain. A throttled or failing call after the first
batch ends the flush with what went through. The coalescing window:

- urgent values (to zero, low stock) go at once;
- while a burst is in flight (stock work of the tenant due or running, or publishes of
  this connection not yet queued), only a full batch goes, made of values unchanged for
  `quiet_seconds`, plus values that waited `linger_seconds` (longer by default for feed
  channels, whose feeds are few an hour); a partial batch waits and the flush looks
  again after `recheck_seconds`;
- once the burst is over, everything goes, in batches, most urgent first.

A value equal to what the channel shows (or will show once a feed in flight is
processed) is dropped, not sent. An item listed under more SKUs than one batch holds (a
small `publishing.batch_size`) leaves the queue as an exception of its own
(`config.batch_too_small`) instead of holding every item queued behind it. Feed channels
answer later: the feed's token is stored and `availability.check` asks for its report."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import ROUND_FLOOR

from crossdock.configuration.publishing import linger_for
from crossdock.connectors.inventory_publishing import ItemFailure, StockUpdate
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import ThrottledError, TransientError
from crossdock.flows.availability import kinds
from crossdock.flows.availability.common import (
    ONE,
    URGENT_RANK,
    PackSizes,
    channel_refs,
    connection_of,
    in_listed_units,
    pack_sizes,
    settings_of,
)
from crossdock.flows.availability.connect import publisher
from crossdock.flows.availability.outcome import Entry, report_failures, requeue_stale, sort_result
from crossdock.records import Message
from crossdock.store import publishing as store
from crossdock.store.publishing import Batch, Listing, QueuedValue, Sent

MAX_BATCHES = 8  # batches one flush may send (each its own call or feed) before the next flush
TIME_BUDGET_S = 3.0  # … or until it has run this long
PACE_MAX_WAIT_S = 1.0  # a local throttle estimate up to this long is waited out in the flush
SKIP_MAX = 5_000  # items of earlier batches a pick names to leave out (beyond: read and dropped)


@dataclass(frozen=True)
class Plan:
    rows: list[QueuedValue]
    listings: dict[str, Listing]


async def flush(msg: Message, ctx: HandlerContext) -> None:
    connection = connection_of(ctx)
    tenant, now = msg.tenant_id, ctx.now
    settings = await settings_of(ctx, connection)
    channel = await publisher(ctx, connection)
    size = min(settings.batch_size or channel.max_batch, channel.max_batch)
    quiet, linger = now - settings.quiet_seconds, now - linger_for(settings, channel.channel)
    refs, packs = await channel_refs(ctx, channel.channel), await pack_sizes(ctx, channel.channel)
    taken: set[str] = set()  # items handled by an earlier batch of this flush
    delay, started = settings.recheck_seconds, time.monotonic()

    def read(c) -> Plan:
        # Items taken by earlier batches are still queued until this flush commits: the
        # database skips them while they are few enough to name, else they are read past.
        skip = taken if len(taken) <= SKIP_MAX else ()
        want = size + len(taken) - len(skip)
        if store.burst_in_flight(c, tenant, connection, now):
            rows = store.pick_in_burst(
                c, tenant, connection, want, quiet=quiet, linger=linger, urgent=URGENT_RANK, skip=skip
            )
        else:
            rows = store.pick(c, tenant, connection, want, skip=skip)
        rows = [r for r in rows if r.item not in taken][:size]
        return Plan(rows, store.read_listings(c, tenant, connection, [r.item for r in rows]))

    for batch in range(MAX_BATCHES):
        plan = await ctx.read(read)
        updates, entries, unchanged, oversized = _updates(plan, refs, packs, size)
        if not updates and not unchanged and not oversized:
            break
        delay = 0.0
        taken.update(e.item for e in entries)
        taken.update(item for item, _seq in unchanged)
        if unchanged:
            ctx.stage(lambda c, done=unchanged: store.drop_queued(c, tenant, connection, done))
        if oversized:
            taken.update(oversized)
            await _refuse_oversized(ctx, connection, oversized, size)
        if updates:
            try:
                result = await _paced(channel, updates, started)
            except (ThrottledError, TransientError) as exc:
                if batch == 0:
                    raise  # nothing sent yet: the engine retries the flush
                delay = exc.retry_after if isinstance(exc, ThrottledError) else settings.recheck_seconds
                break  # keep what went through; the next flush carries on
            await _record(ctx, connection, f"f{msg.id}.{batch}", entries, result, settings)
        if time.monotonic() - started > TIME_BUDGET_S:
            break
    _finish(ctx, connection, delay)


async def _paced(channel, updates: list[StockUpdate], started: float):
    """Publish, waiting out the client's own short throttle estimates (a cost bucket refilling)
    within the flush's time budget: a burst then streams at the channel's rate in one flush,
    instead of one flush message per refill (each a claim, reads and a commit, which fell
    behind Shopify's 10 calls a second). A channel's own refusal (429) still ends the flush."""
    waited = None
    while True:
        try:
            return await channel.publish(updates)
        except ThrottledError as exc:
            left = TIME_BUDGET_S - (time.monotonic() - started)
            # (A wait that does not shrink after waiting: the connector's clock is not the
            # real one, e.g. an injected clock; leave the wait to the engine.)
            stuck = waited is not None and exc.retry_after >= waited
            if not exc.local or stuck or exc.retry_after > min(PACE_MAX_WAIT_S, left):
                raise
            waited = exc.retry_after
            await asyncio.sleep(exc.retry_after)


async def _record(ctx: HandlerContext, connection: str, batch_ref: str, entries: list[Entry], result,
                  settings) -> None:  # fmt: skip
    """Stage what the channel answered: confirmed, in a feed awaiting its report, refused."""
    tenant, now = ctx.message.tenant_id, ctx.now
    outcome = sort_result(entries, result)
    pending = None
    if outcome.pending:
        feed = {e.key: (e.item, e.quantity, e.seq) for e in outcome.pending}
        pending = Batch(batch_ref, connection, result.pending or "", feed, "pending", now, 0)
        ctx.emit(
            kinds.CHECK,
            {"connection_id": connection, "batch_ref": batch_ref},
            ordering_key=None,
            correlation_id=f"availability:{connection}",
            connection_id=connection,
            delay_seconds=settings.check_after_seconds,
        )
    in_flight = list({e.item: Sent(e.item, e.quantity, e.seq) for e in outcome.pending}.values())
    refused = [(item, e.seq) for item, (e, _f) in outcome.failed.items()]

    def write(c) -> None:
        store.drop_queued(c, tenant, connection, refused)
        store.mark_sent(c, tenant, connection, in_flight, now)
        store.mark_accepted(c, tenant, connection, outcome.accepted, now)
        if pending is not None:
            store.save_batch(c, tenant, pending)

    ctx.stage(write)
    await report_failures(ctx, connection, outcome.failed)
    requeue_stale(ctx, connection, outcome.stale)


def _updates(
    plan: Plan, refs: dict[str, list[str]], packs: PackSizes, size: int
) -> tuple[list[StockUpdate], list[Entry], list, dict[str, tuple[QueuedValue, int]]]:
    """The batch: one update per listing of each changed item, at most `size` updates. An item
    with more listings than a batch holds can never go: it is set apart (`oversized`)."""
    updates: list[StockUpdate] = []
    entries: list[Entry] = []
    unchanged: list[tuple[str, int]] = []
    oversized: dict[str, tuple[QueuedValue, int]] = {}
    for row in plan.rows:
        listing = plan.listings.get(row.item)
        shown = listing.will_show if listing is not None else None
        if shown is not None and row.quantity == shown:
            unchanged.append((row.item, row.seq))
            continue
        skus = refs.get(row.item) or [row.item]
        remote = listing is not None and listing.remote_ref is not None and len(skus) == 1
        targets = [listing.remote_ref] if remote and listing is not None else skus
        if len(targets) > size:
            oversized[row.item] = (row, len(targets))
            continue
        if len(updates) + len(targets) > size:
            break
        confirmed = listing.confirmed if listing is not None else None
        for sku, ref in zip(skus if not remote else skus[:1], targets, strict=True):
            # In the listing's own unit: a case-pack SKU shows whole cases of the stock units.
            pack = packs.get((row.item, sku), ONE)
            quantity = int(in_listed_units(row.quantity, pack).to_integral_value(ROUND_FLOOR))
            previous = int(in_listed_units(confirmed, pack)) if confirmed is not None else None
            key = f"{row.item}>{ref}@{row.seq}"  # unique even when two items share a SKU
            updates.append(StockUpdate(row.item, str(ref), quantity, previous, key))
            entries.append(Entry(key, row.item, row.quantity, row.seq, row.urgency, remote))
    return updates, entries, unchanged, oversized


async def _refuse_oversized(
    ctx: HandlerContext, connection: str, oversized: dict[str, tuple[QueuedValue, int]], size: int
) -> None:
    """Each item whose listings outnumber a batch leaves the queue as an exception of its own
    (retrying it after the fix publishes its current value), instead of holding every item
    queued behind it."""
    tenant = ctx.message.tenant_id
    failed = {
        item: (
            Entry(f"{item}@{row.seq}", item, row.quantity, row.seq, row.urgency),
            ItemFailure(
                "config.batch_too_small",
                f"item {item} is listed under {listings} listings on connection {connection}, more than "
                f"one batch holds ({size})",
                "Raise the channel's publishing.batch_size to at least the number of listings (up to the "
                "channel's maximum), or map the item to fewer SKUs; then retry this exception.",
            ),
        )
        for item, (row, listings) in oversized.items()
    }
    done = [(row.item, row.seq) for row, _n in oversized.values()]
    ctx.stage(lambda c: store.drop_queued(c, tenant, connection, done))
    await report_failures(ctx, connection, failed)


def _finish(ctx: HandlerContext, connection: str, delay: float) -> None:
    tenant, now = ctx.message.tenant_id, ctx.now
    ctx.stage(lambda c: store.finish_flush(c, tenant, connection, now, delay))
