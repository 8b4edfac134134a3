"""Messages: every step of every flow, newest first; one with its payload and lineage."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query

from crossdock.api.v1.deps import Db, Reader, decode_cursor, encode_cursor, scope_for, visible
from crossdock.records import Status
from crossdock.store import queries, read_models

router = APIRouter(tags=["messages"])

_HIDDEN = ("lease_token", "lease_owner")


@router.get("/messages")
async def list_messages(
    principal: Reader,
    db: Db,
    tenant: str | None = None,
    stream: str | None = None,
    kind: str | None = None,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict:
    """Messages without payloads, newest first; `next_cursor` pages on."""
    scope = await scope_for(db, principal, tenant)
    before = decode_cursor(cursor, (int,))
    query = partial(
        read_models.list_messages,
        scope=scope,
        stream=stream,
        kind=kind,
        status=status,
        limit=limit,
        before_id=before[0] if before else None,
    )
    rows = await db.read(query)
    items = [{k: v for k, v in r.items() if k not in _HIDDEN} for r in rows]
    more = len(rows) == limit
    return {"items": items, "next_cursor": encode_cursor([rows[-1]["id"]]) if more else None}


@router.get("/messages/{message_id}")
async def get_message(message_id: int, principal: Reader, db: Db) -> dict:
    """One message: payload, lineage records and exceptions with the actions taken."""
    detail = await db.read(queries.message_detail, message_id)
    visible(principal, "message", message_id, detail and detail["tenant_id"])
    return {k: v for k, v in detail.items() if k not in _HIDDEN}
