"""Price approvals in the console: the price changes waiting for a person, approve or reject
each (HTMX swaps the page in place; without JavaScript the browser follows the redirect),
the recent decisions, and each channel's price with the explanation of every step.

Deciding needs the APPROVE_PRICES right and this session's CSRF token (403 otherwise); the
decision is audited with the signed-in user as who decided. A tenant the viewer may not see
answers 404 like one that does not exist."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from crossdock.access import Action
from crossdock.api.console.web import Forbidden, NotFound, Operating, Viewing, hub_of, redirect, render
from crossdock.flows import pricing as flow
from crossdock.store import channel_prices as prices_store
from crossdock.store import price_approvals as approvals
from crossdock.store import pricing as store

router = APIRouter(prefix="/console/tenants", include_in_schema=False)

DONE = {
    "approve": "Approved: the price goes to the channel",
    "reject": "Rejected: the channel keeps its price",
}
ERRORS = {"not_pending": "Someone decided on it already, or the price moved on: see below."}


def _url(tenant_id: str, **params: str) -> str:
    shown = {k: v for k, v in params.items() if v}
    return f"/console/tenants/{tenant_id}/prices" + (f"?{urlencode(shown)}" if shown else "")


@router.get("/{tenant_id}/prices", response_class=HTMLResponse)
async def prices_page(
    request: Request,
    viewer: Viewing,
    tenant_id: str,
    item: Annotated[str, Query(max_length=200)] = "",
    done: Annotated[str, Query(max_length=100)] = "",
    error: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    viewer.check(tenant_id)
    hub = hub_of(request)
    if await hub.database.read(store.tenant_connections, tenant_id) is None:
        raise NotFound()
    scope = (tenant_id,)
    wanted = item.strip() or None

    def load(c):
        return (
            approvals.list_approvals(c, scope, status="pending", item=wanted, limit=200),
            [
                a
                for a in approvals.list_approvals(c, scope, status=None, item=wanted, limit=50)
                if a.decided_at
            ],
            prices_store.list_channel_prices(c, tenant_id, item=wanted, limit=100),
        )

    waiting, decided, rows = await hub.database.read(load)
    verb, _, which = done.partition(":")
    return render(
        request,
        "prices.html",
        tenant=tenant_id,
        item=item,
        waiting=waiting,
        decided=decided,
        rows=rows,
        may_approve=viewer.principal.may(Action.APPROVE_PRICES),
        flash=f"{DONE[verb]} (#{which})." if verb in DONE and which.isdigit() else "",
        error=ERRORS.get(error, ""),
    )


@router.post("/{tenant_id}/prices/approvals/{approval_id}/{decision}")
async def decide(
    request: Request,
    viewer: Operating,
    tenant_id: str,
    approval_id: int,
    decision: str,
    reason: Annotated[str, Form(max_length=2000)] = "",
    item: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """`decision`: approve | reject, for one pending approval of the tenant."""
    viewer.check(tenant_id)
    if decision not in DONE:
        raise NotFound()
    if not viewer.principal.may(Action.APPROVE_PRICES):
        raise Forbidden("your role may not approve prices")
    hub = hub_of(request)
    act = flow.approve if decision == "approve" else flow.reject
    try:
        await hub.database.write(
            act, approval_id, viewer.principal.name, hub.clock(), reason.strip() or None, (tenant_id,)
        )
    except approvals.ApprovalNotFound:
        raise NotFound() from None
    except approvals.NotPending:
        return redirect(_url(tenant_id, item=item, error="not_pending"))
    return redirect(_url(tenant_id, item=item, done=f"{decision}:{approval_id}"))
