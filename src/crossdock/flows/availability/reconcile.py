"""`availability.reconcile`: does each channel show what it should? One page of items per
message (`publishing.reconcile_page`), in item order, so a large catalog is read within the
channel's limits over many short steps and a restart resumes at the page it was on.

For each item availability decided a value for (and none is still on its way: queued, or
in a feed being processed), the channel's figure is read and compared. A difference is a
drift: the figure the channel shows becomes the confirmed one (so a compare-and-set
compares with the truth), the right value is queued through the same outbox as every
publish, and the run's drift report counts it (how many, how far off, since when: the
first run that saw the item off). Items the channel does not list are counted apart."""

from __future__ import annotations

from decimal import Decimal

from crossdock.domain.availability_rules import RANK, urgency_against
from crossdock.engine.handlers import HandlerContext
from crossdock.flows.availability import kinds
from crossdock.flows.availability.common import (
    ONE,
    channel_refs,
    connection_of,
    in_listed_units,
    pack_sizes,
    settings_of,
)
from crossdock.flows.availability.connect import reader
from crossdock.records import Message
from crossdock.store import drift
from crossdock.store import publishing as store
from crossdock.store.drift import Observation, PageStats
from crossdock.store.messages import SEQ
from crossdock.store.publishing import QueuedValue


async def reconcile(msg: Message, ctx: HandlerContext) -> None:
    connection = connection_of(ctx)
    tenant, now, payload = msg.tenant_id, ctx.now, ctx.payload
    first = "run_id" not in payload
    run_id = str(payload.get("run_id") or f"{connection}-{msg.id}")
    after = payload.get("after")
    settings = await settings_of(ctx, connection)
    channel = await reader(ctx, connection)
    size = settings.reconcile_page
    page = await ctx.read(lambda c: drift.expected_page(c, tenant, connection, after, size))
    refs, packs = await channel_refs(ctx, channel.channel), await pack_sizes(ctx, channel.channel)
    judged = [e for e in page if not e.busy]
    skus = {e.item: refs.get(e.item) or [e.item] for e in judged}
    levels = await channel.read(sorted({s[0] for s in skus.values()})) if judged else {}

    read = [(e, levels.get(skus[e.item][0])) for e in judged]
    position = SEQ.next(after=msg.seq)
    more = len(page) >= size
    cursor = page[-1].item if page else after

    def write(c) -> None:
        # Judged in the outcome's transaction against the items as they are now: an item
        # published or queued while the channel was read is left to the next run.
        current = drift.still_expected(c, tenant, connection, judged)
        stats, seen, corrections = PageStats(), [], []
        for e, level in read:
            if level is None or level.quantity is None:
                stats.missing += 1
                continue
            if e.item not in current:
                continue
            stats.checked += 1
            # Compared in the listing's unit (whole cases of a case-pack SKU); what it shows is
            # kept in stock units, so a later compare-and-set expects exactly the cases shown.
            pack = packs.get((e.item, skus[e.item][0]), ONE)
            observed, expected = Decimal(level.quantity), in_listed_units(e.expected, pack)
            drifted = observed != expected
            since = None
            if drifted:
                since = e.listing.drift_since if e.listing and e.listing.drift_since else now
                stats.add(e.item, expected, observed, since)
                urgency = urgency_against(expected, observed).value
                corrections.append(QueuedValue(e.item, e.expected, urgency, RANK[urgency], position))
            listing_ref = level.listing_ref if len(skus[e.item]) == 1 else None
            shows = e.expected if not drifted else observed * (pack or ONE).numerator / (pack or ONE).denominator
            seen.append(Observation(e.item, shows, listing_ref, drifted, since))
        if first:
            drift.start_report(c, tenant, run_id, connection, now)
        drift.record_observations(c, tenant, connection, seen, now)
        drift.add_to_report(c, tenant, run_id, stats, cursor, done=not more, now=now)
        if corrections:
            store.queue_values(c, tenant, connection, corrections, now)
            store.request_flush(c, tenant, connection, now)

    ctx.stage(write)
    if more:
        ctx.emit(
            kinds.RECONCILE,
            {"connection_id": connection, "run_id": run_id, "after": cursor},
            key=f"reconcile:{run_id}:{cursor}",
            ordering_key=None,
            correlation_id=f"reconcile:{run_id}",
            connection_id=connection,
        )
