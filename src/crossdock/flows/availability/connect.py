"""Building a channel connection's publisher (`InventoryPublisher`) and reader
(`InventoryReader`) inside a handler, like `flows.orders.connect` builds connectors: around
the call's lineage recorder, with the connection's shared throttle on every request and
the per-connection cache of `Services`; a "slow down" answer pauses the connection for
every worker."""

from __future__ import annotations

import importlib
from typing import Any

from crossdock.connectors.registry import ConnectorContext
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError
from crossdock.flows.orders.connect import PausesOnThrottle

# Connection kind → (module, class) of its publisher and of its reader, imported on first use.
PUBLISHERS: dict[str, tuple[str, str]] = {
    "shopify": ("crossdock.connectors.shopify.inventory", "ShopifyInventoryPublisher"),
    "amazon": ("crossdock.connectors.amazon.feeds", "AmazonInventoryPublisher"),
    "walmart": ("crossdock.connectors.walmart.inventory", "WalmartInventoryPublisher"),
}
READERS: dict[str, tuple[str, str]] = {
    "shopify": ("crossdock.connectors.shopify.inventory_levels", "ShopifyInventoryReader"),
    "amazon": ("crossdock.connectors.amazon.listings_read", "AmazonListingsReader"),
    "walmart": ("crossdock.connectors.walmart.inventory_read", "WalmartInventoryReader"),
}


async def publisher(ctx: HandlerContext, connection_id: str) -> Any:
    return await _build(ctx, connection_id, PUBLISHERS, "publish quantities to")


async def reader(ctx: HandlerContext, connection_id: str) -> Any:
    return await _build(ctx, connection_id, READERS, "read quantities from")


async def _build(
    ctx: HandlerContext, connection_id: str, table: dict[str, tuple[str, str]], what: str
) -> Any:
    tenant = ctx.message.tenant_id
    live = await ctx.services.connections.get(connection_id)
    if live is None or live.tenant_id != tenant:
        raise _config("config.connection_unknown", f"connection {connection_id!r} does not exist for tenant {tenant}",
                      "Add the connection with `crossdock apply`, or remove it from the availability section.")  # fmt: skip
    if not live.enabled or live.problem:
        state = "disabled" if not live.enabled else live.problem
        raise _config("config.connection_unusable", f"connection {connection_id} is {state}",
                      "Enable or repair the connection, then retry.")  # fmt: skip
    if live.kind not in table:
        raise _config("config.connection_kind",
                      f"connection {connection_id} is of kind {live.kind!r}; Crossdock cannot {what} it",
                      f"List only connections of kind {', '.join(sorted(table))} under availability.channels.")  # fmt: skip
    module, name = table[live.kind]
    services = ctx.services
    cctx = ConnectorContext(
        connection_id=connection_id,
        tenant_id=tenant,
        session=services.http.session(),
        record=ctx.record,
        cache=services.cache_for(connection_id),
        permit=lambda: ctx.throttle(connection_id),
        quota=ctx.quota(connection_id),
    )
    built = getattr(importlib.import_module(module), name)(live.config, cctx)
    return PausesOnThrottle(built, ctx, connection_id)


def _config(category: str, detail: str, hint: str) -> PermanentError:
    return PermanentError(category, detail, hint, owner=Owner.PARTNER)
