"""Read models for the console: finding orders, one order's timeline, connection health.

A timeline is everything linked to the order by its correlation id (the order
reference): each message, each outbound call or inbound body (lineage, per attempt),
each exception and each operator action, merged in time order. Bounded: an order with
more than `TIMELINE_LIMIT` messages shows its first ones and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, or_, select

from crossdock.store import orders as order_store
from crossdock.store.tables import (
    connections,
    exception_actions,
    exceptions,
    lineage,
    messages,
    orders,
    throttles,
)

TIMELINE_LIMIT = 500
_ORDER_COLUMNS = [
    orders.c.tenant_id,
    orders.c.order_ref,
    orders.c.channel,
    orders.c.channel_order_id,
    orders.c.stage,
    orders.c.status,
    orders.c.erp_number,
    orders.c.problem,
    orders.c.created_at,
    orders.c.updated_at,
]


def recent_orders(
    conn: Connection, tenant_id: str, before: float | None = None, limit: int = 50
) -> list[dict]:
    """Newest first, one keyset page (pass the last row's `created_at` as `before`)."""
    q = select(*_ORDER_COLUMNS).where(orders.c.tenant_id == tenant_id)
    if before is not None:
        q = q.where(orders.c.created_at < before)
    q = q.order_by(orders.c.created_at.desc()).limit(limit)
    return order_store.with_open_problems(conn, [dict(r._mapping) for r in conn.execute(q)])


def find_orders(conn: Connection, tenant_id: str, text: str, limit: int = 50) -> list[dict]:
    """By order reference, the channel's order id or the ERP's number (exact, trimmed)."""
    text = text.strip()
    if not text:
        return []
    q = (
        select(*_ORDER_COLUMNS)
        .where(
            orders.c.tenant_id == tenant_id,
            or_(orders.c.order_ref == text, orders.c.channel_order_id == text, orders.c.erp_number == text),
        )
        .order_by(orders.c.created_at.desc())
        .limit(limit)
    )
    return order_store.with_open_problems(conn, [dict(r._mapping) for r in conn.execute(q)])


def get_order_row(conn: Connection, tenant_id: str, order_ref: str) -> dict | None:
    r = conn.execute(
        select(orders).where(orders.c.tenant_id == tenant_id, orders.c.order_ref == order_ref)
    ).first()
    return dict(r._mapping) if r else None


@dataclass(frozen=True)
class Event:
    at: float
    what: str  # message | call | exception | action
    title: str
    row: dict


def timeline(conn: Connection, tenant_id: str, correlation_id: str) -> tuple[list[Event], bool]:
    """Every event of one business transaction in time order; True if it was cut short."""
    msgs = [
        dict(r._mapping)
        for r in conn.execute(
            select(messages)
            .where(messages.c.tenant_id == tenant_id, messages.c.correlation_id == correlation_id)
            .order_by(messages.c.id)
            .limit(TIMELINE_LIMIT + 1)
        )
    ]
    cut = len(msgs) > TIMELINE_LIMIT
    msgs = msgs[:TIMELINE_LIMIT]
    events = [Event(m["created_at"], "message", f"{m['kind']} #{m['id']}", m) for m in msgs]
    calls = conn.execute(
        select(lineage)
        .where(lineage.c.tenant_id == tenant_id, lineage.c.correlation_id == correlation_id)
        .order_by(lineage.c.id)
        .limit(TIMELINE_LIMIT * 4)
    )
    for c in calls:
        row = dict(c._mapping)
        title = f"{row['method'] or ''} {row['url'] or row['connection_id'] or ''}".strip() or "inbound"
        events.append(Event(row["created_at"], "call", title, row))
    events += _exception_events(conn, tenant_id, [m["id"] for m in msgs])
    return sorted(events, key=lambda e: (e.at, _RANK[e.what])), cut


_RANK = {"message": 0, "call": 1, "exception": 2, "action": 3}


def _exception_events(conn: Connection, tenant_id: str, message_ids: list[int]) -> list[Event]:
    if not message_ids:
        return []
    events: list[Event] = []
    found = conn.execute(
        select(exceptions).where(
            exceptions.c.tenant_id == tenant_id, exceptions.c.message_id.in_(message_ids)
        )
    )
    ids = []
    for e in found:
        row = dict(e._mapping)
        ids.append(row["id"])
        events.append(
            Event(row["first_seen_at"], "exception", f"{row['category']} on #{row['message_id']}", row)
        )
    if ids:
        acted = conn.execute(
            select(exception_actions).where(
                exception_actions.c.tenant_id == tenant_id, exception_actions.c.exception_id.in_(ids)
            )
        )
        for a in acted:
            row = dict(a._mapping)
            events.append(Event(row["at"], "action", f"{row['action']} by {row['actor']}", row))
    return events


# --------------------------------------------------------------------------- connections


def connection_health(conn: Connection, tenant_id: str, now: float, window: float = 3600.0) -> list[dict]:
    """Each connection of the tenant: kind, enabled, pause, open exceptions, errors in `window`."""
    rows = {
        r.id: {
            "id": r.id,
            "kind": r.kind,
            "enabled": r.enabled,
            "paused_until": None,
            "open_exceptions": 0,
            "errors": 0,
            "last_error_at": None,
            "last_error": None,
        }
        for r in conn.execute(
            select(connections.c.id, connections.c.kind, connections.c.enabled)
            .where(connections.c.tenant_id == tenant_id)
            .order_by(connections.c.id)
        )
    }
    paused = select(throttles.c.connection_id, throttles.c.paused_until).where(
        throttles.c.tenant_id == tenant_id, throttles.c.paused_until > now
    )
    for cid, until in conn.execute(paused):
        if cid in rows:
            rows[cid]["paused_until"] = until
    open_q = (
        select(exceptions.c.connection_id, func.count())
        .where(exceptions.c.tenant_id == tenant_id, exceptions.c.status == "open")
        .group_by(exceptions.c.connection_id)
    )
    for cid, n in conn.execute(open_q):
        if cid in rows:
            rows[cid]["open_exceptions"] = n
    failed = (lineage.c.error.is_not(None)) | (lineage.c.status_code >= 400)
    errors_q = (
        select(lineage.c.connection_id, func.count(), func.max(lineage.c.created_at))
        .where(lineage.c.tenant_id == tenant_id, lineage.c.created_at >= now - window, failed)
        .group_by(lineage.c.connection_id)
    )
    for cid, n, last in conn.execute(errors_q):
        if cid in rows:
            rows[cid].update(errors=n, last_error_at=last, last_error=_last_error(conn, tenant_id, cid, last))
    return list(rows.values())


def _last_error(conn: Connection, tenant_id: str, connection_id: str, at: float) -> str:
    r = conn.execute(
        select(lineage.c.status_code, lineage.c.error, lineage.c.method, lineage.c.url)
        .where(
            lineage.c.tenant_id == tenant_id,
            lineage.c.created_at == at,
            lineage.c.connection_id == connection_id,
        )
        .limit(1)
    ).first()
    if r is None:
        return ""
    return f"{r.method or ''} {r.url or ''} → {r.status_code or ''} {r.error or ''}".strip()


def order_trail(conn: Connection, tenant_id: str, correlation_id: str) -> dict | None:
    """The order (if there is one by that reference) and its timeline; None if neither exists."""
    order = get_order_row(conn, tenant_id, correlation_id)
    events, cut = timeline(conn, tenant_id, correlation_id)
    if order is None and not events:
        return None
    return {"order": order, "events": events, "cut": cut}
