"""Availability per channel: items changed, so every channel they feed is recomputed.

An `inventory.changed` names one item (`{"item"}`) or several (`{"items"}`: the items of
one stock report that share an ordering bucket, see `stock.changed`); they are read,
computed and written together, so a burst of 100,000 changed items costs a few thousand
messages, not 100,000. Items of the message with the same stock share one computation
(`evaluations`), and rows go to the database as tuples, without a record per row.

The computed quantity and its explanation are stored for every channel (the API reads
them). When the decision says so (decreases at once, increases after the rule's
dampening) the quantity joins the channel's outbox (`publish_queue`, latest wins) in the
same transaction, its urgency judged against what the channel shows, and one flush of the
connection is scheduled: no message per decision in between (a burst of 100,000 items
used to cost as many `availability.publish` messages as `inventory.changed` ones, each
reading the listings again). `availability.publish` remains for other producers.
A held increase schedules a delayed `inventory.availability.due` without an ordering key
(a delayed message at the head of the item's key would hold its other changes back); it
only re-enters the item's order."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from crossdock.domain.availability_rules import (
    RANK,
    ZERO,
    ChannelRule,
    ChannelState,
    Decision,
    decide,
    urgency_against,
)
from crossdock.engine.handlers import HandlerContext
from crossdock.flows.inventory import kinds
from crossdock.flows.inventory.evaluations import Evaluations
from crossdock.flows.inventory.stock import changed, malformed
from crossdock.records import Message
from crossdock.store import channel_availability, publishing, reservations
from crossdock.store import inventory as store
from crossdock.store.channel_availability import ChannelView
from crossdock.store.messages import SEQ

NOT_SEEN: ChannelView = (None, None, None, None)


async def item_changed(msg: Message, ctx: HandlerContext) -> None:
    items = _items(ctx)
    tenant, now = msg.tenant_id, ctx.now

    def load(c):
        return (
            store.availability_rules(c, tenant),
            store.read_positions(c, tenant, items),
            reservations.reserved_totals(c, tenant, items),
            channel_availability.channel_views(c, tenant, items),
        )

    rules, positions, reserved, views = await ctx.read(load)
    by_item: dict[str, list] = {}
    for p in positions:
        by_item.setdefault(p.item, []).append(p)
    evaluate = Evaluations(datetime.fromtimestamp(now, UTC))
    position = SEQ.next(after=msg.seq)  # the outbox's latest-wins clock
    # Rows as driver tuples, not records: a burst of 100,000 items makes 200,000 of them.
    rows: list[tuple] = []
    outbox: dict[str, list[tuple]] = {}
    for item in items:
        held = by_item.get(item, [])
        locations = {p.location for p in held}
        known = views.get(item, {})
        for rule_no, rule in enumerate(rules):
            view = known.get(rule.connection_id)
            if view is None and not (held and rule.feeds_from(locations)):
                continue  # the channel never listed the item and none of its locations holds it
            quantity, explanation = evaluate(rule_no, rule, item, held, reserved.get(item, ZERO))
            published, at, pending, shows = view if view is not None else NOT_SEEN
            state = ChannelState(published, at, pending)
            decision = decide(quantity, state, rule, now)
            if decision.publish:
                published, at = decision.quantity, now
            rows.append((tenant, rule.connection_id, item, str(quantity), now, explanation,
                         None if published is None else str(published), at, decision.pending_since))  # fmt: skip
            _follow_up(ctx, rule, item, state, shows, decision, position, outbox)

    def write(c) -> None:
        channel_availability.save_channel_availabilities(c, rows)
        for connection_id, values in outbox.items():
            publishing.queue_rows(c, tenant, connection_id, values, now)
            publishing.request_flush(c, tenant, connection_id, now)

    if rows:
        ctx.stage(write)


def _follow_up(
    ctx: HandlerContext,
    rule: ChannelRule,
    item: str,
    state: ChannelState,
    shows: Decimal | None,
    decision: Decision,
    position: int,
    outbox: dict[str, list[tuple]],
) -> None:
    """Queue a published value for the channel (urgency judged against what it shows), or
    schedule a look at a held increase once it may be due."""
    if decision.publish and decision.urgency is not None:
        urgency = urgency_against(decision.quantity, shows, decision.urgency.value).value
        outbox.setdefault(rule.connection_id, []).append(
            (item, str(decision.quantity), urgency, RANK[urgency], position)
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
    changed(ctx, [_items(ctx)[0]])


def _items(ctx: HandlerContext) -> list[str]:
    payload = ctx.payload if isinstance(ctx.payload, dict) else {}
    raw = payload.get("items") if "items" in payload else [payload.get("item")]
    if not isinstance(raw, list) or not raw or not all(raw):
        raise malformed(ctx, "the payload names no item")
    return list(dict.fromkeys(str(i) for i in raw))
