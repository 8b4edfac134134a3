"""Availability drift: the reports of reconciliation, per channel connection, latest first —
how many items were checked and found off, how far off (total and largest difference),
since when (the oldest drift still seen), and the largest drifts item by item."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crossdock.api.v1.deps import Db, Reader, visible
from crossdock.store import drift

router = APIRouter(tags=["availability"])


@router.get("/tenants/{tenant_id}/availability/drift")
async def list_drift(
    tenant_id: str,
    principal: Reader,
    db: Db,
    connection: Annotated[
        str | None, Query(max_length=64, description="Only this channel connection.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict:
    """Drift reports of the tenant's reconciliation runs, latest first (a run still going is
    `running`). Quantities are decimal strings; times are UNIX seconds."""
    visible(principal, "tenant", tenant_id, tenant_id)
    found = await db.read(drift.list_reports, tenant_id, connection, limit)
    return {"tenant_id": tenant_id, "reports": [r.to_dict() for r in found]}
