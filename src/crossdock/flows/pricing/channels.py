"""Building the pricing flow's connectors inside a handler: a channel's price publisher and
the ERP's price list, each around the call's lineage recorder and the connection's shared
throttle; a "slow down" answer pauses the connection for every worker."""

from __future__ import annotations

from typing import Any

from crossdock.connectors.kinds import connector_kind
from crossdock.connectors.price_publishing import PriceListSource, PricePublisher, price_publisher
from crossdock.connectors.registry import ConnectorContext
from crossdock.domain.mapping import TenantMappings
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError
from crossdock.flows.orders.connect import PausesOnThrottle
from crossdock.flows.services import LiveConnection


async def live(ctx: HandlerContext, connection_id: str, role: str) -> LiveConnection:
    """The connection, which must be the message's tenant's, enabled and usable."""
    tenant = ctx.message.tenant_id
    found = await ctx.services.connections.get(connection_id)
    if found is None or found.tenant_id != tenant:
        raise PermanentError(
            "config.connection_unknown",
            f"connection {connection_id!r} ({role}) does not exist for tenant {tenant}",
            f"Add the connection with `crossdock apply`, or fix the tenant's pricing section ({role}).",
            owner=Owner.PARTNER,
        )
    if not found.enabled or found.problem:
        raise PermanentError(
            "config.connection_unusable",
            f"connection {connection_id} is {'disabled' if not found.enabled else found.problem}",
            "Enable or repair the connection, then retry.",
            owner=Owner.PARTNER,
        )
    return found


def _context(ctx: HandlerContext, found: LiveConnection) -> ConnectorContext:
    services = ctx.services
    return ConnectorContext(
        connection_id=found.id,
        tenant_id=found.tenant_id,
        session=services.http.session(),
        record=ctx.record,
        cache=services.cache_for(found.id),
        permit=lambda: ctx.throttle(found.id),
        quota=ctx.quota(found.id),
    )


async def publisher(ctx: HandlerContext, connection_id: str) -> tuple[PricePublisher, str]:
    """(the channel's price publisher, the connection's kind: its channel name in mappings)."""
    found = await live(ctx, connection_id, "channel")
    build = price_publisher(found.kind)
    if build is None:
        raise PermanentError(
            "config.pricing_unsupported",
            f"connection {connection_id} is of kind {found.kind!r}, which cannot take prices",
            "Remove the connection from pricing.channels: Crossdock publishes prices to shopify and amazon.",
            owner=Owner.PARTNER,
        )
    inner = build(found.config, _context(ctx, found))
    wrapped: Any = PausesOnThrottle(inner, ctx, connection_id)
    return wrapped, found.kind


async def price_list(ctx: HandlerContext, connection_id: str) -> PriceListSource:
    found = await live(ctx, connection_id, "source")
    kind = connector_kind(found.kind)
    source = kind.build(found.config, _context(ctx, found)) if kind and kind.build else None
    if not isinstance(source, PriceListSource):
        raise PermanentError(
            "config.pricing_source_kind",
            f"connection {connection_id} is of kind {found.kind!r}, which has no price list Crossdock reads",
            "Point pricing.source.connection at an erp-rest connection (or push pricing.base_changed).",
            owner=Owner.PARTNER,
        )
    wrapped: Any = PausesOnThrottle(source, ctx, connection_id)
    return wrapped


def channel_ref(mappings: TenantMappings, channel: str, item: str) -> str:
    """How the item is listed on the channel: the SKU of its single-unit cross-reference, else
    the item code. Listings in another unit (case packs) are not priced: a unit price is not theirs."""
    for xref in mappings.channel_refs(item, channel):
        if xref.sku and xref.uom is None:
            return xref.sku
    return item
