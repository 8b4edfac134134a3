"""A tenant's mappings, one entry at a time: list a section, add or replace an entry,
remove one by its key. Sections: sku, uom, tax_codes, shipping_methods, customers. And the
order rule documents, each read or replaced whole: units (erp_uom, item_erp_uoms),
customer_policies (what to do with an unmatched customer, per channel), legal_entities,
routing and validation.

An entry is written as in the configuration file (`{channel: shopify, sku: A-1, item: X}`)
and validated against the tenant's whole mapping set before it is stored; an invalid one
answers 422 naming the problem. Every change is audited with the key as the actor. Reading
needs `read`, changing `manage_mappings`; a tenant the key cannot see answers 404."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import ValidationError

from crossdock.access import Action, Principal
from crossdock.api.v1.deps import Db, HubDep, Reader, require, visible
from crossdock.api.v1.errors import ApiError, not_found
from crossdock.domain.errors import DomainError
from crossdock.store import mappings as store

router = APIRouter(tags=["mappings"])

Manager = Annotated[Principal, Depends(require(Action.MANAGE_MAPPINGS))]
SECTIONS_HINT = f"One of {', '.join(store.SECTIONS)}."


def _section(section: str) -> None:
    if section not in store.SECTIONS:
        raise ApiError(404, "mapping_section.not_found", f"no mapping section {section}", SECTIONS_HINT)


def _invalid(exc: Exception) -> ApiError:
    if isinstance(exc, ValidationError):
        problems = [f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}" for e in exc.errors()]
        return ApiError(
            422, "mapping.invalid", "; ".join(problems), "Write the entry as in the configuration file."
        )
    if isinstance(exc, DomainError):
        return ApiError(422, exc.code, exc.detail, exc.hint)
    return ApiError(422, "mapping.invalid", str(exc))


async def _read(db: Db, fn: Any, tenant_id: str, name: str) -> Any:
    """`fn(conn, tenant_id, name)`; its None (no such tenant) answers 404."""
    found = await db.read(fn, tenant_id, name)
    if found is None:
        raise not_found("tenant", tenant_id)
    return found


async def _write(hub: Any, fn: Any, tenant_id: str, *args: Any) -> Any:
    """`fn(engine, tenant_id, *args)` off the event loop; an unknown tenant answers 404, an
    invalid value 422 naming the problem."""
    try:
        return await asyncio.to_thread(fn, hub.database.engine, tenant_id, *args)
    except LookupError:
        raise not_found("tenant", tenant_id) from None
    except (ValidationError, DomainError, ValueError) as exc:
        raise _invalid(exc) from None


@router.get("/tenants/{tenant_id}/mappings/{section}")
async def list_mappings(tenant_id: str, section: str, principal: Reader, db: Db) -> dict:
    """The section's entries with their keys (the key names an entry for DELETE)."""
    visible(principal, "tenant", tenant_id, tenant_id)
    _section(section)
    return {"items": await _read(db, store.list_entries, tenant_id, section)}


@router.put("/tenants/{tenant_id}/mappings/{section}")
async def put_mapping(
    tenant_id: str,
    section: str,
    principal: Manager,
    hub: HubDep,
    entry: Annotated[dict[str, Any], Body(description="One entry, as in the configuration file.")],
) -> dict:
    """Add an entry, or replace the one with the same key; answers its key."""
    visible(principal, "tenant", tenant_id, tenant_id)
    _section(section)
    key = await _write(hub, store.upsert_entry, tenant_id, section, entry, principal.name)
    return {"key": key, "section": section}


@router.delete("/tenants/{tenant_id}/mappings/{section}/{key:path}")
async def delete_mapping(tenant_id: str, section: str, key: str, principal: Manager, hub: HubDep) -> dict:
    """Remove the entry with this key (as listed); 404 when there is none."""
    visible(principal, "tenant", tenant_id, tenant_id)
    _section(section)
    engine = hub.database.engine
    if not await asyncio.to_thread(store.delete_entry, engine, tenant_id, section, key, principal.name):
        raise not_found("mapping", key)
    return {"deleted": key, "section": section}


def _rule(name: str) -> None:
    if name not in store.ORDER_RULES:
        hint = f"One of {', '.join(store.ORDER_RULES)}; the others are changed with crossdock apply."
        raise ApiError(404, "rule.not_found", f"no order rule document {name}", hint)


@router.get("/tenants/{tenant_id}/rules/{name}")
async def get_rule(tenant_id: str, name: str, principal: Reader, db: Db) -> dict:
    """The rule document as stored (`value` null: never set), with who changed it last."""
    visible(principal, "tenant", tenant_id, tenant_id)
    _rule(name)
    return await _read(db, store.get_rule, tenant_id, name)


@router.put("/tenants/{tenant_id}/rules/{name}")
async def put_rule(
    tenant_id: str,
    name: str,
    principal: Manager,
    hub: HubDep,
    document: Annotated[dict[str, Any], Body(description="The whole document, as in the configuration file.")],
) -> dict:
    """Replace the rule document, validated against the tenant's whole rule set; audited. The
    next order step of every process uses it."""
    visible(principal, "tenant", tenant_id, tenant_id)
    _rule(name)
    await _write(hub, store.put_rule, tenant_id, name, document, principal.name)
    return await _read(hub.database, store.get_rule, tenant_id, name)
