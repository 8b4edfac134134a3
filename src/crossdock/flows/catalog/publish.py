"""`catalog.item.publish`: bring one item's listing on one channel connection up to date.

It re-reads the item master record and the tenant's mapping every time, so retrying it after
the attribute was added (to the item, or to the mapping) publishes the current listing:

- a required attribute missing, or a value the channel cannot take → parks
  (`catalog.attribute_missing`, `catalog.attribute_invalid`): the per-item exception;
- `rejected_in_feed`: Amazon refused the listing in that feed → parks with Amazon's issues
  (`catalog.listing_rejected`, `catalog.attribute_missing`, `catalog.feed_not_processed`)
  unless the listing changed since, or an operator retried it: then it is sent again;
- unchanged → nothing; Amazon → queued for the connection's next feed; Shopify → one
  productSet now (a refusal parks as `catalog.listing_rejected`).
"""

from __future__ import annotations

from crossdock.domain.catalog import ItemRecord
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError, Severity
from crossdock.flows.catalog.channels import Channel, catalog_settings, channels
from crossdock.flows.catalog.listings import Built, build, emit_feed, queue, unchanged
from crossdock.records import Message
from crossdock.store import catalog as store
from crossdock.store.catalog import ListingRow

_SHOPIFY_HINT = (
    "Read Shopify's refusal; correct the item in the item master or the mapping under "
    "catalog.channels.{cid}, sync the item master, then retry the exception."
)


async def publish_item(msg: Message, ctx: HandlerContext) -> None:
    payload = ctx.payload if isinstance(ctx.payload, dict) else {}
    code, cid = str(payload.get("item") or ""), str(payload.get("connection_id") or "")
    tenant = msg.tenant_id
    section, kinds_by_id = await catalog_settings(ctx)
    if not code or not cid or section is None or cid not in section.channels:
        return  # the connection is no longer a catalog channel: nothing to publish there

    def load(c):
        items = store.read_items(c, tenant, [code])
        rows = store.read_listings(c, tenant, [code], cid)
        return items.get(code), rows.get((cid, code)), store.was_retried(c, tenant, msg.id)

    item, row, retried = await ctx.read(load)
    if item is None:
        raise PermanentError(
            "catalog.item_unknown",
            f"item {code} is not in the item master of tenant {tenant}",
            "Sync the item master (`crossdock catalog sync`), then retry; resolve it if the item is gone.",
            severity=Severity.MEDIUM,
            owner=Owner.TENANT,
        )
    (channel,) = await channels(ctx, section, kinds_by_id, only=cid)
    publisher = channel.publisher(ctx)
    built = build(channel, publisher, ItemRecord(code, item.record))
    if built.problem is not None:
        raise built.problem
    rejected_in = payload.get("rejected_in_feed")
    if rejected_in and not retried:
        _report_refusal(row, str(rejected_in), built)
    if unchanged(row, built):
        return
    if channel.feeds:
        queue(ctx, channel, row, built)
        emit_feed(ctx, channel)
        return
    await _set_product(ctx, channel, publisher, row, built)


def _refuse_a_shared_product(conn, tenant: str, cid: str, code: str, product: str) -> None:
    """Two items whose listings name one product (the same `handle` given, or SKUs that differ
    in case alone) would overwrite each other's product on every publication: the later one
    parks (an effect's PermanentError parks its message), with both named."""
    other = store.holder_of(conn, tenant, cid, product, code)
    if other is None:
        return
    raise PermanentError(
        "catalog.product_shared",
        f"items {code} and {other} are both product {product} on {cid}: each publication "
        "overwrites the other's",
        f"Give one of them its own `handle` in the mapping under catalog.channels.{cid} (or a SKU "
        "of its own), sync the item master, check the product in Shopify, then retry.",
        severity=Severity.MEDIUM,
        owner=Owner.TENANT,
        context={"item": code, "other_item": other, "connection_id": cid, "product": product},
    )


def _report_refusal(row: ListingRow | None, feed_id: str, built: Built) -> None:
    """Park with the channel's refusal, while the refused listing is still the current one."""
    if row is None or row.status != store.REJECTED or row.feed_id != feed_id or row.digest != built.digest:
        return
    why = row.detail_plain
    raise PermanentError(
        str(why.get("category") or "catalog.listing_rejected"),
        str(why.get("detail") or f"the channel refused the listing in feed {feed_id}"),
        str(why.get("hint") or ""),
        severity=Severity.MEDIUM,
        owner=Owner(why.get("owner") or Owner.TENANT.value),
        context={k: v for k, v in why.items() if k not in ("category", "detail", "hint", "owner")},
    )


async def _set_product(
    ctx: HandlerContext, channel: Channel, publisher, row: ListingRow | None, built: Built
) -> None:
    cid, code = channel.connection_id, built.listing.item_code
    try:
        product = await publisher.publish(built.document)
    except PermanentError as error:
        if error.category != "remote.rejected":
            raise
        raise PermanentError(
            "catalog.listing_rejected",
            f"Shopify refused the listing of item {code} on {cid}: {error.detail}",
            _SHOPIFY_HINT.format(cid=cid),
            severity=Severity.MEDIUM,
            owner=Owner.TENANT,
            context={"item": code, "connection_id": cid, **error.context},
        ) from error
    tenant, now = ctx.message.tenant_id, ctx.now
    values = dict(sku=built.listing.sku, status=store.PUBLISHED, digest=built.digest, published_digest=built.digest,
                  published_at=now, channel_ref=product or None, document=None, detail=None, feed_id=None,
                  feed_message=None)  # fmt: skip
    expect = row.digest if row else None
    new_product = bool(product) and (row is None or row.channel_ref != product)

    def write(c) -> None:
        if new_product:  # checked where the listing is written: items published together see each other
            _refuse_a_shared_product(c, tenant, cid, code, product)
        store.put_listing(c, tenant, cid, code, expect=expect, now=now, **values)

    ctx.stage(write)
