"""Database engines: SQLite (embedded default, WAL) and PostgreSQL (psycopg 3), one schema."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url


def normalize_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; SQLite URLs pass through."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def insert_into(conn: Connection, table: Table):
    """An INSERT for the connection's dialect, with its `on_conflict_do_*` clauses (SQLite and
    PostgreSQL spell them alike)."""
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalize_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=pool_size)
        _configure_sqlite(engine)
        return engine
    # JIT compiles plans whose estimate looks expensive: 20 ms spent on short claim queries.
    # Custom plans only: psycopg prepares a statement after a few runs, and PostgreSQL then
    # settles on one generic plan; a claim's generic plan made while `messages` was small
    # (fresh database, not analyzed yet) kept scanning and sorting the whole lane, 0.2-1.2 s
    # per claim instead of 1 ms, until leases ran out.
    options = "-c jit=off -c plan_cache_mode=force_custom_plan"
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, connect_args={"options": options}
    )


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, synchronous=FULL (an acknowledged commit survives power loss),
    and BEGIN IMMEDIATE so a writer takes the lock up front instead of failing to upgrade."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every SQLite test
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover
        # Read-only work (console pages, reports) opts out of the write lock.
        if conn.get_execution_options().get("readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
