"""Availability: what a channel may list of an item, and how that number was computed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crossdock.api.v1.deps import Db, Reader, scope_for
from crossdock.api.v1.errors import not_found
from crossdock.store import channel_availability

router = APIRouter(tags=["availability"])

Ident = Annotated[str, Query(min_length=1, max_length=200)]


@router.get("/availability")
async def get_availability(
    principal: Reader,
    db: Db,
    item: Ident,
    channel: Annotated[str | None, Query(max_length=64, description="A channel connection id.")] = None,
    tenant: str | None = None,
) -> dict:
    """Per channel connection (or the one asked): the quantity it may list of `item`, every
    step of its computation (on hand, allocated, reserved, unavailable, inbound, safety
    stock, share, cap, threshold, each with the rule applied), what was last handed to
    publishing, the item's stock per location and the orders holding it. 404 when no
    visible channel has computed the item."""
    scope = await scope_for(db, principal, tenant)
    found = await db.read(channel_availability.availability_view, scope, item, channel)
    if not found:
        raise not_found("availability", f"{item}@{channel}" if channel else item)
    return {"item": item, "channels": found}
