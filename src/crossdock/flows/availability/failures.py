"""`availability.item`: one item a channel refused, as an exception of its own.

Its first run parks it with the channel's reason (category, detail, hint), so the desk
shows one exception per refused item and the rest of its batch went through. When an
operator retries it (after fixing the SKU mapping or the listing), it runs again and
re-publishes the item's *current* value, which may have changed since it failed."""

from __future__ import annotations

from crossdock.engine.handlers import HandlerContext
from crossdock.errors import PermanentError, Severity
from crossdock.flows.availability.common import connection_of, malformed
from crossdock.flows.availability.queue import queue
from crossdock.records import Message
from crossdock.store import publishing as store


async def item_failed(msg: Message, ctx: HandlerContext) -> None:
    connection = connection_of(ctx)
    payload = ctx.payload
    item = payload.get("item")
    if not item:
        raise malformed(ctx, "the payload names no item")
    tenant = msg.tenant_id
    failure = payload.get("failure")
    if isinstance(failure, dict) and not await ctx.read(lambda c: store.has_exception(c, tenant, msg.id)):
        raise PermanentError(
            str(failure.get("category") or "remote.rejected"),
            f"{connection} refused the quantity {payload.get('quantity')} of item {item}: {failure.get('detail')}",
            str(failure.get("hint") or "Fix the listing or the item's SKU mapping, then retry."),
            severity=Severity.MEDIUM if payload.get("urgency") == "increase" else Severity.HIGH,
            context={
                "connection_id": connection,
                "item": item,
                "quantity": payload.get("quantity"),
                "update": payload.get("update"),
            },  # fmt: skip
        )
    current = await ctx.read(lambda c: store.current_value(c, tenant, connection, str(item)))
    if current is not None:
        await queue(ctx, connection, {str(item): (current, None)})
