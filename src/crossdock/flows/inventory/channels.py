"""Availability per channel: an item changed, so every channel it feeds is recomputed.

The computed quantity and its explanation are stored for every channel (the API reads
them); `availability.publish` goes out only when the decision says so (decreases at
once, increases after the rule's dampening). A held increase schedules a delayed
`inventory.availability.due` without an ordering key (a delayed message at the head of
the item's key would hold its other changes back); it only re-enters the item's order."""

from __future__ import annotations

from datetime import UTC, datetime

from crossdock.domain.availability import compute
from crossdock.domain.availability_rules import ZERO, ChannelRule, ChannelState, Decision, decide
from crossdock.engine.handlers import HandlerContext
from crossdock.flows.inventory import kinds
from crossdock.flows.inventory.stock import malformed
from crossdock.records import Message
from crossdock.store import inventory as store
from crossdock.store.inventory import ChannelAvailabilityRecord


async def item_changed(msg: Message, ctx: HandlerContext) -> None:
    item = _item(ctx)
    tenant = msg.tenant_id

    def load(c):
        return (
            store.availability_rules(c, tenant),
            store.read_positions(c, tenant, [item]),
            store.reserved_totals(c, tenant, [item]).get(item, ZERO),
            store.channel_rows(c, tenant, item),
        )

    rules, positions, reserved, rows = await ctx.read(load)
    locations = {p.location for p in positions}
    today = datetime.fromtimestamp(ctx.now, UTC)
    for rule in rules:
        row = rows.get(rule.connection_id)
        if row is None and not (positions and rule.feeds_from(locations)):
            continue  # the channel never listed the item and none of its locations holds it
        result = compute(item, positions, reserved, rule, today)
        state = row.state if row is not None else ChannelState()
        decision = decide(result.quantity, state, rule, ctx.now)
        published, at = (
            (decision.quantity, ctx.now) if decision.publish else (state.published, state.published_at)
        )
        rec = ChannelAvailabilityRecord(
            tenant,
            rule.connection_id,
            item,
            result.quantity,
            ctx.now,
            result.to_plain(),
            published,
            at,
            decision.pending_since,
        )
        ctx.stage(lambda c, rec=rec: store.save_channel_availability(c, rec))
        _follow_up(ctx, rule, item, state, decision)


def _follow_up(
    ctx: HandlerContext, rule: ChannelRule, item: str, state: ChannelState, decision: Decision
) -> None:
    if decision.publish and decision.urgency is not None:
        ctx.emit(
            kinds.PUBLISH,
            {
                "connection_id": rule.connection_id,
                "item": item,
                "quantity": str(decision.quantity),
                "urgency": decision.urgency.value,
            },
            # Per connection and item: one channel's outage never holds another's updates.
            ordering_key=f"{rule.connection_id}/{item}",
            connection_id=rule.connection_id,
        )
    elif decision.due_at is not None and state.pending_since is None:
        ctx.emit(
            kinds.DUE,
            {"item": item, "connection_id": rule.connection_id},
            ordering_key=None,
            delay_seconds=max(0.0, decision.due_at - ctx.now),
        )


async def availability_due(msg: Message, ctx: HandlerContext) -> None:
    """A held increase may be due: recompute the item in its own order."""
    item = _item(ctx)
    ctx.emit(kinds.CHANGED, {"item": item}, ordering_key=item)


def _item(ctx: HandlerContext) -> str:
    item = ctx.payload.get("item") if isinstance(ctx.payload, dict) else None
    if not item:
        raise malformed(ctx, "the payload names no item")
    return str(item)
