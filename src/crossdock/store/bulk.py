"""Bulk upserts on the hot path of a stock burst, handed to the driver as plain tuples.

SQLAlchemy's `conn.execute(insert_stmt, [dict, ...])` builds every row's parameters
through its compiler (`construct_params`): an eighth of the CPU of a 100,000-item
availability burst went there. The statement text is built once per table and column set
(through SQLAlchemy, so quoting and dialect stay its business) and the rows go to the
DBAPI's `executemany` as tuples. `INSERT … ON CONFLICT (…) DO UPDATE SET c = excluded.c
[WHERE …]` is the same text on SQLite and PostgreSQL; only the placeholders differ."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import Connection, Table, case
from sqlalchemy.dialects import postgresql, sqlite

CHUNK = 500  # rows per executemany


@cache
def _statement(dialect: str, table: Table, columns: tuple[str, ...], keys: tuple[str, ...],
               updates: tuple[str, ...], newer: str | None,
               guarded: tuple[str, ...], guard: str | None) -> tuple[str, tuple[int, ...] | None]:  # fmt: skip
    """The statement with positional placeholders, and how to reorder a row's values into
    its placeholders' order (None: already in order; SQLAlchemy lists table order)."""
    module, paramstyle = (postgresql, "format") if dialect == "postgresql" else (sqlite, "qmark")
    stmt = module.insert(table).values({c: None for c in columns})
    where = table.c[newer] < stmt.excluded[newer] if newer else None
    set_ = {c: stmt.excluded[c] for c in updates}
    if guarded and guard:
        # Every SET expression sees the row as it was, so the test holds for all of them.
        kept = table.c[guard].is_(None) | (table.c[guard] <= stmt.excluded[guard])
        set_ |= {c: case((kept, stmt.excluded[c]), else_=table.c[c]) for c in guarded}
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=set_, where=where)
    compiled = stmt.compile(dialect=module.dialect(paramstyle=paramstyle))
    order = tuple(columns.index(name) for name in compiled.positiontup or ())
    return str(compiled), None if order == tuple(range(len(columns))) else order


def upsert(
    conn: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple],
    *,
    keys: tuple[str, ...],
    updates: tuple[str, ...],
    newer: str | None = None,
    guarded: tuple[str, ...] = (),
    guard: str | None = None,
) -> None:
    """Insert `rows` (tuples in `columns` order) or update their `updates` columns where
    `keys` conflict; with `newer`, only rows whose `newer` column grows (latest wins).
    `guarded` columns change only where the stored `guard` is NULL or not above the new one
    (an older confirmation never replaces a newer one), whatever happens to `updates`."""
    if not rows:
        return
    sql, order = _statement(conn.dialect.name, table, columns, keys, updates, newer, guarded, guard)
    values = list(rows) if order is None else [tuple(r[i] for i in order) for r in rows]
    for start in range(0, len(values), CHUNK):
        conn.exec_driver_sql(sql, values[start : start + CHUNK])
