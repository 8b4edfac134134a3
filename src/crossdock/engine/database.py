"""Runs blocking database work off the event loop, one short transaction per call.

SQLAlchemy's synchronous Core is the fastest path on both SQLite and psycopg 3;
the event loop hands it to small thread pools and awaits the result. Writes and reads
have separate pools: on SQLite one writer thread (one writer anyway) and two reader
threads, which WAL lets read while the writer writes, so a handler's read never
queues behind a group commit; on PostgreSQL four of each."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

T = TypeVar("T")

# PostgreSQL answers these when two transactions collide; repeating the whole transaction is safe.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}


class Database:
    def __init__(self, engine: Engine, threads: int | None = None, read_threads: int | None = None) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        n = threads or (1 if self.is_sqlite else 4)
        self._pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="crossdock-db")
        # Reads see every write whose `write()` has returned (it commits before it answers).
        readers = read_threads or (2 if self.is_sqlite else 4)
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="crossdock-db-read")
        if self.is_sqlite and engine.url.database in (None, "", ":memory:"):
            self._readers = self._pool  # an in-memory database is one connection's: no reader threads
        # Lease heartbeats (`write_apart`) get a thread and connection of their own on PostgreSQL.
        # Why: queued behind claims, intake and group commits in the writer pool, a loaded hub's
        # heartbeat ran after the leases it was to extend had expired, and those outcomes were
        # fenced and redone (151-538 per 2,000-order burst). On SQLite there is one writer anyway.
        self._apart = self._pool
        if not self.is_sqlite:
            self._apart = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crossdock-db-lease")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._own: list[Connection] = []

    def transaction(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking: run `fn(conn, *args)` in one write transaction, repeated on a serialization clash."""
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    return fn(conn, *args)
            except OperationalError as exc:
                code = getattr(getattr(exc, "orig", None), "sqlstate", None)
                if code not in _RETRYABLE_SQLSTATES or attempt == 4:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def snapshot(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking: run `fn(conn, *args)` in a read-only transaction."""
        with self.engine.connect().execution_options(readonly=True) as conn, conn.begin():
            return fn(conn, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._write_here, fn, *args)

    async def write_apart(self, fn: Callable[..., T], *args: Any) -> T:
        """A short write that must not wait behind the others (lease heartbeats)."""
        return await asyncio.get_running_loop().run_in_executor(self._apart, self._write_here, fn, *args)

    async def read(self, fn: Callable[[Connection], T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._read_here, fn, *args)

    # Each pool thread keeps its own connection: no pool checkout, reset and (PostgreSQL) pre-ping
    # round trip per transaction. A transaction that fails drops its thread's connection.

    def _write_here(self, fn: Callable[..., T], *args: Any) -> T:
        for attempt in range(5):
            try:
                return self._on_own_connection(False, fn, *args)
            except OperationalError as exc:
                code = getattr(getattr(exc, "orig", None), "sqlstate", None)
                if code not in _RETRYABLE_SQLSTATES or attempt == 4:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def _read_here(self, fn: Callable[..., T], *args: Any) -> T:
        return self._on_own_connection(True, fn, *args)

    def _on_own_connection(self, readonly: bool, fn: Callable[..., T], *args: Any) -> T:
        slot = "reader" if readonly else "writer"
        conn = getattr(self._local, slot, None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.engine.connect()
            if readonly:
                conn = conn.execution_options(readonly=True)
            setattr(self._local, slot, conn)
            with self._lock:
                self._own.append(conn)
        try:
            with conn.begin():
                return fn(conn, *args)
        except BaseException:
            setattr(self._local, slot, None)
            with self._lock, contextlib.suppress(ValueError):
                self._own.remove(conn)
            with contextlib.suppress(Exception):
                conn.close()
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self._apart.shutdown(wait=True)
        with self._lock:
            own, self._own = self._own, []
        for conn in own:
            with contextlib.suppress(Exception):
                conn.close()


__all__ = ["Database"]
