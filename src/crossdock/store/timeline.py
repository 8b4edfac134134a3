"""Read model of one order's timeline: everything that happened to it, oldest first.

Linked by the correlation id, which is the order ref for every message of an order's
flow. Bodies in lineage were redacted when they were written."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from crossdock.store import orders as order_store
from crossdock.store.tables import exception_actions, exceptions, lineage, messages


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def order_timeline(conn: Connection, tenant_id: str, order_ref: str) -> list[dict] | None:
    """Everything that happened to an order, oldest first: its messages (created, and
    where they ended), every lineage record (raw inbound bodies, outbound requests with
    their responses), its exceptions and the operators' actions on them. None when
    neither the order nor any message of it is known."""
    corr = order_ref
    msgs = conn.execute(
        select(messages).where(messages.c.tenant_id == tenant_id, messages.c.correlation_id == corr)
    ).all()
    if not msgs and order_store.get_order(conn, tenant_id, order_ref) is None:
        return None
    events = [e for m in msgs for e in _message_events(m)]
    trail = select(lineage).where(lineage.c.tenant_id == tenant_id, lineage.c.correlation_id == corr)
    events += [_lineage_event(r) for r in conn.execute(trail)]
    exc = conn.execute(
        select(exceptions).where(exceptions.c.tenant_id == tenant_id, exceptions.c.correlation_id == corr)
    ).all()
    events += [_exception_event(e) for e in exc]
    if exc:
        acts = select(exception_actions).where(
            exception_actions.c.tenant_id == tenant_id,
            exception_actions.c.exception_id.in_([e.id for e in exc]),
        )
        events += [_action_event(a) for a in conn.execute(acts)]
    # At one instant: a call, then the outcome it led to, then the messages emitted with it.
    rank = {"lineage": 0, "outcome": 1, "message": 2, "exception": 3, "action": 4}
    events.sort(key=lambda e: (e["at"], rank[e["type"]], e["message_id"] or 0, e["id"]))
    return events


def _message_events(m) -> list[dict]:
    base = {"message_id": m.id, "kind": m.kind, "stream": m.stream}
    created = {
        **base,
        "type": "message",
        "id": m.id,
        "at": m.created_at,
        "causation_id": m.causation_id,
        "connection_id": m.connection_id,
        "payload": _loads(m.payload),
        "summary": f"{m.kind} ({m.idempotency_key})",
    }
    if m.status in ("ready", "running"):
        created.update(status=m.status, attempts=m.attempts, error=m.last_error)
        return [created]
    outcome = {
        **base,
        "type": "outcome",
        "id": m.id,
        "at": m.updated_at,
        "status": m.status,
        "attempts": m.attempts,
    }
    outcome.update(
        error=m.last_error, summary=f"{m.kind} → {m.status}" + (f": {m.last_error}" if m.last_error else "")
    )
    return [created, outcome]


def _lineage_event(r) -> dict:
    event = dict(r._mapping)
    event.update(type="lineage", at=r.created_at, attempt=r.attempt)
    for name in ("request_headers", "response_headers"):
        event[name] = _loads(event[name])
    if r.direction == "in":
        event["summary"] = f"received {r.method or ''} {r.url or ''}".strip()
    else:
        event["summary"] = f"{r.method or ''} {r.url or ''} → {r.status_code or r.error or '?'}".strip()
    return event


def _exception_event(e) -> dict:
    return {
        "type": "exception",
        "id": e.id,
        "at": e.first_seen_at,
        "message_id": e.message_id,
        "status": e.status,
        "category": e.category,
        "severity": e.severity,
        "summary": f"{e.category}: {e.summary}",
        "hint": e.hint,
    }


def _action_event(a) -> dict:
    return {
        "type": "action",
        "id": a.id,
        "at": a.at,
        "message_id": a.message_id,
        "exception_id": a.exception_id,
        "action": a.action,
        "actor": a.actor,
        "summary": f"{a.action} by {a.actor}" + (f": {a.reason}" if a.reason else ""),
    }
