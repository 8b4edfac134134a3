"""Durable counters shared by every process (refused deliveries, ...)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from crossdock.store.db import insert_into
from crossdock.store.tables import counters


def bump_counter(conn: Connection, tenant_id: str, name: str, by: int = 1) -> None:
    """Add to a counter, created at zero on first use."""
    stmt = insert_into(conn, counters).values(tenant_id=tenant_id, name=name, value=by)
    conn.execute(
        stmt.on_conflict_do_update(index_elements=["tenant_id", "name"], set_={"value": counters.c.value + by})
    )


def tenant_counters(conn: Connection, tenant_id: str) -> list[tuple[str, int]]:
    """A tenant's counters by name."""
    q = select(counters.c.name, counters.c.value).where(counters.c.tenant_id == tenant_id).order_by(counters.c.name)
    return [(name, int(value)) for name, value in conn.execute(q)]
