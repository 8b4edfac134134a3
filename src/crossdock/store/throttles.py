"""Per-connection throttles shared by every worker process, kept in the database.

Rate: GCRA (a token bucket written as one timestamp, the theoretical arrival time
`tat`). Each call reserves its slot in time inside a short transaction, so four
processes together never exceed the configured rate. Concurrency: numbered slot
rows with a holder and an expiry (a crashed holder's slot frees itself)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite as sq

from crossdock.store.tables import throttle_slots, throttles


@dataclass(frozen=True, slots=True)
class Limits:
    rate: float  # per second; 0 = no rate limit
    burst: int
    max_concurrency: int  # 0 = unlimited


@dataclass(frozen=True, slots=True)
class Gate:
    """What a caller must respect before a request: limits (None: none configured) and a pause."""

    limits: Limits | None
    paused_until: float


def gates(conn: Connection, now: float) -> dict[tuple[str, str], Gate]:
    """Every connection that is throttled or paused now; any other connection goes freely."""
    c = throttles.c
    rows = conn.execute(
        select(c.tenant_id, c.connection_id, c.rate, c.burst, c.max_concurrency, c.paused_until).where(
            or_(c.rate > 0, c.max_concurrency > 0, c.paused_until > now)
        )
    )
    return {
        (r.tenant_id, r.connection_id): Gate(
            Limits(r.rate, r.burst, r.max_concurrency) if r.rate > 0 or r.max_concurrency > 0 else None,
            r.paused_until,
        )
        for r in rows
    }


def _locked_row(conn: Connection, tenant_id: str, connection_id: str):
    q = select(throttles).where(throttles.c.tenant_id == tenant_id, throttles.c.connection_id == connection_id)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return conn.execute(q).first()


def limits(conn: Connection, tenant_id: str, connection_id: str) -> Limits | None:
    r = conn.execute(
        select(throttles.c.rate, throttles.c.burst, throttles.c.max_concurrency).where(
            throttles.c.tenant_id == tenant_id, throttles.c.connection_id == connection_id
        )
    ).first()
    return Limits(r.rate, r.burst, r.max_concurrency) if r else None


def reserve(
    conn: Connection, tenant_id: str, connection_id: str, now: float, max_wait: float, pace: float = 1.0
) -> float:
    """Reserve one call. Answers how long to wait before making it (0: go now).

    When the wait would exceed `max_wait`, nothing is reserved and the (positive)
    wait is answered negated, so the caller can give the work back until then.
    `pace` < 1 spaces calls at that share of the configured rate (headroom)."""
    row = _locked_row(conn, tenant_id, connection_id)
    if row is None:
        return 0.0
    start = max(now, row.paused_until)
    if row.rate <= 0:
        wait = start - now
        return -wait if wait > max_wait else wait
    interval = 1.0 / (row.rate * pace)
    tolerance = max(0, row.burst - 1) * interval
    tat = max(row.tat, start)
    allowed_at = max(start, tat - tolerance)
    wait = allowed_at - now
    if wait > max_wait:
        return -wait
    conn.execute(
        update(throttles)
        .where(throttles.c.tenant_id == tenant_id, throttles.c.connection_id == connection_id)
        .values(tat=tat + interval, waits=throttles.c.waits + (1 if wait > 0 else 0))
    )
    return max(0.0, wait)


def paused_until(conn: Connection, tenant_id: str, connection_id: str) -> float:
    row = conn.execute(
        select(throttles.c.paused_until).where(
            throttles.c.tenant_id == tenant_id, throttles.c.connection_id == connection_id
        )
    ).first()
    return row.paused_until if row else 0.0


def pause(conn: Connection, tenant_id: str, connection_id: str, until: float) -> None:
    """The other side said "retry after": every worker waits for this connection until `until`."""
    dialect = pg if conn.dialect.name == "postgresql" else sq
    stmt = dialect.insert(throttles).values(
        tenant_id=tenant_id,
        connection_id=connection_id,
        rate=0.0,
        burst=1,
        max_concurrency=0,
        tat=0.0,
        paused_until=until,
        waits=0,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "connection_id"],
        set_={"paused_until": _greatest(conn, throttles.c.paused_until, stmt.excluded.paused_until)},
    )
    conn.execute(stmt)


def _greatest(conn: Connection, a, b):
    from sqlalchemy import func

    return func.greatest(a, b) if conn.dialect.name == "postgresql" else func.max(a, b)


def take_slot(
    conn: Connection, tenant_id: str, connection_id: str, holder: str, now: float, hold_seconds: float
) -> int | None:
    """Take a free concurrency slot (or one whose holder's time ran out); None when all are busy."""
    free = and_(
        throttle_slots.c.tenant_id == tenant_id,
        throttle_slots.c.connection_id == connection_id,
        or_(throttle_slots.c.holder.is_(None), throttle_slots.c.expires_at < now),
    )
    for r in conn.execute(select(throttle_slots.c.slot).where(free).limit(4)):
        # The free-condition is repeated on the row itself: PostgreSQL re-checks it on
        # the latest row version, so two takers can never both win the same slot.
        took = conn.execute(
            update(throttle_slots)
            .where(free, throttle_slots.c.slot == r.slot)
            .values(holder=holder, expires_at=now + hold_seconds)
        ).rowcount
        if took == 1:
            return r.slot
    return None


def give_slot(conn: Connection, tenant_id: str, connection_id: str, slot: int, holder: str) -> None:
    conn.execute(
        update(throttle_slots)
        .where(
            throttle_slots.c.tenant_id == tenant_id,
            throttle_slots.c.connection_id == connection_id,
            throttle_slots.c.slot == slot,
            throttle_slots.c.holder == holder,
        )
        .values(holder=None, expires_at=0.0)
    )
