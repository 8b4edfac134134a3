"""`availability.check`: has the channel processed a submitted feed? Not yet: ask again
after `check_every_seconds`. Processed: its accepted values are confirmed, and each
refused item becomes an exception of its own."""

from __future__ import annotations

from crossdock.engine.handlers import HandlerContext
from crossdock.flows.availability import kinds
from crossdock.flows.availability.common import connection_of, malformed, settings_of
from crossdock.flows.availability.connect import publisher
from crossdock.flows.availability.outcome import Entry, report_failures, requeue_stale, sort_result
from crossdock.records import Message
from crossdock.store import publishing as store
from crossdock.store.publishing import Sent


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

    ctx.stage(write)
    await report_failures(ctx, connection, outcome.failed)
    requeue_stale(ctx, connection, outcome.stale)
