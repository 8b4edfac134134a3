"""The tenant's catalog channels, each with its mapping and its opened connection, and the
connectors the catalog handlers call.

Connectors are built per handler call like the order flow's (`flows.orders.connect`): every
HTTP request takes the connection's shared permit, and a "slow down" from the other side
pauses the connection for every worker. Their clock is the handler's (`ctx.now` plus the
time spent since), so feed windows and token lifetimes follow the hub's clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crossdock.configuration.catalog import CatalogSection, ChannelCatalog
from crossdock.connectors.amazon.catalog import AmazonCatalogPublisher
from crossdock.connectors.catalog import ItemMasterSource
from crossdock.connectors.kinds import connector_kind
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.shopify.catalog import ShopifyCatalogPublisher
from crossdock.domain.catalog import ChannelMapping
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError
from crossdock.flows.orders.connect import PausesOnThrottle
from crossdock.flows.services import LiveConnection
from crossdock.store import catalog as store

FEED_KINDS = frozenset({"amazon"})  # channels published through feeds; the others one item per call


@dataclass(frozen=True)
class Channel:
    connection_id: str
    kind: str  # shopify | amazon
    mapping: ChannelMapping
    settings: ChannelCatalog
    live: LiveConnection

    @property
    def feeds(self) -> bool:
        return self.kind in FEED_KINDS

    def publisher(self, ctx: HandlerContext) -> Any:
        cctx = connector_context(ctx, self.live)
        if self.kind == "amazon":
            inner: Any = AmazonCatalogPublisher(
                self.live.config, cctx, language_tag=self.settings.language_tag
            )
        else:
            inner = ShopifyCatalogPublisher(self.live.config, cctx)
        return PausesOnThrottle(inner, ctx, self.connection_id)


async def catalog_settings(ctx: HandlerContext) -> tuple[CatalogSection | None, dict[str, str]]:
    tenant = ctx.message.tenant_id
    return await ctx.read(lambda c: (store.catalog_section(c, tenant), store.connection_kinds(c, tenant)))


async def channels(
    ctx: HandlerContext, section: CatalogSection | None, kinds: dict[str, str], only: str | None = None
) -> list[Channel]:
    """The catalog's channels (or the one named `only`), each with its opened connection."""
    found = []
    for cid, entry in sorted((section.channels if section else {}).items()):
        if only is not None and cid != only:
            continue
        kind = kinds.get(cid, "")
        live = await live_connection(ctx, cid, "catalog channel")
        found.append(Channel(cid, kind, entry.to_domain(kind), entry, live))
    return found


async def item_source(ctx: HandlerContext, connection_id: str) -> ItemMasterSource:
    live = await live_connection(ctx, connection_id, "item master source")
    kind = connector_kind(live.kind)
    source = kind.build(live.config, connector_context(ctx, live)) if kind and kind.build else None
    if not isinstance(source, ItemMasterSource):
        raise PermanentError(
            "config.connection_kind",
            f"connection {connection_id} is of kind {live.kind!r}, which cannot supply an item master",
            "Point catalog.source at an erp-rest connection.",
            owner=Owner.PARTNER,
        )
    return PausesOnThrottle(source, ctx, connection_id)


async def live_connection(ctx: HandlerContext, connection_id: str, role: str) -> LiveConnection:
    """The connection, which must be the message's tenant's, enabled and usable."""
    live = await ctx.services.connections.get(connection_id)
    tenant = ctx.message.tenant_id
    if live is None or live.tenant_id != tenant:
        raise PermanentError(
            "config.connection_unknown",
            f"connection {connection_id!r} ({role}) does not exist for tenant {tenant}",
            "Add the connection with `crossdock apply`, or remove it from the catalog: section; then retry.",
            owner=Owner.PARTNER,
        )
    if not live.enabled or live.problem or live.config is None:
        raise PermanentError(
            "config.connection_unusable",
            f"connection {connection_id} ({role}) is {'disabled' if not live.enabled else live.problem}",
            "Enable or repair the connection, then retry.",
            owner=Owner.PARTNER,
        )
    return live


def connector_context(ctx: HandlerContext, live: LiveConnection) -> ConnectorContext:
    services = ctx.services
    return ConnectorContext(
        connection_id=live.id,
        tenant_id=live.tenant_id,
        session=services.http.session(),
        record=ctx.record,
        cache=services.cache_for(live.id),
        clock=handler_clock(ctx),
        permit=lambda: ctx.throttle(live.id),
        quota=ctx.quota(live.id),
    )


def handler_clock(ctx: HandlerContext) -> Callable[[], float]:
    started = time.monotonic()
    return lambda: ctx.now + (time.monotonic() - started)
