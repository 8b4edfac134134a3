"""Console pages that look: tenants, a tenant's overview, orders and their timelines, connections,
the availability explainer.

Every tenant in a URL is checked against the viewer first: a tenant the viewer may not
see answers 404 exactly like one that does not exist."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from crossdock.access import ALL_TENANTS
from crossdock.api.console.web import NotFound, Viewing, hub_of, redirect, render
from crossdock.store import channel_availability
from crossdock.store import console_queries as views
from crossdock.store import console_trail as trail
from crossdock.store.counters import tenant_counters

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request, viewer: Viewing, after: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    """The viewer's tenants; straight to the overview when there is only one."""
    hub = hub_of(request)
    rows = await hub.database.read(views.tenants_page, viewer.principal, after)
    mine = viewer.principal.tenants - {ALL_TENANTS}
    if not after and len(rows) == 1 and len(mine) == 1:
        return redirect(f"/console/tenants/{rows[0]['id']}")
    next_after = rows[-1]["id"] if len(rows) == 50 else None
    return render(request, "tenants.html", rows=rows, next_after=next_after)


@router.get("/tenants/{tenant_id}", response_class=HTMLResponse)
async def overview(request: Request, viewer: Viewing, tenant_id: str) -> HTMLResponse:
    viewer.check(tenant_id)
    hub = hub_of(request)
    view = await hub.database.read(views.overview, tenant_id, hub.clock())
    if view is None:
        raise NotFound()
    return render(request, "overview.html", tenant=tenant_id, view=view)


@router.get("/tenants/{tenant_id}/orders", response_class=HTMLResponse)
async def orders(
    request: Request,
    viewer: Viewing,
    tenant_id: str,
    q: Annotated[str, Query(max_length=200)] = "",
    before: float | None = None,
) -> HTMLResponse:
    viewer.check(tenant_id)
    hub = hub_of(request)
    if q.strip():
        rows = await hub.database.read(trail.find_orders, tenant_id, q)
        next_before = None
    else:
        rows = await hub.database.read(trail.recent_orders, tenant_id, before)
        next_before = rows[-1]["created_at"] if len(rows) == 50 else None
    return render(request, "orders.html", tenant=tenant_id, rows=rows, q=q, next_before=next_before)


@router.get("/tenants/{tenant_id}/orders/{ref:path}", response_class=HTMLResponse)
async def order(request: Request, viewer: Viewing, tenant_id: str, ref: str) -> HTMLResponse:
    """One order's timeline (or any business transaction's, by its correlation id)."""
    viewer.check(tenant_id)
    hub = hub_of(request)
    found = await hub.database.read(trail.order_trail, tenant_id, ref)
    if found is None:
        raise NotFound()
    return render(request, "order.html", tenant=tenant_id, ref=ref, **found)


@router.get("/tenants/{tenant_id}/connections", response_class=HTMLResponse)
async def connections(request: Request, viewer: Viewing, tenant_id: str) -> HTMLResponse:
    viewer.check(tenant_id)
    hub = hub_of(request)
    name = await hub.database.read(views.tenant_name, tenant_id)
    if name is None:
        raise NotFound()
    rows = await hub.database.read(trail.connection_health, tenant_id, hub.clock())
    counted = await hub.database.read(tenant_counters, tenant_id)
    events = [{"name": name, "count": n, "meaning": event_meaning(name)} for name, n in counted]
    return render(request, "connections.html", tenant=tenant_id, rows=rows, events=events)


# What the durable counters (store.counters) of a tenant mean, by name or name prefix.
EVENT_MEANINGS = {
    "stock.applied": "stock reports taken in ledger order",
    "stock.unsequenced": "stock reports without a ledger sequence, taken as reported",
    "stock.rebased": "snapshots older than adjustments already taken, rebased on them",
    "stock.restarted": "a new source's ledger numbers: its first report taken, its ledger started",
    "stock.included": "adjustments a snapshot already counted: ignored",
    "stock.duplicate": "adjustments delivered again: ignored",
    "stock.superseded": "snapshots older than what the hub holds: ignored",
    "webhook.refused.": "deliveries refused, by reason (nothing was stored; the sender was told why)",
}


def event_meaning(name: str) -> str:
    if name in EVENT_MEANINGS:
        return EVENT_MEANINGS[name]
    prefix = next((p for p in EVENT_MEANINGS if p.endswith(".") and name.startswith(p)), None)
    return EVENT_MEANINGS[prefix] if prefix else ""


@router.get("/tenants/{tenant_id}/availability", response_class=HTMLResponse)
async def availability(
    request: Request,
    viewer: Viewing,
    tenant_id: str,
    item: Annotated[str, Query(max_length=200)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """The availability explainer: one item's quantity per channel as a waterfall of its
    steps (on hand down to what the channel may list), or the recently computed items."""
    viewer.check(tenant_id)
    hub = hub_of(request)
    if await hub.database.read(views.tenant_name, tenant_id) is None:
        raise NotFound()
    if not item:
        rows = await hub.database.read(channel_availability.recent_availability, tenant_id, q.strip())
        return render(request, "availability.html", tenant=tenant_id, rows=rows, q=q, item="", channels=[])
    channels = await hub.database.read(channel_availability.availability_view, (tenant_id,), item, None)
    for view in channels:
        view["waterfall"] = waterfall(view["explanation"])
    return render(request, "availability.html", tenant=tenant_id, rows=[], q=q, item=item, channels=channels)


def waterfall(steps: list[dict]) -> list[dict]:
    """Each step as a bar from the running total before it to the total after it, in
    percent of the largest running total (so the chart needs no script)."""
    totals = [Decimal(s["total"]) for s in steps]
    scale = max([abs(t) for t in totals] + [Decimal(1)])
    bars, before = [], Decimal(0)
    for step, total in zip(steps, totals, strict=True):
        low, high = sorted((max(before, Decimal(0)), max(total, Decimal(0))))
        bars.append(
            step
            | {
                "left": float(low / scale * 100),
                "width": max(float((high - low) / scale * 100), 0.4),
                "down": Decimal(step["value"]) < 0,
            }
        )
        before = total
    return bars
