"""A summary of the work in flight, for dashboards and checks."""

from __future__ import annotations

from fastapi import APIRouter

from crossdock.api.v1.deps import HubDep, Reader, scope_for
from crossdock.store import read_models

router = APIRouter(tags=["metrics"])


@router.get("/metrics/summary")
async def summary(principal: Reader, hub: HubDep, tenant: str | None = None) -> dict:
    """Messages by stream and status, the age of the oldest ready message per stream,
    open exceptions by category and orders by stage, over one tenant or all visible."""
    scope = await scope_for(hub.database, principal, tenant)
    return await hub.database.read(read_models.metrics_summary, scope, hub.clock())
