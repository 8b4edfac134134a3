"""Tenants the caller sees, and each tenant's connections with their health."""

from __future__ import annotations

from fastapi import APIRouter

from crossdock.api.v1.deps import Db, HubDep, Reader, scope_for, visible
from crossdock.api.v1.errors import not_found
from crossdock.store import read_models

router = APIRouter(tags=["tenants"])


@router.get("/tenants")
async def list_tenants(principal: Reader, db: Db) -> dict:
    """The tenants this key acts for."""
    return {"items": await db.read(read_models.list_tenants, await scope_for(db, principal, None))}


@router.get("/tenants/{tenant_id}")
async def get_tenant(tenant_id: str, principal: Reader, db: Db) -> dict:
    """One tenant; its settings with secrets redacted."""
    visible(principal, "tenant", tenant_id, tenant_id)
    found = await db.read(read_models.get_tenant, tenant_id)
    if found is None:
        raise not_found("tenant", tenant_id)
    return found


@router.get("/tenants/{tenant_id}/connections")
async def list_connections(tenant_id: str, principal: Reader, hub: HubDep) -> dict:
    """Each connection: kind, enabled, configuration (secrets redacted) and health —
    `disabled`, `paused` (throttled by the other side), `failing` (the last outbound call
    failed), `degraded` (failures in the last hour or open exceptions), `ok` or `idle`."""
    visible(principal, "tenant", tenant_id, tenant_id)
    if await hub.database.read(read_models.get_tenant, tenant_id) is None:
        raise not_found("tenant", tenant_id)
    return {"items": await hub.database.read(read_models.connection_health, tenant_id, hub.clock())}
