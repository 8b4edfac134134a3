"""A tenant's catalog, per item: the item master record and each channel connection's listing
of it (status, whether the channel has the current listing, when it was published, and why
it is blocked or was refused). Reading needs `read`; a tenant the key cannot see, or an item
the catalog has never seen, answers 404."""

from __future__ import annotations

from fastapi import APIRouter

from crossdock.api.v1.deps import Db, Reader, visible
from crossdock.api.v1.errors import not_found
from crossdock.store import catalog as store

router = APIRouter(tags=["catalog"])


@router.get("/tenants/{tenant_id}/catalog/items/{item:path}")
async def catalog_item(tenant_id: str, item: str, principal: Reader, db: Db) -> dict:
    """The item's record and its listing status per channel connection."""
    visible(principal, "tenant", tenant_id, tenant_id)
    found = await db.read(store.item_status, tenant_id, item)
    if found is None:
        raise not_found("catalog_item", item)
    return found
