"""Retention: deleting what Crossdock no longer needs, in short batches.

Purged, oldest kept longest last:
- messages in a terminal status (done, resolved, resubmitted) older than message retention;
- closed exceptions whose message is gone (with their action rows; the audit log keeps the story);
- lineage older than lineage retention;
- dedupe keys older than dedupe retention, never sooner than their messages: a provider's
  redelivery after its message was purged must still be recognised as a duplicate.
Open work (ready, running, parked) and open exceptions are never touched. Each batch is
its own transaction so SQLite's single writer is never held for long.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, select, union

from crossdock.records import TERMINAL_STATUSES, ExceptionStatus
from crossdock.store.tables import (
    dedupe_keys,
    exception_actions,
    exceptions,
    lanes,
    lineage,
    messages,
    tenants,
)

TARGETS = ("messages", "exceptions", "lineage", "dedupe_keys")
_DAY = 86400.0
_TERMINAL = [s.value for s in TERMINAL_STATUSES]

Transaction = Callable[..., Any]  # `Database.transaction`: run fn(conn, *args) in one commit
Progress = Callable[[str, int], None]  # (target, rows deleted by the last batch)


@dataclass(frozen=True)
class Retention:
    message_days: float = 7.0
    lineage_days: float = 7.0
    dedupe_days: float = 30.0

    @classmethod
    def from_settings(cls, settings) -> Retention:
        return cls(
            settings.message_retention_days, settings.lineage_retention_days, settings.dedupe_retention_days
        )

    @classmethod
    def from_payload(cls, payload: dict) -> Retention:
        return cls(**{k: float(v) for k, v in payload.items() if k in cls.__dataclass_fields__})

    def to_payload(self) -> dict:
        return asdict(self)

    def cutoffs(self, now: float) -> dict[str, float]:
        message = now - self.message_days * _DAY
        return {
            "messages": message,
            "exceptions": message,  # unused: an exception goes with its message
            "lineage": now - self.lineage_days * _DAY,
            "dedupe_keys": min(message, now - self.dedupe_days * _DAY),
        }


@dataclass
class PurgeReport:
    dry_run: bool
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TARGETS, 0))
    exception_actions: int = 0

    def to_dict(self) -> dict:
        return {"dry_run": self.dry_run, "counts": self.counts, "exception_actions": self.exception_actions}


# --------------------------------------------------------------------------- what is eligible


def tenant_ids(conn: Connection) -> list[str]:
    q = union(select(lanes.c.tenant_id), select(tenants.c.id))
    return sorted({r[0] for r in conn.execute(q)})


def _message_gone(tenant: str):
    return ~exists().where(messages.c.tenant_id == tenant, messages.c.id == exceptions.c.message_id)


def _eligible(target: str, tenant: str, cutoff: float):
    """(key columns, conditions) of rows of `target` in `tenant` that may go."""
    if target == "messages":
        c = messages.c
        return [c.id], [
            c.tenant_id == tenant,
            c.created_at < cutoff,
            c.updated_at < cutoff,
            c.status.in_(_TERMINAL),
        ]
    if target == "exceptions":
        c = exceptions.c
        return [c.id], [c.tenant_id == tenant, c.status != ExceptionStatus.OPEN.value, _message_gone(tenant)]
    if target == "lineage":
        return [lineage.c.id], [lineage.c.tenant_id == tenant, lineage.c.created_at < cutoff]
    c = dedupe_keys.c
    return [c.idempotency_key], [c.tenant_id == tenant, c.created_at < cutoff]


def count_eligible(conn: Connection, target: str, tenant: str, cutoff: float, cap: int | None = None) -> int:
    cols, conds = _eligible(target, tenant, cutoff)
    inner = select(*cols).where(*conds)
    if cap is not None:
        inner = inner.limit(cap)
    return conn.execute(select(func.count()).select_from(inner.subquery())).scalar_one()


def plan(conn: Connection, retention: Retention, now: float) -> dict[str, int]:
    """Rows each target would lose now. Exceptions count those whose message is already gone."""
    cutoffs = retention.cutoffs(now)
    return {t: sum(count_eligible(conn, t, ten, cutoffs[t]) for ten in tenant_ids(conn)) for t in TARGETS}


# --------------------------------------------------------------------------- deleting


def delete_batch(conn: Connection, target: str, tenant: str, cutoff: float, limit: int) -> tuple[int, int]:
    """Delete up to `limit` eligible rows of one tenant; answer (rows, exception action rows)."""
    cols, conds = _eligible(target, tenant, cutoff)
    keys = [r[0] for r in conn.execute(select(*cols).where(*conds).limit(limit))]
    if not keys:
        return 0, 0
    if target == "messages":
        return conn.execute(
            delete(messages).where(messages.c.tenant_id == tenant, messages.c.id.in_(keys))
        ).rowcount, 0
    if target == "lineage":
        return conn.execute(
            delete(lineage).where(lineage.c.tenant_id == tenant, lineage.c.id.in_(keys))
        ).rowcount, 0
    if target == "dedupe_keys":
        stmt = delete(dedupe_keys).where(
            dedupe_keys.c.tenant_id == tenant, dedupe_keys.c.idempotency_key.in_(keys)
        )
        return conn.execute(stmt).rowcount, 0
    ea = exception_actions.c
    acts = conn.execute(
        delete(exception_actions).where(and_(ea.tenant_id == tenant, ea.exception_id.in_(keys)))
    )
    gone = conn.execute(delete(exceptions).where(exceptions.c.tenant_id == tenant, exceptions.c.id.in_(keys)))
    return gone.rowcount, acts.rowcount


def run(
    transaction: Transaction,
    retention: Retention,
    now: float,
    *,
    batch: int = 5000,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PurgeReport:
    """Purge everything eligible, one transaction per batch of at most `batch` rows."""
    report = PurgeReport(dry_run=dry_run)
    if dry_run:
        report.counts = transaction(plan, retention, now)
        return report
    cutoffs = retention.cutoffs(now)
    for target in TARGETS:  # messages before exceptions: an exception goes once its message has
        for tenant in transaction(tenant_ids):
            while True:
                n, acts = transaction(delete_batch, target, tenant, cutoffs[target], batch)
                report.counts[target] += n
                report.exception_actions += acts
                if progress and n:
                    progress(target, n)
                if n < batch:
                    break
    return report


def step(conn: Connection, retention: Retention, now: float, batch: int) -> dict[str, int]:
    """At most `batch` rows per target, all in the caller's transaction (the scheduled job)."""
    cutoffs, done = retention.cutoffs(now), dict.fromkeys(TARGETS, 0)
    for target in TARGETS:
        for tenant in tenant_ids(conn):
            room = batch - done[target]
            if room <= 0:
                break
            done[target] += delete_batch(conn, target, tenant, cutoffs[target], room)[0]
    return done


def more_than(conn: Connection, retention: Retention, now: float, batch: int) -> bool:
    """True when some target has more than `batch` eligible rows: one `step` will not finish."""
    cutoffs = retention.cutoffs(now)
    for target in ("messages", "lineage", "dedupe_keys"):
        total = 0
        for tenant in tenant_ids(conn):
            total += count_eligible(conn, target, tenant, cutoffs[target], cap=batch + 1 - total)
            if total > batch:
                return True
    return False
