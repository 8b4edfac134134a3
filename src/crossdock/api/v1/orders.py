"""Orders: a list across the visible tenants, one order in detail, and its timeline.

Order refs hold a colon (`shopify:1001`); they are matched as a path, so the timeline
route is declared before the detail route."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query

from crossdock.api.v1.deps import Db, Reader, decode_cursor, encode_cursor, scope_for, visible
from crossdock.api.v1.errors import not_found
from crossdock.flows.orders.stages import Stage
from crossdock.store import read_models, timeline

router = APIRouter(tags=["orders"])


@router.get("/orders")
async def list_orders(
    principal: Reader,
    db: Db,
    tenant: str | None = None,
    stage: Stage | None = None,
    channel: str | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the order ref, channel id or ERP number.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> dict:
    """Orders, newest first; `next_cursor` pages on."""
    scope = await scope_for(db, principal, tenant)
    after = decode_cursor(cursor, ((int, float), str, str))
    query = partial(
        read_models.list_orders, scope=scope, stage=stage, channel=channel, q=q, limit=limit, after=after
    )
    items, position = await db.read(query)
    return {"items": items, "next_cursor": encode_cursor(position)}


@router.get("/orders/{tenant_id}/{order_ref:path}/timeline")
async def order_timeline(tenant_id: str, order_ref: str, principal: Reader, db: Db) -> dict:
    """Everything that happened to the order, oldest first: each message and where it
    ended, each lineage record (inbound bodies, outbound requests and responses,
    redacted when written), exceptions and operator actions."""
    visible(principal, "order", order_ref, tenant_id)
    events = await db.read(timeline.order_timeline, tenant_id, order_ref)
    if events is None:
        raise not_found("order", order_ref)
    return {"tenant_id": tenant_id, "order_ref": order_ref, "events": events}


@router.get("/orders/{tenant_id}/{order_ref:path}")
async def get_order(tenant_id: str, order_ref: str, principal: Reader, db: Db) -> dict:
    """One order: its document, stage, status, releases, shipments and exceptions."""
    visible(principal, "order", order_ref, tenant_id)
    found = await db.read(read_models.order_detail, tenant_id, order_ref)
    if found is None:
        raise not_found("order", order_ref)
    return found
