"""The exception desk in the console: filter, group, act in bulk, edit and resubmit.

Actions are POSTs from forms (HTMX swaps the desk in place; without JavaScript the
browser follows the redirect): a viewer without the OPERATE right, or a form without
this session's CSRF token, gets 403. Every action is scoped to the viewer's tenants,
so an id from another tenant matches nothing."""

from __future__ import annotations

import functools
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crossdock.api.console.web import NotFound, Operating, Viewing, hub_of, redirect, render
from crossdock.records import ExceptionStatus
from crossdock.store import console_queries as views
from crossdock.store import exceptions as desk

router = APIRouter(prefix="/console/exceptions", include_in_schema=False)

STATUSES = [s.value for s in ExceptionStatus] + ["any"]
DONE = {"retry": "Sent back to the queue", "resolve": "Resolved"}
ERRORS = {
    "reason_required": "Resolving needs a reason: it is the only record of why nothing more happens.",
    "nothing_selected": "Select at least one exception, or act on every match.",
}
Text = Annotated[str, Query(max_length=200)]


def _filter(scope: tuple[str, ...], category: str, status: str) -> desk.ExceptionFilter:
    return desk.ExceptionFilter(
        tenant_ids=scope,
        category=category.strip() or None,
        status=None if status == "any" else status,
    )


def desk_url(tenant: str = "", category: str = "", status: str = "open", **extra: str) -> str:
    params = {
        k: v for k, v in {"tenant": tenant, "category": category, "status": status, **extra}.items() if v
    }
    return "/console/exceptions" + (f"?{urlencode(params)}" if params else "")


@router.get("", response_class=HTMLResponse)
async def desk_page(
    request: Request,
    viewer: Viewing,
    tenant: Text = "",
    category: Text = "",
    status: Text = "open",
    before: int | None = None,
    done: Text = "",
    error: Text = "",
) -> HTMLResponse:
    unknown = "" if status in STATUSES else f"There is no status {status[:40]!r}: showing open exceptions."
    status = status if status in STATUSES else "open"
    scope = viewer.scope(tenant or None)
    hub = hub_of(request)
    page = await hub.database.read(views.desk_page, _filter(scope, category, status), before)
    actions = await hub.database.read(views.recent_actions, list(scope) if scope else None)
    action, _, count = done.partition(":")
    return render(
        request,
        "desk.html",
        tenant=tenant,
        category=category,
        status=status,
        statuses=STATUSES,
        page=page,
        actions=actions,
        flash=f"{DONE[action]}: {int(count)} exception(s)." if action in DONE and count.isdigit() else "",
        error=ERRORS.get(error, "") or unknown,
        desk_url=desk_url,
        tenants=sorted(viewer.principal.tenants),
    )


@router.post("/act")
async def act(
    request: Request,
    viewer: Operating,
    op: Annotated[str, Form()],
    ids: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI copies form defaults
    tenant: Annotated[str, Form(max_length=200)] = "",
    category: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    """`op`: retry_selected | retry_all | resolve_selected | resolve_all (every open match)."""
    verb, _, which = op.partition("_")
    if verb not in DONE or which not in ("selected", "all"):
        raise NotFound()
    back = {"tenant": tenant, "category": category}
    if which == "selected" and not ids:
        return redirect(desk_url(**back, error="nothing_selected"))
    if verb == "resolve" and not reason.strip():
        return redirect(desk_url(**back, error="reason_required"))
    scope = viewer.scope(tenant or None)
    flt = (
        desk.ExceptionFilter(tenant_ids=scope, ids=tuple(ids))
        if which == "selected"
        else _filter(scope, category, "open")
    )
    hub = hub_of(request)
    actor = viewer.principal.name
    if verb == "retry":
        result = await hub.database.write(desk.retry, flt, actor, hub.clock())
    else:
        result = await hub.database.write(desk.resolve, flt, reason, actor, hub.clock())
    return redirect(desk_url(**back, done=f"{verb}:{result.count}"))


@router.get("/{exception_id}", response_class=HTMLResponse)
async def exception_page(request: Request, viewer: Viewing, exception_id: int) -> HTMLResponse:
    view = await _visible(request, viewer, exception_id)
    return render(request, "exception.html", tenant=view["exception"].tenant_id, **view)


@router.post("/{exception_id}/resubmit", response_class=HTMLResponse)
async def resubmit(
    request: Request,
    viewer: Operating,
    exception_id: int,
    payload: Annotated[str, Form(max_length=5_000_000)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Replace the parked message by the edited payload; invalid JSON is shown, nothing changes."""
    view = await _visible(request, viewer, exception_id)
    tenant = view["exception"].tenant_id
    hub = hub_of(request)
    try:
        await hub.database.write(
            functools.partial(desk.resubmit, tenant_id=tenant),
            exception_id,
            payload,
            viewer.principal.name,
            hub.clock(),
            reason.strip() or None,
        )
    except desk.DeskError as exc:
        status = 422 if isinstance(exc, desk.InvalidPayload) else 409
        return render(
            request,
            "exception.html",
            code=status,
            tenant=tenant,
            edited=payload,
            reason=reason,
            resubmit_error=exc.detail,
            **view,
        )
    return redirect(f"/console/exceptions/{exception_id}")


async def _visible(request: Request, viewer: Viewing, exception_id: int) -> dict:
    view = await hub_of(request).database.read(views.exception_view, exception_id)
    if view is None:
        raise NotFound()
    viewer.check(view["exception"].tenant_id)
    return view
