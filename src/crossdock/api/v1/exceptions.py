"""The exception desk over HTTP: list, look, retry, resubmit an edited payload, resolve,
and act in bulk on a filter.

Every action is audited with the key as the actor (`store.exceptions` writes the audit
entries). Tenants come from the path or `?tenant=` and the key, never from a body. A body
naming a field it does not have (a `tenant_id`, a misspelt filter key) is refused with 422:
ignoring it would widen a bulk action to more exceptions than the operator meant. Retry and
resubmit answer 202 (the message is queued again), resolve 200; an exception no longer open
answers 409."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from crossdock.access import Principal
from crossdock.api.v1.deps import CurrentPrincipal, Db, HubDep, Operator, Reader, scope_for, visible
from crossdock.api.v1.errors import ApiError
from crossdock.records import ExceptionStatus
from crossdock.store import exceptions as desk
from crossdock.store import queries
from crossdock.store.read_models import Scope

router = APIRouter(tags=["exceptions"])


class ResubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payload: Any = Field(..., description="The edited message payload (JSON).")
    reason: str | None = Field(None, max_length=2000)


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(..., min_length=1, max_length=2000, description="Why nothing more will happen.")


class BulkFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str | None = Field(None, description="A category, or a prefix ending in '.'.")
    kind: str | None = None
    connection_id: str | None = None
    severity: str | None = None
    owner: str | None = None
    ids: list[int] = Field(default_factory=list, max_length=10_000)


class BulkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["retry", "resolve"]
    filter: BulkFilter = Field(default_factory=BulkFilter)
    reason: str | None = Field(None, max_length=2000)
    all_open: bool = Field(False, description="Act on every open exception in scope when no filter is given.")


async def visible_exception(
    exception_id: int, principal: CurrentPrincipal, db: Db
) -> queries.ExceptionRecord:
    found = await db.read(queries.get_exception, exception_id)
    visible(principal, "exception", exception_id, found and found.tenant_id)
    return found


Exception_ = Annotated[queries.ExceptionRecord, Depends(visible_exception)]


def _desk_error(exc: desk.DeskError) -> ApiError:
    if isinstance(exc, desk.NotOpen):
        return ApiError(409, "exception.not_open", exc.detail, "Reload it: someone may have acted on it.")
    return ApiError(422, "exception.invalid_action", exc.detail)


def _only(flt_scope: Scope, **fields: Any) -> desk.ExceptionFilter:
    return desk.ExceptionFilter(tenant_ids=flt_scope or (), **fields)


async def _act(hub: Any, fn: Any, *args: Any) -> desk.ActionResult:
    try:
        return await hub.database.write(fn, *args)
    except desk.DeskError as exc:
        raise _desk_error(exc) from None


def _answer(result: desk.ActionResult, status: int, exception_id: int | None = None) -> JSONResponse:
    if exception_id is not None and not result.count:
        raise ApiError(409, "exception.not_open", f"exception {exception_id} is not open")
    return JSONResponse(result.to_dict(), status_code=status)


# A closed list: a misspelt status is refused (422 naming the values), not answered with nothing.
StatusFilter = Literal[tuple([*(s.value for s in ExceptionStatus), "any"])]  # type: ignore[valid-type]


@router.get("/exceptions")
async def list_exceptions(
    principal: Reader,
    db: Db,
    tenant: str | None = None,
    category: str | None = None,
    status: Annotated[StatusFilter, Query(description="open, retried, resubmitted, resolved, cleared or any.")] = "open",
    kind: str | None = None,
    connection_id: str | None = None,
    group_by: Literal["category"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    """Exceptions newest first, or counted per category with `group_by=category`."""
    scope = await scope_for(db, principal, tenant)
    fields = {"category": category, "kind": kind, "connection_id": connection_id}
    flt = _only(scope, status=None if status == "any" else status, **fields)
    if group_by:
        return {"groups": await db.read(queries.group_by_category, flt)}
    found = await db.read(queries.list_exceptions, flt, limit, offset)
    return {"items": [e.to_dict() for e in found]}


@router.get("/exceptions/{exception_id}")
async def get_exception(principal: Reader, exc: Exception_, db: Db) -> dict:
    """One exception with the actions taken on it."""
    return {**exc.to_dict(), "actions": await db.read(queries.actions_of, exc.tenant_id, exc.id)}


@router.post("/exceptions/{exception_id}/retry", status_code=202)
async def retry(principal: Operator, exc: Exception_, hub: HubDep) -> JSONResponse:
    """Send the parked message back to the queue as it was, with a fresh retry budget."""
    flt = _only((exc.tenant_id,), ids=(exc.id,))
    return _answer(await _act(hub, desk.retry, flt, principal.name, hub.clock()), 202, exc.id)


@router.post("/exceptions/{exception_id}/resubmit", status_code=202)
async def resubmit(
    principal: Operator, exc: Exception_, body: ResubmitBody, hub: HubDep, request: Request
) -> JSONResponse:
    """Replace the parked message by an edited copy that keeps its place in its key's order."""
    if body.payload is None:
        raise ApiError(422, "exception.invalid_action", "the payload must not be null")
    _refuse_repeated_keys(await request.body())
    payload = _payload_text(body.payload)
    result = await _act(
        hub, _resubmit, exc.id, payload, principal.name, hub.clock(), body.reason, exc.tenant_id
    )
    return _answer(result, 202, exc.id)


def _payload_text(payload: Any) -> str:
    """The edited payload as the JSON the message will carry, refused when JSON cannot say it
    as sent: NaN or Infinity (would be written null), integers beyond 64 bits, lone surrogates."""
    try:
        json.dumps(payload, allow_nan=False)
        return orjson.dumps(payload).decode()
    except (ValueError, TypeError) as err:
        raise ApiError(
            422,
            "exception.invalid_payload",
            f"the payload cannot be written as JSON the way it was sent: {err}",
            "Send numbers as finite values within 64 bits (or as strings) and text as valid Unicode.",
        ) from None


def _refuse_repeated_keys(raw: bytes) -> None:
    """A key given twice in one object of the body is refused: the parsed body kept the last
    value, so the operator's edit may not be what was meant."""
    try:
        desk.refuse_repeated_keys(raw)
    except desk.InvalidPayload as exc:
        raise ApiError(422, "exception.invalid_payload", exc.detail, "Give each key once.") from None


def _resubmit(conn: Any, exception_id: int, payload: str, actor: str, now: float, reason: Any, tenant: str):
    return desk.resubmit(conn, exception_id, payload, actor, now, reason, tenant_id=tenant)


@router.post("/exceptions/{exception_id}/resolve")
async def resolve(principal: Operator, exc: Exception_, body: ResolveBody, hub: HubDep) -> JSONResponse:
    """Close the exception without handling its message; its ordering key moves on."""
    flt = _only((exc.tenant_id,), ids=(exc.id,))
    return _answer(await _act(hub, desk.resolve, flt, body.reason, principal.name, hub.clock()), 200, exc.id)


@router.post("/exceptions/bulk")
async def bulk(principal: Operator, body: BulkBody, hub: HubDep, tenant: str | None = None) -> JSONResponse:
    """Retry or resolve every open exception matching `filter`, within `?tenant=` (or every
    tenant the key sees). Without a filter or tenant, `all_open: true` is required."""
    scope = await scope_for(hub.database, principal, tenant)
    f = body.filter
    fields = {k: v for k, v in f.model_dump().items() if k != "ids"}
    if not (tenant or any(fields.values()) or f.ids or body.all_open):
        raise ApiError(
            422,
            "bulk.unfiltered",
            "a bulk action needs a filter",
            "Give a filter or ?tenant=, or all_open: true.",
        )
    flt = _only(scope, ids=tuple(f.ids), **fields)
    return await _bulk(hub, principal, body, flt)


async def _bulk(hub: Any, principal: Principal, body: BulkBody, flt: desk.ExceptionFilter) -> JSONResponse:
    if body.action == "retry":
        return _answer(await _act(hub, desk.retry, flt, principal.name, hub.clock()), 202)
    reason = body.reason or ""
    return _answer(await _act(hub, desk.resolve, flt, reason, principal.name, hub.clock()), 200)
