"""Read model for `/metrics`: the figures a scrape reads from the database.

One `snapshot(conn, now)` per scrape (the API caches it for a few seconds). Every query
names its tenant first and runs on an index led by `tenant_id`:
- open messages per lane and status: `ix_messages_claim` (tenant, stream, status, ...),
  counted for the open statuses only (ready/running/parked are bounded backlogs;
  finished work is counted by the workers' `crossdock_messages_total`);
- the oldest due READY message per lane: one seek on the same index;
- open exceptions per category: `ix_exceptions_desk` (tenant, status, category);
- SLA clocks: `console_sla.clocks` (the console's own, on `ix_orders_stage` /
  `ix_shipments_unconfirmed`);
- availability lag: the primary key of `channel_availability` (tenant, connection, item);
- durable counters (`counters`: stock ledger verdicts, refused deliveries, ...): the
  primary key (tenant, name); a small table, one row per tenant and event.
Tenants come from `tenants`, plus any that have a lane (work may arrive before the
tenant is configured).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, case, func, or_, select

from crossdock.records import Status
from crossdock.store import console_sla
from crossdock.store.tables import channel_availability, counters, exceptions, lanes, messages, tenants

OPEN_STATUSES = (Status.READY.value, Status.RUNNING.value, Status.PARKED.value)


@dataclass
class Snapshot:
    at: float
    # (tenant, stream, status) -> messages
    messages: dict[tuple[str, str, str], int] = field(default_factory=dict)
    # (tenant, stream) -> seconds the oldest due READY message has been due
    oldest_ready_age: dict[tuple[str, str], float] = field(default_factory=dict)
    # (tenant, category) -> open exceptions
    open_exceptions: dict[tuple[str, str], int] = field(default_factory=dict)
    # (tenant, clock, channel) -> (waiting, overdue, age of the oldest in seconds)
    sla: dict[tuple[str, str, str], tuple[int, int, float]] = field(default_factory=dict)
    # (tenant, connection) -> seconds since the oldest unpublished computation
    availability_lag: dict[tuple[str, str], float] = field(default_factory=dict)
    # (tenant, event) -> how many times it happened, over every process and restart
    events: dict[tuple[str, str], int] = field(default_factory=dict)


def tenant_ids(conn: Connection) -> list[str]:
    known = set(conn.execute(select(tenants.c.id)).scalars())
    known.update(conn.execute(select(lanes.c.tenant_id).distinct()).scalars())
    return sorted(known)


def streams_of(conn: Connection, tenant_id: str) -> list[str]:
    return list(conn.execute(select(lanes.c.stream).where(lanes.c.tenant_id == tenant_id)).scalars())


def snapshot(conn: Connection, now: float) -> Snapshot:
    snap = Snapshot(at=now)
    for tenant in tenant_ids(conn):
        for stream in streams_of(conn, tenant):
            _lane(conn, snap, tenant, stream, now)
        _exceptions(conn, snap, tenant)
        for c in console_sla.clocks(conn, tenant, now):
            age = now - c.oldest_at if c.oldest_at is not None else 0.0
            snap.sla[(tenant, c.name, c.channel)] = (c.waiting, c.overdue, max(age, 0.0))
        _availability(conn, snap, tenant, now)
    # Every tenant's, including deliveries refused before any tenant was known (`_system`).
    for tenant, name, value in conn.execute(select(counters.c.tenant_id, counters.c.name, counters.c.value)):
        snap.events[(tenant, name)] = int(value)
    return snap


def _lane(conn: Connection, snap: Snapshot, tenant: str, stream: str, now: float) -> None:
    m = messages.c
    counts = conn.execute(
        select(m.status, func.count())
        .where(m.tenant_id == tenant, m.stream == stream, m.status.in_(OPEN_STATUSES))
        .group_by(m.status)
    )
    found = dict(counts.all())
    for status in OPEN_STATUSES:
        snap.messages[(tenant, stream, status)] = found.get(status, 0)
    oldest = conn.execute(
        select(func.min(m.next_attempt_at)).where(
            m.tenant_id == tenant, m.stream == stream, m.status == Status.READY.value, m.next_attempt_at <= now
        )
    ).scalar()
    snap.oldest_ready_age[(tenant, stream)] = max(now - oldest, 0.0) if oldest is not None else 0.0


def _exceptions(conn: Connection, snap: Snapshot, tenant: str) -> None:
    e = exceptions.c
    q = (
        select(e.category, func.count())
        .where(e.tenant_id == tenant, e.status == "open")
        .group_by(e.category)
    )
    for category, n in conn.execute(q):
        snap.open_exceptions[(tenant, category)] = n


def _availability(conn: Connection, snap: Snapshot, tenant: str, now: float) -> None:
    a = channel_availability.c
    behind = or_(a.published.is_(None), a.published != a.computed)
    oldest = func.min(case((behind, a.computed_at), else_=None))  # NULL: the connection is caught up
    q = select(a.connection_id, oldest).where(a.tenant_id == tenant).group_by(a.connection_id)
    for connection, at in conn.execute(q):
        snap.availability_lag[(tenant, connection)] = max(now - at, 0.0) if at is not None else 0.0
