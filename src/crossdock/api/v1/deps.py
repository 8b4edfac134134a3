"""Dependencies of the REST API, as `Annotated` aliases (fastapi full-stack template style).

`CurrentPrincipal` is the caller, from `Authorization: Bearer <key>` (401 when missing,
unknown or revoked). `require(action)` adds the role check (403); `Reader` and
`Operator` are the two the API uses. Tenant visibility is decided per request by
`scope_for` and `visible`: a tenant the principal cannot see answers 404, never 403.

Dependencies resolve in the order of a route's parameters: routes name the principal
(role check) before anything that loads an object (visibility), so a role that may not
act hears 403 whatever the object, and nothing about its existence."""

from __future__ import annotations

import base64
import logging
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crossdock.access import ALL_TENANTS, Action, Principal
from crossdock.api.v1.errors import ApiError, not_found, unauthorized
from crossdock.engine.database import Database
from crossdock.store import api_keys, read_models
from crossdock.store.read_models import Scope

log = logging.getLogger("crossdock.api.v1")

bearer = HTTPBearer(auto_error=False, description="An API key (`crossdock apikeys create`).")


def _hub(request: Request) -> Any:
    return request.app.state.hub


def _db(request: Request) -> Database:
    return request.app.state.hub.database


HubDep = Annotated[Any, Depends(_hub)]
Db = Annotated[Database, Depends(_db)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def current_principal(hub: HubDep, credentials: Credentials) -> Principal:
    if credentials is None:
        raise unauthorized("auth.missing", "this endpoint needs an API key")
    key = await hub.database.read(api_keys.lookup, credentials.credentials)
    if key is None:
        raise unauthorized("auth.invalid", "the API key is unknown or revoked")
    now = hub.clock()
    if key.last_used_at is None or now - key.last_used_at > api_keys.TOUCH_EVERY:
        try:
            await hub.database.write(api_keys.touch, key.id, now)
        except Exception:  # bookkeeping only: the request goes on
            log.exception("recording the use of API key %s failed", key.id)
    return key.principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(action: Action):
    """A dependency answering the principal when its role may `action`, else 403."""

    async def allowed(principal: CurrentPrincipal) -> Principal:
        if not principal.may(action):
            raise ApiError(
                403,
                "auth.forbidden",
                f"the role {principal.role.value} may not {action.value}",
                "Ask a partner admin for a key with a role that may.",
            )
        return principal

    return allowed


Reader = Annotated[Principal, Depends(require(Action.READ))]
Operator = Annotated[Principal, Depends(require(Action.OPERATE))]


async def scope_for(db: Database, principal: Principal, tenant: str | None) -> Scope:
    """The tenants a request reads or acts on: the asked one if it exists and is visible
    (else 404: a misspelt `?tenant=` answered an empty list, as if the tenant had nothing),
    or every tenant the principal sees (None: all of them)."""
    if tenant is not None:
        if not principal.sees(tenant) or await db.read(read_models.unknown_tenants, [tenant]):
            raise not_found("tenant", tenant)
        return (tenant,)
    if principal.is_partner and ALL_TENANTS in principal.tenants:
        return None
    own = tuple(sorted(t for t in principal.tenants if t != ALL_TENANTS))
    if not own:
        raise ApiError(403, "auth.no_tenants", "this key acts for no tenant")
    return own


def visible(principal: Principal, what: str, ident: object, tenant_id: str | None) -> None:
    """404 unless the object exists (`tenant_id` known) and its tenant is visible."""
    if tenant_id is None or not principal.sees(tenant_id):
        raise not_found(what, ident)


def encode_cursor(position: Any) -> str | None:
    if position is None:
        return None
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(cursor: str | None, shape: tuple[type, ...]) -> Any:
    """The position a cursor holds, checked against `shape`; 400 when it is not one of ours."""
    if cursor is None:
        return None
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        fits = isinstance(value, list) and len(value) == len(shape)
        if fits and all(
            isinstance(v, t) and not isinstance(v, bool) for v, t in zip(value, shape, strict=True)
        ):
            return tuple(value)
    except (ValueError, orjson.JSONDecodeError):
        pass
    raise ApiError(
        400, "cursor.invalid", "the cursor is not one this API gave out", "Start again without it."
    )
