"""What the publishing handlers share: a channel's publishing settings and how an item is
listed on a channel (its SKU cross-references). How urgent a new quantity is against what
the channel shows is domain logic (`domain.availability_rules.urgency_against`)."""

from __future__ import annotations

import time
from decimal import Decimal
from fractions import Fraction

from crossdock.configuration.publishing import PublishingSettings
from crossdock.domain.availability_rules import RANK, Urgency
from crossdock.domain.errors import UnknownConversion
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError
from crossdock.flows.tenant_config import tenant_config
from crossdock.store import inventory as inventory_store
from crossdock.store import publishing as store

URGENT_RANK = RANK[Urgency.LOW_STOCK.value]  # to_zero and low_stock go out at once
REFS_TTL = 5.0  # seconds a tenant's SKU cross-references are kept per process
ANY = "*"


# A listing sold in another unit than the item's stock unit (a case of 24 batteries): how
# many stock units one listed unit holds, or None when the tenant's units say no pack size.
PackSizes = dict[tuple[str, str], Fraction | None]  # (item, SKU) → stock units per listed unit
ONE = Fraction(1)  # a listing in the stock unit


async def pack_sizes(ctx: HandlerContext, channel: str) -> PackSizes:
    """The pack size of every SKU mapped with its own unit (`uom`) on `channel`."""
    mappings = (await tenant_config(ctx)).rules.mappings
    sizes: PackSizes = {}
    for xref in mappings.skus:
        if not xref.sku or not xref.uom or xref.channel not in (channel, ANY):
            continue
        stock_unit = mappings.erp_uom_of(xref.item_code)
        if xref.uom == stock_unit:
            continue
        try:
            sizes[(xref.item_code, xref.sku)] = mappings.unit_conversions(xref.item_code).factor(xref.uom, stock_unit)
        except UnknownConversion:
            sizes[(xref.item_code, xref.sku)] = None
    return sizes


def in_listed_units(quantity: Decimal, pack: Fraction | None) -> Decimal:
    """Stock units as the listing counts them: whole packs, rounded down (a pack that is not
    all there cannot be sold); 0 when the pack size is unknown, so nothing is oversold."""
    if pack is None:
        return Decimal(0)
    return Decimal((quantity * pack.denominator) // pack.numerator)


async def settings_of(ctx: HandlerContext, connection_id: str) -> PublishingSettings:
    section = await ctx.read(lambda c: inventory_store.availability_section(c, ctx.message.tenant_id))
    channel = section.channels.get(connection_id) if section is not None else None
    return channel.publishing if channel is not None else PublishingSettings()


async def channel_refs(ctx: HandlerContext, channel: str) -> dict[str, list[str]]:
    """Item → its SKUs on `channel` (the tenant's `sku` mappings, `*` rules as fallback)."""
    tenant = ctx.message.tenant_id
    cache = ctx.services.extra.setdefault("availability.sku_refs", {})
    hit = cache.get(tenant)
    if hit is None or time.monotonic() - hit[0] > REFS_TTL:
        hit = cache[tenant] = (time.monotonic(), await ctx.read(lambda c: store.sku_refs(c, tenant)))
    by_channel = hit[1]
    return {**by_channel.get(ANY, {}), **by_channel.get(channel, {})}


def malformed(ctx: HandlerContext, detail: str) -> PermanentError:
    return PermanentError(
        "validation.availability_payload",
        f"{ctx.message.kind} message {ctx.message.id}: {detail}",
        "Crossdock defect or a hand-edited message: fix the payload and resubmit, or resolve it.",
        owner=Owner.PARTNER,
    )


def connection_of(ctx: HandlerContext) -> str:
    payload = ctx.payload
    connection = payload.get("connection_id") if isinstance(payload, dict) else None
    if not connection or not isinstance(connection, str):
        raise malformed(ctx, "the payload names no connection_id")
    return connection
