"""`availability.check`: has the channel processed a submitted feed? Not yet: ask again
after `check_every_seconds`. Processed: its accepted values are confirmed, and each
refused item becomes an exception of its own.

A channel applies a feed when it gets to it, so a value patched at once while an older
feed waited (Amazon: a listing going to zero) can be overwritten by that feed. When the
feed's report comes back and a newer value was confirmed meanwhile, the newer value is
queued again, compared against nothing: one extra call, instead of a listing showing
stock that is gone until reconciliation finds it."""

from __future__ import annotations

from crossdock.domain.availability_rules import RANK, urgency_against
from crossdock.engine.handlers import HandlerContext
from crossdock.flows.availability import kinds
from crossdock.flows.availability.common import connection_of, malformed, settings_of
from crossdock.flows.availability.connect import publisher
from crossdock.flows.availability.outcome import (
    Entry,
    report_failures,
    requeue_stale,
    send_again,
    sort_result,
)
from crossdock.records import Message
from crossdock.store import publishing as store
from crossdock.store.publishing import Listing, QueuedValue, Sent


async def check(msg: Message, ctx: HandlerContext) -> None:
    connection = connection_of(ctx)
    batch_ref = ctx.payload.get("batch_ref")
    tenant, now = msg.tenant_id, ctx.now
    batch = await ctx.read(lambda c: store.get_batch(c, tenant, str(batch_ref)))
    if batch is None or batch.connection_id != connection:
        raise malformed(ctx, f"no feed {batch_ref!r} of connection {connection} is on record")
    if batch.state != "pending":
        return  # checked before (a repeated message)
    channel = await publisher(ctx, connection)
    result = await channel.check(batch.token)
    if result is None:
        settings = await settings_of(ctx, connection)
        ctx.stage(lambda c: store.checked_batch(c, tenant, batch.batch_ref, now, done=False))
        ctx.emit(
            kinds.CHECK,
            {"connection_id": connection, "batch_ref": batch.batch_ref},
            ordering_key=None,
            connection_id=connection,
            delay_seconds=settings.check_every_seconds,
        )
        return
    entries = [Entry(key, item, quantity, seq) for key, (item, quantity, seq) in batch.entries.items()]
    outcome = sort_result(entries, result)
    refused = [Sent(e.item, e.quantity, e.seq) for e, _f in outcome.failed.values()]

    def write(c) -> None:
        store.mark_confirmed(c, tenant, connection, outcome.accepted, now)
        store.mark_refused(c, tenant, connection, refused, now)
        store.checked_batch(c, tenant, batch.batch_ref, now, done=True)
        overtaken = store.overtaken(c, tenant, connection, outcome.accepted)
        send_again(c, tenant, connection, _newer_values(overtaken), now)

    ctx.stage(write)
    await report_failures(ctx, connection, outcome.failed)
    requeue_stale(ctx, connection, outcome.stale)



def _newer_values(overtaken: list[tuple[Sent, Listing]]) -> list[QueuedValue]:
    """The newer value of each overtaken item, as it was confirmed (see `store.overtaken`)."""
    values = []
    for older, listing in overtaken:
        assert listing.confirmed is not None and listing.confirmed_seq is not None
        urgency = urgency_against(listing.confirmed, older.quantity).value
        values.append(QueuedValue(listing.item, listing.confirmed, urgency, RANK[urgency], listing.confirmed_seq))
    return values
