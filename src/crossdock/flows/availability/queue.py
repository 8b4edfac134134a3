"""`availability.publish`: a decided quantity joins the connection's outbox, latest wins.

The handler only writes: the value is upserted into `publish_queue` (a newer value, by
the message clock, is never replaced by an older one) and one flush of the connection is
scheduled if none is. Many publishes of one burst therefore make one flush, and an item
that changes ten times is sent once, with its last value."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from crossdock.domain.availability_rules import RANK, urgency_against
from crossdock.engine.handlers import HandlerContext
from crossdock.flows.availability.common import connection_of, malformed
from crossdock.records import Message
from crossdock.store import publishing as store
from crossdock.store.messages import SEQ
from crossdock.store.publishing import QueuedValue


async def publish(msg: Message, ctx: HandlerContext) -> None:
    connection = connection_of(ctx)
    wanted = _updates(ctx)
    await queue(ctx, connection, wanted, msg.seq)


async def queue(
    ctx: HandlerContext,
    connection: str,
    wanted: dict[str, tuple[Decimal, str | None]],
    seq: int | None = None,
) -> None:
    """Stage `wanted` (item → (quantity, stated urgency)) into the outbox, urgency judged
    against what the channel shows; `seq` None: a fresh position on the message clock."""
    tenant = ctx.message.tenant_id
    listings = await ctx.read(lambda c: store.read_listings(c, tenant, connection, wanted))
    position = seq if seq is not None else SEQ.next(after=ctx.message.seq)
    values = []
    for item, (quantity, given) in wanted.items():
        listing = listings.get(item)
        urgency = urgency_against(quantity, listing.will_show if listing else None, given)
        values.append(QueuedValue(item, quantity, urgency.value, RANK[urgency.value], position))
    now = ctx.now

    def write(c) -> None:
        store.queue_values(c, tenant, connection, values, now)
        store.request_flush(c, tenant, connection, now)

    ctx.stage(write)


def _updates(ctx: HandlerContext) -> dict[str, tuple[Decimal, str | None]]:
    payload = ctx.payload
    entries = payload.get("updates") if "updates" in payload else [payload]
    if not isinstance(entries, list) or not entries:
        raise malformed(ctx, "the payload has neither an item nor a list of updates")
    wanted: dict[str, tuple[Decimal, str | None]] = {}
    for entry in entries:
        try:
            item, raw = str(entry["item"]), entry["quantity"]
            if isinstance(raw, bool) or raw is None:
                raise ValueError(f"not a quantity: {raw!r}")
            quantity = Decimal(str(raw))
            if not quantity.is_finite():
                raise ValueError(f"not a quantity: {raw!r}")
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise malformed(ctx, f"an update is malformed ({exc!r})") from exc
        urgency = entry.get("urgency")
        if urgency is not None and urgency not in RANK:
            raise malformed(ctx, f"unknown urgency {urgency!r}; one of {', '.join(RANK)}")
        wanted[item] = (quantity, urgency)
    return wanted
