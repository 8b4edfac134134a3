"""What a channel answered, applied: accepted values are confirmed, feeds wait for their
report, and each refused item becomes an exception of its own (never its batch's).

A stale compare-and-set (Shopify: the quantity changed on the channel since Crossdock
last confirmed it, e.g. a sale) is not an exception: Crossdock forgets the figure it
believed and sends its value again, this time without the comparison."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crossdock.connectors.inventory_publishing import ItemFailure, PublishResult
from crossdock.domain.availability_rules import RANK
from crossdock.engine.handlers import HandlerContext
from crossdock.flows.availability import kinds
from crossdock.store import publishing as store
from crossdock.store.publishing import QueuedValue, Sent

STALE = "remote.stale_quantity"
UNKNOWN_LISTING = "mapping.channel_item_unknown"


@dataclass(frozen=True, slots=True)
class Entry:
    """One update handed to the publisher: which queued value (item, quantity, seq) it carries."""

    key: str
    item: str
    quantity: Decimal
    seq: int
    urgency: str = "decrease"
    remote: bool = False  # sent to the channel's own listing id (learned by reconciliation)


@dataclass
class Sorted:
    accepted: list[Sent]
    pending: list[Entry]
    stale: list[Entry]
    failed: dict[str, tuple[Entry, ItemFailure]]  # item → its first refused update


def sort_result(entries: list[Entry], result: PublishResult) -> Sorted:
    """Per item: refused if any of its updates was refused, pending if any awaits a report,
    else accepted. An update the channel neither took nor refused nor queued is refused."""
    accepted_keys = set(result.accepted)
    by_item: dict[str, list[Entry]] = {}
    for e in entries:
        by_item.setdefault(e.item, []).append(e)
    out = Sorted([], [], [], {})
    for item, group in by_item.items():
        failure = next(((e, result.failed[e.key]) for e in group if e.key in result.failed), None)
        unanswered = [e for e in group if e.key not in accepted_keys and e.key not in result.failed]
        if failure is None and unanswered and result.pending is None:
            failure = (unanswered[0], ItemFailure(
                "remote.unconfirmed", f"the channel neither accepted nor refused the update {unanswered[0].key}",
                "Retry the exception; if it repeats, report it with the lineage of the call.",
            ))  # fmt: skip
        if failure is not None and failure[1].category == STALE:
            out.stale.append(failure[0])
        elif failure is not None:
            out.failed[item] = failure
        elif unanswered:
            out.pending.extend(group)
        else:
            first = group[0]
            out.accepted.append(Sent(item, first.quantity, first.seq))
    return out


async def report_failures(
    ctx: HandlerContext, connection: str, failed: dict[str, tuple[Entry, ItemFailure]]
) -> None:
    """One `availability.item` per refused item, unless the item already has one parked."""
    if not failed:
        return
    tenant = ctx.message.tenant_id
    parked = await ctx.read(lambda c: store.open_failures(c, tenant, connection, failed))
    for item, (entry, failure) in sorted(failed.items()):
        if item in parked:
            continue
        ctx.emit(
            kinds.ITEM,
            {
                "connection_id": connection,
                "item": item,
                "quantity": str(entry.quantity),
                "urgency": entry.urgency,
                "update": entry.key,
                "failure": {"category": failure.category, "detail": failure.detail, "hint": failure.hint},
            },
            ordering_key=f"{connection}/{item}",
            correlation_id=f"availability:{connection}",
            connection_id=connection,
        )
    forget = [e.item for e, f in failed.values() if e.remote and f.category == UNKNOWN_LISTING]
    if forget:
        ctx.stage(lambda c: store.forget_remote_refs(c, tenant, connection, forget))


def requeue_stale(ctx: HandlerContext, connection: str, stale: list[Entry]) -> None:
    """Send these values again without comparing against a figure the channel no longer has."""
    if not stale:
        return
    tenant, now = ctx.message.tenant_id, ctx.now
    values = [QueuedValue(e.item, e.quantity, e.urgency, RANK.get(e.urgency, 2), e.seq) for e in stale]
    ctx.stage(lambda c: send_again(c, tenant, connection, values, now))


def send_again(c, tenant: str, connection: str, values: list[QueuedValue], now: float) -> None:
    """Queue these values to be sent again, compared against nothing (what the channel shows
    is no longer known), and ask for a flush."""
    if not values:
        return
    store.forget_confirmed(c, tenant, connection, [v.item for v in values])
    store.queue_values(c, tenant, connection, values, now)
    store.request_flush(c, tenant, connection, now)
