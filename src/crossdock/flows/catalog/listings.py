"""One item's listing on one channel: built through the mapping, checked, encoded in the
channel's format, fingerprinted; and what to do about it given the stored listing state.

The fingerprint (`digest`) is taken of what would be sent, so a changed mapping changes it
as surely as a changed item. An unchanged listing is skipped; a blocked one (a required
attribute missing, a value the channel cannot take) has the digest of its problem, so the
same problem is reported once, not at every sync."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from crossdock.connectors.catalog import AttributeValueError
from crossdock.domain.catalog import ItemRecord, Listing, build_listing, digest, explain_missing
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError, Severity
from crossdock.flows.catalog import kinds
from crossdock.flows.catalog.channels import Channel
from crossdock.store import catalog as store
from crossdock.store.catalog import ListingRow


@dataclass(frozen=True)
class Built:
    listing: Listing
    document: dict[str, Any] | None  # what the channel is sent; None when blocked
    digest: str
    problem: PermanentError | None = None

    @property
    def blocked_detail(self) -> str:
        assert self.problem is not None
        p = self.problem
        return json.dumps({"category": p.category, "detail": p.detail, "hint": p.hint, **p.context})


def build(channel: Channel, encoder: Any, item: ItemRecord) -> Built:
    listing = build_listing(item, channel.mapping)
    cid = channel.connection_id
    if listing.missing:
        detail, hint = explain_missing(listing, channel.mapping, cid)
        context = {"item": item.code, "connection_id": cid, "missing": list(listing.missing)}
        problem = _problem("catalog.attribute_missing", detail, hint, context)
        return Built(listing, None, digest({"blocked": listing.to_plain()}), problem)
    try:
        document = encoder.encode(listing)
    except AttributeValueError as exc:
        detail = (
            f"item {item.code} cannot be listed on {cid} ({channel.kind}): "
            f"attribute {exc.attribute} is invalid: {exc.detail}"
        )
        hint = (
            f"Correct {exc.attribute} of item {item.code} in the item master, or map it differently under "
            f"catalog.channels.{cid}; sync the item master, then retry the exception."
        )
        context = {"item": item.code, "connection_id": cid, "attribute": exc.attribute}
        problem = _problem("catalog.attribute_invalid", detail, hint, context)
        return Built(listing, None, digest({"invalid": listing.to_plain(), "why": str(exc)}), problem)
    return Built(listing, document, digest(document))


def _problem(category: str, detail: str, hint: str, context: dict[str, Any]) -> PermanentError:
    return PermanentError(
        category, detail, hint, severity=Severity.MEDIUM, owner=Owner.TENANT, context=context
    )


def unchanged(row: ListingRow | None, built: Built) -> bool:
    """Nothing to do: the channel has (or is about to get) exactly this listing."""
    return (
        row is not None
        and row.digest == built.digest
        and row.status
        in (
            store.PUBLISHED,
            store.QUEUED,
            store.SUBMITTED,
        )
    )


def queue(ctx: HandlerContext, channel: Channel, row: ListingRow | None, built: Built) -> None:
    """Stage the listing for the connection's next feed."""
    assert built.document is not None
    tenant, cid, code = ctx.message.tenant_id, channel.connection_id, built.listing.item_code
    values = dict(
        sku=built.listing.sku,
        status=store.QUEUED,
        digest=built.digest,
        document=json.dumps(built.document, separators=(",", ":")),
        feed_id=None,
        feed_message=None,
        detail=None,
        queued_at=ctx.now,
    )
    expect = row.digest if row else None
    ctx.stage(lambda c: store.put_listing(c, tenant, cid, code, expect=expect, now=ctx.now, **values))


def block(ctx: HandlerContext, channel: Channel, row: ListingRow | None, built: Built) -> None:
    """Stage the listing as blocked by its problem (the per-item message reports it)."""
    tenant, cid, code = ctx.message.tenant_id, channel.connection_id, built.listing.item_code
    values = dict(sku=built.listing.sku, status=store.BLOCKED, digest=built.digest, document=None,
                  detail=built.blocked_detail)  # fmt: skip
    expect = row.digest if row else None
    ctx.stage(lambda c: store.put_listing(c, tenant, cid, code, expect=expect, now=ctx.now, **values))


def emit_item(ctx: HandlerContext, cid: str, code: str, *, key: str | None = None, **extra: Any) -> None:
    ctx.emit(
        kinds.PUBLISH_ITEM,
        {"item": code, "connection_id": cid, **extra},
        key=key,
        ordering_key=f"{cid}/{code}",
        correlation_id=f"catalog:{code}",
        connection_id=cid,
    )


def item_key(cid: str, code: str, row: ListingRow | None, built: Built) -> str:
    """The same change of the same listing is emitted once however many syncs see it."""
    key = f"catalog:{cid}:{code}:{(row.digest if row else '-')[:12]}>{built.digest[:12]}"
    return key if len(key) <= 300 else "catalog:" + hashlib.sha256(key.encode()).hexdigest()


def emit_feed(ctx: HandlerContext, channel: Channel) -> None:
    """Make sure a feed goes out for what was queued: one `catalog.feed.publish` per connection
    and window of `feed_delay_seconds`, run half a window after the window closed, so every
    listing queued in the window is in it."""
    window = channel.settings.feed_delay_seconds
    slot = int(ctx.now // window)
    cid = channel.connection_id
    ctx.emit(
        kinds.FEED_PUBLISH,
        {"connection_id": cid},
        key=f"catalog.feed:{cid}:{window:g}:{slot}",
        ordering_key=f"feed/{cid}",
        correlation_id=f"catalog-feed:{cid}",
        connection_id=cid,
        delay_seconds=max(0.0, (slot + 1.5) * window - ctx.now),
    )
