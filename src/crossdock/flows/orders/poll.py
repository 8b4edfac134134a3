"""Polling channels whose orders are not pushed (Amazon, Walmart): one page per message.

The cursor moves in the same transaction as the orders it found become messages,
so a crash never skips orders; an order seen twice (same id, same update time) is
one message."""

from __future__ import annotations

import hashlib

from crossdock.engine.handlers import HandlerContext
from crossdock.flows.orders import stages
from crossdock.flows.orders.connect import connector
from crossdock.records import Message
from crossdock.store.cursors import get_cursor, put_cursor

CURSOR = "orders"


async def poll(msg: Message, ctx: HandlerContext) -> None:
    conn_id = ctx.payload.get("connection_id") or msg.connection_id
    tenant = msg.tenant_id
    cursor = await ctx.read(lambda c: get_cursor(c, tenant, conn_id, CURSOR))
    channel = await connector(ctx, conn_id, role="channel")
    page = await channel.poll_orders(cursor)
    for order in page.orders:
        oid, version = channel.snapshot_ref(order)
        ref = f"{channel.channel}:{oid}"
        ctx.emit(
            stages.RECEIVED,
            {"order": order},
            key=f"{ref}@{version}",
            ordering_key=ref,
            correlation_id=ref,
            connection_id=conn_id,
        )
    ctx.stage(lambda c: put_cursor(c, tenant, conn_id, CURSOR, page.cursor, ctx.now))
    if page.more:
        digest = hashlib.sha256(page.cursor.encode()).hexdigest()[:16]
        ctx.emit(stages.POLL, {"connection_id": conn_id}, key=f"poll:{conn_id}:{digest}", connection_id=conn_id)
