"""Read models for the REST API and the `orders` CLI: tenants, connection health, orders,
messages, a metrics summary (an order's timeline: `store.timeline`). Read-only.

`tenant_ids` is the scope a caller may see: a tuple of tenant ids, or None for every
tenant (a partner key for `*`). An empty tuple sees nothing. Every query filters on it,
so nothing reads across tenants by accident."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import orjson
from sqlalchemy import Connection, and_, case, func, or_, select, tuple_

from crossdock.access import ALL_TENANTS
from crossdock.configuration.secrets import REDACTED, map_tokens, redact
from crossdock.store import orders as order_store
from crossdock.store.queries import ExceptionFilter, group_by_category
from crossdock.store.tables import (
    connections,
    exceptions,
    lineage,
    messages,
    orders,
    tenants,
    throttles,
)

Scope = tuple[str, ...] | None
HEALTH_WINDOW = 3600.0  # seconds of outbound calls a connection's health is judged on


def _in_scope(column, tenant_ids: Scope) -> list:
    return [] if tenant_ids is None else [column.in_(tenant_ids)]


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def tenant_ids(conn: Connection, scope: Scope) -> list[str]:
    return list(
        conn.execute(
            select(tenants.c.id).where(*_in_scope(tenants.c.id, scope)).order_by(tenants.c.id)
        ).scalars()
    )


# --------------------------------------------------------------------------- tenants


def unknown_tenants(conn: Connection, ids: Iterable[str]) -> list[str]:
    """Of these tenant ids (`*` aside), those no tenant has."""
    wanted = sorted({t for t in ids if t != ALL_TENANTS})
    if not wanted:
        return []
    known = set(conn.execute(select(tenants.c.id).where(tenants.c.id.in_(wanted))).scalars())
    return [t for t in wanted if t not in known]


def list_tenants(conn: Connection, scope: Scope) -> list[dict]:
    q = select(tenants.c.id, tenants.c.name, tenants.c.created_at, tenants.c.updated_at)
    return [
        dict(r._mapping)
        for r in conn.execute(q.where(*_in_scope(tenants.c.id, scope)).order_by(tenants.c.id))
    ]


def get_tenant(conn: Connection, tenant_id: str) -> dict | None:
    row = conn.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
    if row is None:
        return None
    found = dict(row._mapping)
    found["settings"] = _secret_free(_loads(found["settings"]) or {})
    return found


def _secret_free(value: Any, kind: str | None = None) -> Any:
    """Secrets by name (and a connection kind's secret fields) redacted, and any sealed
    `enc:` token wherever it sits as well."""
    return map_tokens(redact(value, kind), lambda _token: REDACTED)


def connection_health(conn: Connection, tenant_id: str, now: float) -> list[dict]:
    """Each connection of the tenant: kind, enabled, redacted config, and its health from
    the last hour's outbound calls, its open exceptions and any throttle pause."""
    rows = conn.execute(
        select(connections).where(connections.c.tenant_id == tenant_id).order_by(connections.c.id)
    )
    calls = _recent_calls(conn, tenant_id, now - HEALTH_WINDOW)
    open_exc = _open_exceptions_by_connection(conn, tenant_id)
    paused = dict(
        conn.execute(
            select(throttles.c.connection_id, throttles.c.paused_until).where(
                throttles.c.tenant_id == tenant_id, throttles.c.paused_until > now
            )
        ).all()
    )
    out = []
    for r in rows:
        c = calls.get(r.id, {"calls": 0, "failed": 0, "last": None})
        item = {
            "id": r.id,
            "tenant_id": r.tenant_id,
            "kind": r.kind,
            "enabled": bool(r.enabled),
            "config": _secret_free(_loads(r.config) or {}, r.kind),
            "calls_last_hour": c["calls"],
            "failed_last_hour": c["failed"],
            "last_call": c["last"],
            "open_exceptions": open_exc.get(r.id, 0),
            "paused_until": paused.get(r.id),
        }
        item["health"] = _health(item)
        out.append(item)
    return out


def _health(c: dict) -> str:
    if not c["enabled"]:
        return "disabled"
    if c["paused_until"]:
        return "paused"
    if c["last_call"] and c["last_call"]["failed"]:
        return "failing"
    if c["failed_last_hour"] or c["open_exceptions"]:
        return "degraded"
    return "ok" if c["calls_last_hour"] else "idle"


def _failed(col_error, col_status):
    return or_(col_error.is_not(None), col_status >= 400)


def _recent_calls(conn: Connection, tenant_id: str, since: float) -> dict[str, dict]:
    recent = and_(
        lineage.c.tenant_id == tenant_id, lineage.c.created_at >= since, lineage.c.direction == "out"
    )
    failed = func.sum(case((_failed(lineage.c.error, lineage.c.status_code), 1), else_=0))
    q = select(
        lineage.c.connection_id,
        func.count().label("n"),
        failed.label("failed"),
        func.max(lineage.c.id).label("last_id"),
    )
    found = {r.connection_id: r for r in conn.execute(q.where(recent).group_by(lineage.c.connection_id))}
    last_ids = [r.last_id for r in found.values()]
    last = {}
    if last_ids:
        cols = (
            lineage.c.id,
            lineage.c.connection_id,
            lineage.c.status_code,
            lineage.c.error,
            lineage.c.created_at,
        )
        last = {
            r.connection_id: r
            for r in conn.execute(
                select(*cols).where(lineage.c.tenant_id == tenant_id, lineage.c.id.in_(last_ids))
            )
        }
    out = {}
    for cid, r in found.items():
        lr = last.get(cid)
        last_call = lr and {
            "at": lr.created_at,
            "status_code": lr.status_code,
            "error": lr.error,
            "failed": lr.error is not None or (lr.status_code or 0) >= 400,
        }
        out[cid] = {"calls": r.n, "failed": int(r.failed or 0), "last": last_call}
    return out


def _open_exceptions_by_connection(conn: Connection, tenant_id: str) -> dict[str, int]:
    q = (
        select(exceptions.c.connection_id, func.count().label("n"))
        .where(exceptions.c.tenant_id == tenant_id, exceptions.c.status == "open")
        .group_by(exceptions.c.connection_id)
    )
    return {r.connection_id: r.n for r in conn.execute(q)}


# --------------------------------------------------------------------------- orders

_ORDER_LIST = [c for c in orders.c if c.name not in ("document", "mapped", "version")]


def list_orders(
    conn: Connection,
    scope: Scope,
    *,
    stage: str | None = None,
    channel: str | None = None,
    q: str | None = None,
    limit: int = 50,
    after: tuple[float, str, str] | None = None,
) -> tuple[list[dict], tuple[float, str, str] | None]:
    """Newest first; answers the page and the position after its last row (or None)."""
    key = tuple_(orders.c.created_at, orders.c.tenant_id, orders.c.order_ref)
    stmt = select(*_ORDER_LIST).where(*_in_scope(orders.c.tenant_id, scope))
    if stage:
        stmt = stmt.where(orders.c.stage == stage)
    if channel:
        stmt = stmt.where(orders.c.channel == channel)
    if q:
        stmt = stmt.where(
            or_(
                *(
                    c.icontains(q, autoescape=True)
                    for c in (orders.c.order_ref, orders.c.channel_order_id, orders.c.erp_number)
                )
            )
        )
    if after is not None:
        stmt = stmt.where(key < tuple_(*after))
    order = (orders.c.created_at.desc(), orders.c.tenant_id.desc(), orders.c.order_ref.desc())
    rows = [dict(r._mapping) for r in conn.execute(stmt.order_by(*order).limit(limit + 1))]
    page = order_store.with_open_problems(conn, rows[:limit])
    more = len(rows) > limit
    return page, ((page[-1]["created_at"], page[-1]["tenant_id"], page[-1]["order_ref"]) if more else None)


def order_detail(conn: Connection, tenant_id: str, order_ref: str) -> dict | None:
    found = order_store.get_order(conn, tenant_id, order_ref)
    if found is None:
        return None
    detail = asdict(found)
    detail["releases"] = [asdict(r) for r in order_store.get_releases(conn, tenant_id, order_ref)]
    detail["shipments"] = [asdict(s) for s in order_store.get_shipments(conn, tenant_id, order_ref)]
    cols = (
        exceptions.c.id,
        exceptions.c.message_id,
        exceptions.c.category,
        exceptions.c.status,
        exceptions.c.summary,
    )
    mine = select(*cols).where(exceptions.c.tenant_id == tenant_id, exceptions.c.correlation_id == order_ref)
    detail["exceptions"] = [dict(r._mapping) for r in conn.execute(mine.order_by(exceptions.c.id))]
    return detail


# --------------------------------------------------------------------------- messages

_MESSAGE_LIST = [c for c in messages.c if c.name not in ("payload", "lease_token")]


def list_messages(
    conn: Connection,
    scope: Scope,
    *,
    stream: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[dict]:
    """Newest first, without payloads."""
    q = select(*_MESSAGE_LIST).where(*_in_scope(messages.c.tenant_id, scope))
    for column, value in ((messages.c.stream, stream), (messages.c.kind, kind), (messages.c.status, status)):
        if value is not None:
            q = q.where(column == value)
    if before_id is not None:
        q = q.where(messages.c.id < before_id)
    return [dict(r._mapping) for r in conn.execute(q.order_by(messages.c.id.desc()).limit(limit))]


# --------------------------------------------------------------------------- metrics


def metrics_summary(conn: Connection, scope: Scope, now: float) -> dict:
    """Messages by stream and status, the age of the oldest ready message per stream,
    open exceptions by category, orders by stage — over the scope's tenants."""
    if scope == ():
        return {"messages": {}, "oldest_ready_age_seconds": {}, "open_exceptions": {}, "orders_by_stage": {}}
    in_scope = _in_scope(messages.c.tenant_id, scope)
    by_status: dict[str, dict[str, int]] = {}
    q = select(messages.c.stream, messages.c.status, func.count().label("n")).where(*in_scope)
    for r in conn.execute(q.group_by(messages.c.stream, messages.c.status)):
        by_status.setdefault(r.stream, {})[r.status] = r.n
    oldest = select(messages.c.stream, func.min(messages.c.created_at).label("oldest")).where(
        *in_scope, messages.c.status == "ready"
    )
    ages = {
        r.stream: round(max(0.0, now - r.oldest), 3) for r in conn.execute(oldest.group_by(messages.c.stream))
    }
    flt = ExceptionFilter(tenant_ids=scope or (), status="open")
    stages = select(orders.c.stage, func.count().label("n")).where(*_in_scope(orders.c.tenant_id, scope))
    return {
        "messages": by_status,
        "oldest_ready_age_seconds": ages,
        "open_exceptions": group_by_category(conn, flt),
        "orders_by_stage": {r.stage: r.n for r in conn.execute(stages.group_by(orders.c.stage))},
    }
