"""Publishing prices: the connection's queued prices go out in one batch; the channel's
answer confirms each item or refuses it alone.

`pricing.publish` (ordering key: prices/<connection>, so one publication at a time per
connection) takes every queued price of the connection, up to the publisher's batch, and
hands them to the channel: Shopify answers at once (`productVariantsBulkUpdate`), Amazon
later (a listings feed: `pricing.publish.check` reads its processing report). Prices the
channel took are confirmed. Each refused item becomes a `pricing.publish.failed` message of
its own, parked as an exception with the channel's reason and a hint; retrying that
exception publishes the item's current price (by itself, at once). Its neighbours in the
batch are never held back."""

from __future__ import annotations

from decimal import Decimal

from crossdock.connectors.inventory_publishing import ItemFailure, PublishResult
from crossdock.connectors.price_publishing import PriceUpdate
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import PermanentError, Severity
from crossdock.flows.pricing import channels, kinds
from crossdock.flows.pricing.base import malformed
from crossdock.records import Message
from crossdock.store import channel_prices as prices_store
from crossdock.store import mappings as mapping_store
from crossdock.store.channel_prices import PublishState

CHECK_SECONDS = 60.0  # between two looks at a processing feed
MAX_CHECKS = 120  # two hours of processing: then an exception (retrying it looks again)
_RETRY_HINT = " Retrying this exception publishes the item's current price by itself."


async def publish(msg: Message, ctx: HandlerContext) -> None:
    cid = _connection(ctx)
    tenant = msg.tenant_id
    publisher, channel = await channels.publisher(ctx, cid)
    batch = await ctx.read(lambda c: prices_store.queued(c, tenant, cid, publisher.max_batch))
    if not batch:
        return  # an earlier publication took them
    rules = await ctx.read(lambda c: mapping_store.read_rules(c, tenant))
    updates = [
        PriceUpdate(
            q.item, channels.channel_ref(rules.mappings, channel, q.item), q.price, q.currency, q.item
        )
        for q in batch
    ]
    result = await publisher.publish(updates)
    prices = {u.item_code: u.price for u in updates}
    settle(ctx, cid, prices, result)
    if result.pending:
        sent = [key for key in prices if key not in result.accepted and key not in result.failed]
        for item in sent:
            _mark(ctx, cid, item, prices[item], PublishState.SENT)
        payload = {
            "connection_id": cid,
            "pending": result.pending,
            "prices": {i: str(prices[i]) for i in sent},
            "submitted_at": ctx.now,
        }
        ctx.emit(kinds.CHECK, {**payload, "checks": 0}, ordering_key=None, delay_seconds=CHECK_SECONDS)
    if len(batch) >= publisher.max_batch:  # more may be queued: the next batch, in order
        ctx.emit(kinds.PUBLISH, {"connection_id": cid}, ordering_key=f"prices/{cid}", connection_id=cid)


async def check(msg: Message, ctx: HandlerContext) -> None:
    """Read a price feed's outcome; look again later while the channel is still working."""
    cid = _connection(ctx)
    payload = ctx.payload
    pending, checks = payload.get("pending"), int(payload.get("checks") or 0)
    try:
        prices = {str(item): Decimal(str(p)) for item, p in (payload.get("prices") or {}).items()}
    except (AttributeError, ArithmeticError, ValueError) as exc:
        raise malformed(ctx, f"unreadable prices ({exc!r})") from exc
    if not pending:
        raise malformed(ctx, "the payload has no pending publication")
    publisher, _ = await channels.publisher(ctx, cid)
    result = await publisher.check(str(pending))
    if result is None:
        if checks + 1 >= MAX_CHECKS:
            raise PermanentError(
                "remote.feed_not_processed",
                f"{cid}: the price feed was still processing after {checks + 1} looks",
                "Check the feed in the channel's seller console; retrying this exception looks again.",
                severity=Severity.MEDIUM,
            )
        ctx.emit(
            kinds.CHECK, {**payload, "checks": checks + 1}, ordering_key=None, delay_seconds=CHECK_SECONDS
        )
        return
    settle(ctx, cid, prices, result)
    submitted = payload.get("submitted_at")
    if isinstance(submitted, int | float):  # a check emitted before it was recorded has none
        await _publish_overtaken(ctx, cid, {i: prices[i] for i in result.accepted if i in prices}, submitted)


async def _publish_overtaken(
    ctx: HandlerContext, cid: str, fed: dict[str, Decimal], submitted: float
) -> None:
    """A price the channel took at once (an operator's retry patches it) while this feed waited
    was overwritten when the channel processed the feed: publish it again. A newer price in a
    later feed needs nothing: the channel processes that feed after this one."""
    tenant = ctx.message.tenant_id
    again = await ctx.read(lambda c: prices_store.overtaken(c, tenant, cid, fed, submitted))
    if again:
        ctx.stage(lambda c: prices_store.publish_again(c, tenant, cid, again, submitted))
        ctx.emit(kinds.PUBLISH, {"connection_id": cid}, ordering_key=f"prices/{cid}", connection_id=cid)


def settle(ctx: HandlerContext, cid: str, prices: dict[str, Decimal], result: PublishResult) -> None:
    """Confirm what the channel took; give each refused item an exception of its own."""
    for item in result.accepted:
        if item in prices:
            _mark(ctx, cid, item, prices[item], PublishState.IDLE)
    for item, failure in result.failed.items():
        if item not in prices:
            continue
        _mark(ctx, cid, item, prices[item], PublishState.FAILED)
        ctx.emit(
            kinds.FAILED,
            {"connection_id": cid, "item": item, "price": str(prices[item]), "failure": _plain(failure)},
            ordering_key=f"{cid}/{item}",
            correlation_id=f"price:{item}",
            connection_id=cid,
        )


async def item_failed(msg: Message, ctx: HandlerContext) -> None:
    """First run: the item's exception. After an operator's retry: its current price, alone."""
    cid, item = _connection(ctx), str(ctx.payload.get("item") or "")
    tenant = msg.tenant_id
    row = await ctx.read(lambda c: prices_store.get_channel_price(c, tenant, cid, item))
    retried = msg.resubmitted_from is not None or await ctx.read(
        lambda c: prices_store.was_parked(c, tenant, msg.id)
    )
    if not retried:
        if row is None or row.publish_state != PublishState.FAILED:
            return  # published fine since: nothing to report
        raise _exception(ctx, cid, item, ctx.payload.get("price"), ctx.payload.get("failure") or {})
    if row is None or row.published is None:
        return
    publisher, channel = await channels.publisher(ctx, cid)
    rules = await ctx.read(lambda c: mapping_store.read_rules(c, tenant))
    ref = channels.channel_ref(rules.mappings, channel, item)
    failure = await publisher.publish_one(PriceUpdate(item, ref, row.published, row.currency, item))
    if failure is not None:
        raise _exception(ctx, cid, item, str(row.published), _plain(failure))
    _mark(ctx, cid, item, row.published, PublishState.IDLE)


def _exception(ctx: HandlerContext, cid: str, item: str, price, failure: dict) -> PermanentError:
    return PermanentError(
        str(failure.get("category") or "remote.rejected"),
        f"{cid} refused price {price} for item {item}: {failure.get('detail') or 'no reason given'}",
        str(failure.get("hint") or "Fix the listing on the channel.") + _RETRY_HINT,
        severity=Severity.MEDIUM,
        context={"connection_id": cid, "item": item, "price": price},
    )


def _mark(ctx: HandlerContext, cid: str, item: str, price: Decimal, state: str) -> None:
    tenant = ctx.message.tenant_id
    ctx.stage(lambda c: prices_store.mark(c, tenant, cid, item, price, state, ctx.now))


def _plain(failure: ItemFailure) -> dict[str, str]:
    return {"category": failure.category, "detail": failure.detail, "hint": failure.hint}


def _connection(ctx: HandlerContext) -> str:
    cid = ctx.payload.get("connection_id") if isinstance(ctx.payload, dict) else None
    if not cid:
        raise malformed(ctx, "the payload names no connection_id")
    return str(cid)
