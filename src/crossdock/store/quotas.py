"""Sliding-window quotas of a connection, shared by every worker process: at most `most`
submissions in any `span` seconds (a channel's feed allowance). Each submission is a row;
taking one counts the rows of the window inside the transaction, serialized per quota (an
advisory lock on PostgreSQL, the single writer on SQLite), so two processes never both take
the last one."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, select, text

from crossdock.store.tables import quota_stamps

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")


def take(
    conn: Connection, tenant_id: str, connection_id: str, quota: str, holder: str, most: int, span: float, now: float
) -> float:
    """Take one submission of the window as `holder`: 0.0 when taken, else the seconds until
    the oldest one leaves the window (nothing taken)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK, {"k": f"quota\x1f{tenant_id}\x1f{connection_id}\x1f{quota}"})
    t = quota_stamps.c
    own = (t.tenant_id == tenant_id, t.connection_id == connection_id, t.quota == quota)
    conn.execute(delete(quota_stamps).where(*own, t.taken_at <= now - span))
    count, oldest = conn.execute(select(func.count(), func.min(t.taken_at)).where(*own)).one()
    if count >= most:
        return max(oldest + span - now, 0.001)
    conn.execute(
        quota_stamps.insert().values(
            tenant_id=tenant_id, connection_id=connection_id, quota=quota, holder=holder, taken_at=now
        )
    )
    return 0.0


def give_back(conn: Connection, tenant_id: str, connection_id: str, quota: str, holder: str) -> None:
    """The submission `holder` took was never made: it no longer counts."""
    t = quota_stamps.c
    conn.execute(
        delete(quota_stamps).where(
            t.tenant_id == tenant_id, t.connection_id == connection_id, t.quota == quota, t.holder == holder
        )
    )
