"""Polling positions per connection, written with the outcome of the poll that moved them."""

from __future__ import annotations

from sqlalchemy import Connection, select

from crossdock.store.db import insert_into
from crossdock.store.tables import cursors


def get_cursor(conn: Connection, tenant_id: str, connection_id: str, name: str) -> str | None:
    row = conn.execute(
        select(cursors.c.value).where(
            cursors.c.tenant_id == tenant_id, cursors.c.connection_id == connection_id, cursors.c.name == name
        )
    ).first()
    return row.value if row else None


def put_cursor(conn: Connection, tenant_id: str, connection_id: str, name: str, value: str, now: float) -> None:
    stmt = insert_into(conn, cursors).values(
        tenant_id=tenant_id, connection_id=connection_id, name=name, value=value, updated_at=now
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "connection_id", "name"], set_={"value": value, "updated_at": now}
        )
    )
