"""Schedules: messages fired on an interval, exactly once per slot across every process.

Firing a due schedule moves its `next_run_at` by compare-and-set from the value read to
the first slot after now (missed slots are skipped, not replayed) and writes the message
in the same transaction, with idempotency key `schedule:{name}:{slot}`. Two schedulers
firing at the same moment therefore write one message: the loser's compare-and-set
matches nothing, and even a repeated key would be deduplicated by the message store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite as sq

from crossdock.records import NewMessage
from crossdock.store import messages as store
from crossdock.store.purge import Retention
from crossdock.store.tables import schedules

SYSTEM_TENANT = "_system"
PURGE_SCHEDULE = "system.purge"
PURGE_INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True)
class Schedule:
    tenant_id: str
    name: str
    kind: str
    payload: str
    interval_seconds: float
    next_run_at: float
    last_run_at: float | None
    enabled: bool


def next_slot(slot: float, interval: float, now: float) -> float:
    """The first slot `slot + k·interval` (k ≥ 1) strictly after `now`."""
    if now < slot:
        return slot + interval
    return slot + interval * (math.floor((now - slot) / interval) + 1)


def upsert_schedule(
    conn: Connection,
    tenant_id: str,
    name: str,
    kind: str,
    interval_seconds: float,
    payload: dict | str | None = None,
    *,
    now: float,
    first_run_at: float | None = None,
    enabled: bool = True,
) -> None:
    """Create the schedule (first run at `first_run_at`, default now) or update its kind,
    payload, interval and switch. An existing schedule keeps its place in time, brought
    forward when a shorter interval would run it sooner."""
    if interval_seconds <= 0:
        raise ValueError("interval_seconds must be positive")
    text = payload if isinstance(payload, str) else orjson.dumps(payload or {}).decode()
    values = {"kind": kind, "payload": text, "interval_seconds": float(interval_seconds), "enabled": enabled}
    c = schedules.c
    current = conn.execute(
        select(c.next_run_at).where(c.tenant_id == tenant_id, c.name == name).with_for_update()
    ).first()
    if current is None:
        start = now if first_run_at is None else first_run_at
        dialect = pg if conn.dialect.name == "postgresql" else sq
        row = {"tenant_id": tenant_id, "name": name, "next_run_at": start, **values}
        conn.execute(
            dialect.insert(schedules).values(**row).on_conflict_do_nothing()
        )  # a racing declarer won
        return
    values["next_run_at"] = min(current.next_run_at, now + interval_seconds)
    conn.execute(update(schedules).where(c.tenant_id == tenant_id, c.name == name).values(**values))


def fire_due(conn: Connection, now: float) -> list[int]:
    """Fire every enabled schedule that is due; answer the ids of the messages written."""
    c = schedules.c
    due = conn.execute(
        select(schedules).where(c.enabled.is_(True), c.next_run_at <= now).order_by(c.next_run_at)
    )
    fired: list[int] = []
    for s in list(due):
        moved = conn.execute(
            update(schedules)
            .where(c.tenant_id == s.tenant_id, c.name == s.name, c.next_run_at == s.next_run_at)
            .values(next_run_at=next_slot(s.next_run_at, s.interval_seconds, now), last_run_at=now)
        ).rowcount
        if moved != 1:
            continue  # another scheduler fired this slot
        key = f"schedule:{s.name}:{s.next_run_at}"
        new = NewMessage(
            tenant_id=s.tenant_id, kind=s.kind, idempotency_key=key, payload=s.payload, correlation_id=key
        )
        written = store.insert(conn, [new], now)[0]
        if written.created:
            fired.append(written.message_id)
    return fired


def get_schedule(conn: Connection, tenant_id: str, name: str) -> Schedule | None:
    r = conn.execute(
        select(schedules).where(schedules.c.tenant_id == tenant_id, schedules.c.name == name)
    ).first()
    return Schedule(**r._mapping) if r else None


def ensure_system_schedules(conn: Connection, now: float, retention: Retention | None = None) -> None:
    """Hub-wide jobs every process may (re)declare at start: the hourly `system.purge`.

    `retention` travels in the payload, so the job purges with the settings of the
    process that last declared it."""
    payload = (retention or Retention()).to_payload()
    upsert_schedule(
        conn, SYSTEM_TENANT, PURGE_SCHEDULE, "system.purge", PURGE_INTERVAL_SECONDS, payload, now=now
    )


# Connection kinds whose orders are polled, and the message kind each poll is.
POLLED_KINDS = {"amazon": "order.poll", "walmart": "order.poll"}


def ensure_polling(conn: Connection, tenant, now: float) -> None:
    """A poll schedule per enabled connection of a polled kind (declared by `crossdock apply`)."""
    for c in tenant.connections:
        kind = POLLED_KINDS.get(c.kind)
        if kind is None:
            continue
        interval = float(getattr(c.config, "poll_interval_seconds", 120.0))
        enabled = c.enabled and getattr(c.config, "poll_orders", True)  # a Walmart feed-only connection
        upsert_schedule(
            conn, tenant.id, f"poll:{c.id}", kind, interval, {"connection_id": c.id}, now=now, enabled=enabled
        )
