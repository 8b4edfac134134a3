"""Prices and approvals of a tenant: each channel's price per item with the explanation of
every step, the base price list, effective-dated price entries, and the price changes that
wait for approval.

Reading needs `read`. Setting or cancelling an entry needs `manage_mappings` and answers 202
(the change is a message: the flow stores it, recomputes the item and schedules the entry's
start and end). Approving or rejecting needs `approve_prices`; the decision is audited with
the key as who decided, and an approval hands the price to publishing. An approval that is
no longer pending answers 409; a tenant the key cannot see answers 404."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crossdock.access import Action, Principal
from crossdock.api.v1.deps import Db, HubDep, Reader, decode_cursor, encode_cursor, require, visible
from crossdock.api.v1.errors import ApiError, not_found
from crossdock.configuration.pricing import PriceEntryInput
from crossdock.domain.price_approval import ApprovalStatus
from crossdock.flows import pricing as flow
from crossdock.store import channel_prices as prices_store
from crossdock.store import messages as message_store
from crossdock.store import price_approvals as approvals
from crossdock.store import pricing as store

router = APIRouter(tags=["prices"])

Manager = Annotated[Principal, Depends(require(Action.MANAGE_MAPPINGS))]
Approver = Annotated[Principal, Depends(require(Action.APPROVE_PRICES))]
STATUSES = [s.value for s in ApprovalStatus] + ["any"]


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(
        None, max_length=2000, description="Why (kept with the decision and in the audit log)."
    )


async def _tenant(db: Db, tenant_id: str) -> set[str]:
    """The tenant's connection ids; 404 for an unknown tenant."""
    found = await db.read(store.tenant_connections, tenant_id)
    if found is None:
        raise not_found("tenant", tenant_id)
    return found


@router.get("/tenants/{tenant_id}/prices")
async def list_prices(
    tenant_id: str,
    principal: Reader,
    db: Db,
    item: str | None = None,
    connection_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> dict:
    """Channel prices by item and connection: computed, published (handed to the channel),
    confirmed (the channel took it), the publication state and the explanation."""
    visible(principal, "tenant", tenant_id, tenant_id)
    after = decode_cursor(cursor, (str, str))
    rows = await db.read(
        lambda c: prices_store.list_channel_prices(
            c, tenant_id, item=item, connection_id=connection_id, limit=limit, after=after
        )
    )
    position = (rows[-1].item, rows[-1].connection_id) if len(rows) == limit else None
    return {"items": [r.to_dict() for r in rows], "next_cursor": encode_cursor(position)}


@router.get("/tenants/{tenant_id}/prices/base")
async def base_prices(tenant_id: str, principal: Reader, db: Db, item: str | None = None) -> dict:
    """The base price list (price and cost per item), as the ERP or a feed last gave it."""
    visible(principal, "tenant", tenant_id, tenant_id)
    await _tenant(db, tenant_id)
    found = await db.read(store.read_base, tenant_id, [item] if item else None)
    return {
        "items": [
            {
                "item": b.item,
                "price": str(b.price),
                "currency": b.currency,
                "cost": None if b.cost is None else str(b.cost),
            }
            for b in found.values()
        ]
    }


@router.get("/tenants/{tenant_id}/prices/entries")
async def list_entries(tenant_id: str, principal: Reader, db: Db, item: str | None = None) -> dict:
    """Effective-dated prices, latest start first (cancelled ones too, with who cancelled)."""
    visible(principal, "tenant", tenant_id, tenant_id)
    await _tenant(db, tenant_id)
    return {"items": await db.read(store.list_entries, tenant_id, item)}


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Names this request: sent again with the same key, it is the same change.",
    ),
]


@router.post("/tenants/{tenant_id}/prices/entries", status_code=202)
async def set_entry(
    tenant_id: str, principal: Manager, hub: HubDep, entry: dict[str, Any], request_key: IdempotencyKey = None
) -> JSONResponse:
    """Set an effective-dated price (`ref` names it; the same ref replaces it). Times are ISO
    8601 or UNIX seconds; without `connection_id` it is for every channel. Every request is a
    change of its own; a client retrying one request sends the same `Idempotency-Key`."""
    visible(principal, "tenant", tenant_id, tenant_id)
    try:
        parsed = PriceEntryInput.model_validate(entry)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}" for e in exc.errors()]
        raise ApiError(
            422, "price_entry.invalid", "; ".join(problems), "Give item, price, starts_at (and ends_at)."
        ) from None
    owned = await _tenant(hub.database, tenant_id)
    if parsed.connection_id is not None and parsed.connection_id not in owned:
        raise ApiError(
            422,
            "price_entry.invalid",
            f"connection_id: tenant {tenant_id} has no connection {parsed.connection_id}",
        )
    ref = parsed.ref or _new_ref(principal.name, request_key)
    plain = {**parsed.model_dump(mode="json"), "ref": ref}
    new = flow.entries_message(tenant_id, principal.name, set_=[plain], request_key=request_key)
    return await _queue(hub, new, {"ref": ref})


def _new_ref(actor: str, request_key: str | None) -> str:
    """A ref for an entry given without one; the same for a repeated request, so the answer
    to the repeat names the entry the first one made."""
    if request_key is None:
        return f"e-{uuid.uuid4().hex[:16]}"
    return "e-" + flow.request_digest(actor, request_key)[:16]


@router.delete("/tenants/{tenant_id}/prices/entries/{ref}", status_code=202)
async def cancel_entry(
    tenant_id: str, ref: str, principal: Manager, hub: HubDep, request_key: IdempotencyKey = None
) -> JSONResponse:
    """Cancel an entry: it stops being in force, and its items are recomputed."""
    visible(principal, "tenant", tenant_id, tenant_id)
    await _tenant(hub.database, tenant_id)
    if not await hub.database.read(store.live_entries, tenant_id, [ref]):
        raise not_found("price_entry", ref)
    new = flow.entries_message(tenant_id, principal.name, cancel=[ref], request_key=request_key)
    return await _queue(hub, new, {"ref": ref})


async def _queue(hub: Any, new: Any, answer: dict) -> JSONResponse:
    written = await hub.database.write(message_store.insert, [new], hub.clock())
    return JSONResponse({**answer, "message_id": written[0].message_id}, status_code=202)


@router.get("/tenants/{tenant_id}/prices/approvals")
async def list_approvals(
    tenant_id: str,
    principal: Reader,
    db: Db,
    status: Annotated[str, Query(description="pending, approved, rejected, superseded or any.")] = "pending",
    item: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: int | None = None,
) -> dict:
    """Price changes over a channel's threshold, newest first."""
    visible(principal, "tenant", tenant_id, tenant_id)
    if status not in STATUSES:
        raise ApiError(
            422, "price_approval.status", f"unknown status {status}", f"One of {', '.join(STATUSES)}."
        )
    found = await db.read(
        lambda c: approvals.list_approvals(
            c, (tenant_id,), status=None if status == "any" else status, item=item, limit=limit, before=before
        )
    )
    return {
        "items": [a.to_dict() for a in found],
        "next_before": found[-1].id if len(found) == limit else None,
    }


@router.get("/tenants/{tenant_id}/prices/approvals/{approval_id}")
async def get_approval(tenant_id: str, approval_id: int, principal: Reader, db: Db) -> dict:
    visible(principal, "tenant", tenant_id, tenant_id)
    found = await db.read(approvals.get_approval, approval_id)
    if found is None or found.tenant_id != tenant_id:
        raise not_found("price_approval", approval_id)
    return found.to_dict()


@router.post("/tenants/{tenant_id}/prices/approvals/{approval_id}/{decision}")
async def decide(
    tenant_id: str,
    approval_id: int,
    decision: Literal["approve", "reject"],
    principal: Approver,
    hub: HubDep,
    body: DecisionBody | None = None,
) -> dict:
    """Approve (the price goes to the channel) or reject (the channel keeps its price; the same
    price is not asked again) a pending change. Recorded with the key as who decided."""
    visible(principal, "tenant", tenant_id, tenant_id)
    act = flow.approve if decision == "approve" else flow.reject
    reason = body.reason if body is not None else None
    try:
        done = await hub.database.write(act, approval_id, principal.name, hub.clock(), reason, (tenant_id,))
    except approvals.ApprovalNotFound:
        raise not_found("price_approval", approval_id) from None
    except approvals.NotPending as exc:
        raise ApiError(
            409,
            "price_approval.not_pending",
            exc.detail,
            "Reload it: someone decided, or the price moved on.",
        ) from None
    return done.to_dict()


@router.get("/tenants/{tenant_id}/prices/{connection_id}/{item:path}")
async def get_price(tenant_id: str, connection_id: str, item: str, principal: Reader, db: Db) -> dict:
    """One channel's price of one item, with the explanation of every step."""
    visible(principal, "tenant", tenant_id, tenant_id)
    found = await db.read(prices_store.get_channel_price, tenant_id, connection_id, item)
    if found is None:
        raise not_found("price", f"{connection_id}/{item}")
    return found.to_dict()
