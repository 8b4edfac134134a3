"""Committing handler outcomes in batches (group commit), fenced by each claim's lease token.

One transaction records many outcomes. Successes are settled with one statement per
claim; those with database effects apply them inside one savepoint per claim, and only
when an effect raises is that group redone with a savepoint per outcome, so one
message's broken effect never undoes another's success. A failure without effects is one
guarded update; one that opens an exception gets its own savepoint."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, insert, select, update

from crossdock.records import ExceptionStatus, LineageRecord, NewMessage, Outcome, Status
from crossdock.store import exceptions as desk
from crossdock.store import messages as store
from crossdock.store.tables import exceptions, lineage


@dataclass
class Recorded:
    committed: list[Outcome] = field(default_factory=list)
    fenced: list[Outcome] = field(default_factory=list)  # lease lost: nothing was written
    broken: list[tuple[Outcome, BaseException]] = field(default_factory=list)  # an effect raised


def record(conn: Connection, outcomes: Sequence[Outcome], now: float) -> Recorded:
    result = Recorded()
    simple: dict[str, list[Outcome]] = defaultdict(list)
    staged: dict[str, list[Outcome]] = defaultdict(list)
    for o in sorted(outcomes, key=lambda o: o.message.id):  # rows locked in one order: no deadlocks
        if o.status is Status.DONE:
            (staged if o.effects else simple)[o.message.lease_token or o.token].append(o)
        else:
            _record_one(conn, o, now, result)
    for token, group in simple.items():
        ok = store.finish_many(conn, token, [o.message.id for o in group], now)
        for o in group:
            (result.committed if o.message.id in ok else result.fenced).append(o)
    for token, group in staged.items():
        _record_staged(conn, token, group, now, result)
    desk.clear_on_success(
        conn, [(o.message.tenant_id, o.message.id) for o in result.committed if o.status is Status.DONE], now
    )
    emitted: list[NewMessage] = [m for o in result.committed for m in o.emitted]
    store.insert(conn, emitted, now)
    write_lineage(conn, [(o.message, r) for o in result.committed for r in o.lineage], now)
    return result


def _record_staged(conn: Connection, token: str, group: list[Outcome], now: float, result: Recorded) -> None:
    """Successes with effects, one claim's: one savepoint for all; on a broken effect, one each."""
    sp = conn.begin_nested()
    try:
        held = store.finish_many(conn, token, [o.message.id for o in group], now)
        for o in group:
            if o.message.id in held:
                for effect in o.effects:
                    effect(conn)
        sp.commit()
    except Exception:  # someone's effect failed: find whose, undoing that message only
        if sp.is_active:
            sp.rollback()
        for o in group:
            _record_one(conn, o, now, result)
        return
    for o in group:
        (result.committed if o.message.id in held else result.fenced).append(o)


def _record_one(conn: Connection, o: Outcome, now: float, result: Recorded) -> None:
    if not o.effects and o.exception is None:  # one guarded update: nothing to undo on its own
        held = store.settle(
            conn,
            o.token,
            o.message.id,
            now,
            status=o.status,
            next_attempt_at=o.next_attempt_at,
            last_error=o.error,
            refund_attempt=o.refund_attempt,
        )
        (result.committed if held else result.fenced).append(o)
        return
    sp = conn.begin_nested()
    try:
        held = store.settle(
            conn,
            o.token,
            o.message.id,
            now,
            status=o.status,
            next_attempt_at=o.next_attempt_at,
            last_error=o.error,
            refund_attempt=o.refund_attempt,
        )
        if not held:
            sp.rollback()
            result.fenced.append(o)
            return
        for effect in o.effects:
            effect(conn)
        if o.status is Status.PARKED and o.exception is not None:
            open_exception(conn, o, now)
        sp.commit()
        result.committed.append(o)
    except Exception as exc:  # an effect failed: undo this message only, let the engine decide
        if sp.is_active:
            sp.rollback()
        result.broken.append((o, exc))


def open_exception(conn: Connection, o: Outcome, now: float) -> int:
    """Open (or reopen) the message's exception; first/last seen and attempts kept current."""
    m, info = o.message, o.exception
    assert info is not None
    existing = conn.execute(
        select(exceptions.c.id)
        .where(exceptions.c.tenant_id == m.tenant_id, exceptions.c.message_id == m.id)
        .order_by(exceptions.c.id.desc())
        .limit(1)
    ).first()
    values = {
        "category": info.category,
        "severity": info.severity,
        "owner": info.owner,
        "summary": info.summary,
        "hint": info.hint,
        "context": orjson.dumps(info.context, default=str).decode(),
        "attempts": m.attempts,
        "last_seen_at": now,
        "last_error": o.error,
        "status": ExceptionStatus.OPEN.value,
        "resolution": None,
        "closed_by": None,
        "closed_at": None,
    }
    if existing:
        conn.execute(update(exceptions).where(exceptions.c.id == existing.id).values(**values))
        return existing.id
    row = conn.execute(
        insert(exceptions).returning(exceptions.c.id),
        {
            **values,
            "tenant_id": m.tenant_id,
            "message_id": m.id,
            "kind": m.kind,
            "correlation_id": m.correlation_id,
            "connection_id": m.connection_id,
            "first_seen_at": m.first_attempt_at or now,
        },
    ).first()
    return row.id


def write_lineage(conn: Connection, records: list[tuple], now: float) -> None:
    """`records` pairs a message (or a dict with tenant_id/correlation_id/id) with a LineageRecord."""
    if not records:
        return
    rows = []
    for m, r in records:
        assert isinstance(r, LineageRecord)
        rows.append(
            {
                "tenant_id": m.tenant_id,
                "correlation_id": m.correlation_id,
                "message_id": m.id,
                "attempt": getattr(m, "attempts", None),
                "direction": r.direction,
                "connection_id": r.connection_id,
                "method": r.method,
                "url": r.url,
                "request_headers": _headers(r.request_headers),
                "request_body": r.request_body,
                "status_code": r.status_code,
                "response_headers": _headers(r.response_headers),
                "response_body": r.response_body,
                "duration_ms": r.duration_ms,
                "error": r.error,
                "created_at": now,
            }
        )
    conn.execute(insert(lineage), rows)


def _headers(headers) -> str | None:
    """Header maps of any client library (case-insensitive multidicts too) as plain JSON."""
    if not headers:
        return None
    return orjson.dumps({str(k): str(v) for k, v in dict(headers).items()}).decode()
