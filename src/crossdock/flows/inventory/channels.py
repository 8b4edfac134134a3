"""Availability per channel: items changed, so every channel they feed is recomputed.

An `inventory.changed` names one item (`{"item"}`) or several (`{"items"}`: the items of
one stock report that share an ordering bucket, see `stock.changed`); they are read,
computed and written together, so a burst of 100,000 changed items costs a few thousand
messages, not 100,000.

The computed quantity and its explanation are stored for every channel (the API reads
them); `availability.publish` goes out only when the decision says so (decreases at
once, increases after the rule's dampening), one per channel connection with the
message's decided items. A held increase schedules a delayed
`inventory.availability.due` without an ordering key (a delayed message at the head of
the item's key would hold its other changes back); it only re-enters the item's order."""

from __future__ import annotations

from datetime import UTC, datetime

from crossdock.domain.availability import compute
from crossdock.domain.availability_rules import ZERO, ChannelRule, ChannelState, Decision, decide
from crossdock.engine.handlers import HandlerContext
from crossdock.flows.inventory import kinds
from crossdock.flows.inventory.stock import changed, malformed
from crossdock.records import Message
from crossdock.store import inventory as store
from crossdock.store.inventory import ChannelAvailabilityRecord


async def item_changed(msg: Message, ctx: HandlerContext) -> None:
    items = _items(ctx)
    tenant = msg.tenant_id

    def load(c):
        return (
            store.availability_rules(c, tenant),
            store.read_positions(c, tenant, items),
            store.reserved_totals(c, tenant, items),
            store.channel_states_of(c, tenant, items),
        )

    rules, positions, reserved, states = await ctx.read(load)
    by_item: dict[str, list] = {}
    for p in positions:
        by_item.setdefault(p.item, []).append(p)
    today = datetime.fromtimestamp(ctx.now, UTC)
    recs: list[ChannelAvailabilityRecord] = []
    publish: dict[str, list[dict]] = {}
    for item in items:
        held = by_item.get(item, [])
        locations = {p.location for p in held}
        for rule in rules:
            known = states.get(item, {}).get(rule.connection_id)
            if known is None and not (held and rule.feeds_from(locations)):
                continue  # the channel never listed the item and none of its locations holds it
            result = compute(item, held, reserved.get(item, ZERO), rule, today)
            state = known if known is not None else ChannelState()
            decision = decide(result.quantity, state, rule, ctx.now)
            published, at = (
                (decision.quantity, ctx.now) if decision.publish else (state.published, state.published_at)
            )
            recs.append(ChannelAvailabilityRecord(tenant, rule.connection_id, item, result.quantity, ctx.now,
                                                  result.to_plain(), published, at, decision.pending_since))  # fmt: skip
            _follow_up(ctx, rule, item, state, decision, publish)
    if recs:
        ctx.stage(lambda c: store.save_channel_availabilities(c, recs))
    for connection_id, updates in publish.items():
        ctx.emit(
            kinds.PUBLISH,
            {"connection_id": connection_id, **updates[0]} if len(updates) == 1 else
            {"connection_id": connection_id, "updates": updates},
            # No ordering key: the outbox keeps the latest value by message position, so one
            # channel's outage never holds another's updates, nor one item another's.
            ordering_key=None,
            connection_id=connection_id,
        )  # fmt: skip


def _follow_up(
    ctx: HandlerContext,
    rule: ChannelRule,
    item: str,
    state: ChannelState,
    decision: Decision,
    publish: dict[str, list[dict]],
) -> None:
    if decision.publish and decision.urgency is not None:
        publish.setdefault(rule.connection_id, []).append(
            {"item": item, "quantity": str(decision.quantity), "urgency": decision.urgency.value}
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

