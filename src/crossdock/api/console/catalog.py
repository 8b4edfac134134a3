"""The catalog in the console: per channel connection, how many listings are published, in
flight (queued, submitted) and stuck (blocked, rejected), drawn as one stacked bar each; the
stuck listings with their problem; and one item's record with its listing per connection.

A tenant the viewer may not see answers 404 like one that does not exist; so does an item
the tenant has neither a record nor a listing of."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from crossdock.api.console.web import NotFound, Viewing, hub_of, render
from crossdock.configuration.catalog import CATALOG_KINDS
from crossdock.store import catalog as store
from crossdock.store.console_queries import tenant_name

router = APIRouter(prefix="/console/tenants", include_in_schema=False)

LIMIT = 200  # listings shown at once; the page says how many more there are

# What each status means, for the legend and the tooltips.
STATUS_MEANINGS = {
    store.PUBLISHED: "the channel took the listing",
    store.SUBMITTED: "sent in a feed, waiting for the channel's report",
    store.QUEUED: "built, waiting to be sent to the channel",
    store.BLOCKED: "a required attribute is missing or invalid: not sent",
    store.REJECTED: "the channel refused the listing",
}


@router.get("/{tenant_id}/catalog", response_class=HTMLResponse)
async def catalog_page(
    request: Request, viewer: Viewing, tenant_id: str, q: Annotated[str, Query(max_length=200)] = ""
) -> HTMLResponse:
    """Without `q`, the listings that need attention; with it, every listing of the items whose
    code starts with `q`."""
    viewer.check(tenant_id)
    hub = hub_of(request)
    prefix = q.strip()
    statuses = None if prefix else store.NEEDS_ATTENTION

    def load(c):
        if tenant_name(c, tenant_id) is None:
            return None
        counts = store.listing_counts(c, tenant_id)
        rows = store.find_listings(
            c, tenant_id, statuses=statuses, connection_ids=counts, prefix=prefix, limit=LIMIT
        )
        return counts, store.connection_kinds(c, tenant_id), rows

    found = await hub.database.read(load)
    if found is None:
        raise NotFound()
    counts, kinds, (rows, total) = found
    return render(
        request,
        "catalog.html",
        tenant=tenant_id,
        q=q,
        bars=stacked_bars(counts, kinds),
        meanings=STATUS_MEANINGS,
        rows=[listing_view(r) for r in rows],
        more=total - len(rows),
    )


@router.get("/{tenant_id}/catalog/items/{item:path}", response_class=HTMLResponse)
async def catalog_item(request: Request, viewer: Viewing, tenant_id: str, item: str) -> HTMLResponse:
    viewer.check(tenant_id)
    hub = hub_of(request)
    found = await hub.database.read(store.item_status, tenant_id, item)
    if found is None:
        raise NotFound()
    channels = [ch | {"reason": reason(ch["problem"])} for ch in found["channels"]]
    return render(
        request,
        "catalog_item.html",
        tenant=tenant_id,
        view=found,
        fields=flatten(found["record"]) if found["record"] is not None else None,
        channels=channels,
        meanings=STATUS_MEANINGS,
    )


def stacked_bars(counts: dict[str, dict[str, int]], kinds: dict[str, str]) -> list[dict[str, Any]]:
    """One bar per channel connection: a segment per status, in percent of the largest
    connection's total, so bar lengths compare across connections without a script.
    Connections a catalog can be published to appear even before their first listing."""
    ids = sorted(set(counts) | {cid for cid, kind in kinds.items() if kind in CATALOG_KINDS})
    totals = {cid: sum(counts.get(cid, {}).values()) for cid in ids}
    scale = max(totals.values(), default=0) or 1
    bars = []
    for cid in ids:
        mine = counts.get(cid, {})
        segments = [
            {"status": s, "count": mine.get(s, 0), "width": mine.get(s, 0) / scale * 100}
            for s in store.LISTING_STATUSES
        ]
        bars.append(
            {"connection_id": cid, "kind": kinds.get(cid, ""), "total": totals[cid], "segments": segments}
        )
    return bars


def listing_view(row: store.ListingRow) -> dict[str, Any]:
    problem = row.detail_plain  # text that is not JSON comes back as {"detail": text}
    return {
        "connection_id": row.connection_id,
        "item": row.item_code,
        "sku": row.sku,
        "status": row.status,
        "updated_at": row.updated_at,
        "reason": reason(problem),
    }


def reason(problem: Any) -> dict[str, str]:
    """A listing's problem (`catalog_listings.detail`) for a person: a short headline (the
    missing or refused attributes), the full sentence, the hint and the category."""
    if not problem:
        return {}
    if not isinstance(problem, dict):
        return {"headline": "", "detail": str(problem), "hint": "", "category": ""}
    missing = problem.get("missing") or []
    refused = problem.get("attributes") or []
    if missing:
        headline = "missing " + ", ".join(map(str, missing))
    elif problem.get("attribute"):
        headline = f"invalid {problem['attribute']}"
    elif refused:
        headline = "refused " + ", ".join(map(str, refused))
    else:
        headline = str(problem.get("category") or "")
    return {
        "headline": headline,
        "detail": str(problem.get("detail") or ""),
        "hint": str(problem.get("hint") or ""),
        "category": str(problem.get("category") or ""),
    }


def flatten(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """An item record as (dotted path, value) rows: the same paths an attribute mapping names
    (`identifiers.upc`, `images.0`), so what the table shows is what a mapping can point at."""
    if isinstance(value, dict) and value:
        return [row for key, v in value.items() for row in flatten(v, f"{path}.{key}" if path else str(key))]
    if isinstance(value, list) and value:
        return [row for i, v in enumerate(value) for row in flatten(v, f"{path}.{i}" if path else str(i))]
    return [(path, value)]
