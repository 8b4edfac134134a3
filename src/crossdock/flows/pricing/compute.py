"""Channel prices: an item changed (base price, entry, or an entry started or ended), so every
channel in the tenant's pricing section is recomputed.

The computed price and its explanation are stored for every channel (the API reads them).
Then per channel, by `domain.pricing.decide`: nothing; publish (the price is queued and the
connection's `pricing.publish` takes it with the other queued prices); or, for a change
over the channel's threshold, a pending approval instead — a pending request the price
has moved away from is superseded."""

from __future__ import annotations

from decimal import Decimal

from crossdock.domain.errors import DomainError
from crossdock.domain.price_approval import ApprovalStatus, PriceDecision, PriceState, Verdict, decide
from crossdock.domain.pricing import ChannelPriceRule, active_entry, compute
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import PermanentError
from crossdock.flows.pricing import kinds
from crossdock.flows.pricing.base import malformed
from crossdock.records import Message
from crossdock.store import channel_prices as prices_store
from crossdock.store import price_approvals as approvals
from crossdock.store import pricing as store
from crossdock.store.channel_prices import ChannelPriceRecord
from crossdock.store.price_approvals import Approval


async def item_changed(msg: Message, ctx: HandlerContext) -> None:
    item = _item(ctx)
    tenant = msg.tenant_id

    def load(c):
        return (
            store.pricing_section(c, tenant),
            store.read_base(c, tenant, [item]).get(item),
            store.read_entries(c, tenant, item),
            prices_store.channel_rows(c, tenant, item),
            approvals.latest(c, tenant, item),
        )

    section, base, entries, rows, latest = await ctx.read(load)
    if section is None:
        return
    for rule in section.to_domain():
        if base is None and active_entry(entries, item, rule.connection_id, ctx.now) is None:
            continue  # nothing to price the item from on this channel: its last price stays
        try:
            price = compute(item, base, entries, rule, ctx.now)
        except DomainError as exc:
            raise PermanentError(
                exc.code, f"{rule.connection_id}, item {item}: {exc.detail}", exc.hint
            ) from exc
        row = rows.get(rule.connection_id)
        in_force = {e.ref for e in entries if e.applies_to(item, rule.connection_id) and e.in_force(ctx.now)}
        before = _before_entries(row, price.entry_ref, in_force)
        reverts_to = _reverts_to(row, price.entry_ref, in_force)
        decision = decide(price.price, _state(row, latest.get(rule.connection_id)), rule, reverts_to=reverts_to)
        ctx.stage(lambda c, price=price, before=before: prices_store.save_computed(c, price, tenant, ctx.now, before))
        _follow_up(ctx, rule, price, row, decision)


def _before_entries(row: ChannelPriceRecord | None, entry_ref: str | None, in_force: set[str]) -> dict[str, str]:
    """Per entry in force on the channel (the one priced, and any it interrupted), the price
    published when it took over: what its end returns to without a new approval."""
    known = (row.explanation.get(prices_store.BEFORE_ENTRIES) or {}) if row is not None else {}
    kept = {ref: price for ref, price in known.items() if ref in in_force}
    if entry_ref is not None and entry_ref not in kept and row is not None and row.published is not None:
        kept[entry_ref] = str(row.published)
    return kept


def _reverts_to(row: ChannelPriceRecord | None, entry_ref: str | None, in_force: set[str]) -> Decimal | None:
    """The price the last entry priced on the channel took over from, when that entry is no
    longer in force (ended or cancelled); None otherwise, or when it is not known (priced
    before it was kept: the published price is the measure then)."""
    previous = row.explanation.get("entry") if row is not None else None
    if previous is None or previous == entry_ref or previous in in_force:
        return None
    known = row.explanation.get(prices_store.BEFORE_ENTRIES) or {}
    return Decimal(known[previous]) if previous in known else None


def _state(row: ChannelPriceRecord | None, last: Approval | None) -> PriceState:
    published = row.published if row is not None else None
    pending = last.new_price if last is not None and last.status is ApprovalStatus.PENDING else None
    refused = (
        last is not None and last.status is ApprovalStatus.REJECTED and last.old_price == published
    )  # nothing was published since the refusal
    return PriceState(published, pending, last.new_price if refused and last is not None else None)


def _follow_up(ctx: HandlerContext, rule: ChannelPriceRule, price, row, decision: PriceDecision) -> None:
    tenant, cid, item = ctx.message.tenant_id, rule.connection_id, price.item
    if decision.withdraw_pending:
        ctx.stage(lambda c: approvals.supersede(c, tenant, cid, item, ctx.now))
    if decision.verdict is Verdict.PUBLISH:
        ctx.stage(lambda c: prices_store.queue_publication(c, tenant, cid, item, price.price, ctx.now))
        ctx.emit(
            kinds.PUBLISH,
            {"connection_id": cid},
            ordering_key=f"prices/{cid}",  # one publication at a time per connection
            correlation_id=f"price:{item}",
            connection_id=cid,
        )
    elif decision.verdict is Verdict.REQUEST_APPROVAL:
        old = row.published if row is not None else None
        threshold = rule.approval_threshold_percent
        ctx.stage(
            lambda c: approvals.request(
                c, tenant, price, old, decision.change_percent, threshold, ctx.message.id, ctx.now
            )
        )


async def entry_due(msg: Message, ctx: HandlerContext) -> None:
    """An entry starts or ends now: recompute the item in its own order."""
    item = _item(ctx)
    ctx.emit(kinds.CHANGED, {"item": item}, ordering_key=item, correlation_id=f"price:{item}")


def _item(ctx: HandlerContext) -> str:
    item = ctx.payload.get("item") if isinstance(ctx.payload, dict) else None
    if not item:
        raise malformed(ctx, "the payload names no item")
    return str(item)
