"""Runs blocking database work off the event loop, one short transaction per call.

SQLAlchemy's synchronous Core is the fastest path on both SQLite and psycopg 3;
the event loop hands it to a small thread pool (one writer thread on SQLite,
where there is one writer anyway) and awaits the result."""

from __future__ import annotations

import asyncio
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
    def __init__(self, engine: Engine, threads: int | None = None) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        n = threads or (1 if self.is_sqlite else 4)
        self._pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="crossdock-db")

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
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.transaction, fn, *args)

    async def read(self, fn: Callable[[Connection], T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self.snapshot, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


__all__ = ["Database"]
