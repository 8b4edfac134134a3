"""The gate every external call passes: shared rate, shared concurrency, shared pauses.

Short waits are slept here; a wait longer than `max_wait` raises ThrottledError so
the worker gives the message back until then (no attempt used, no worker held)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable

from crossdock.engine.database import Database
from crossdock.engine.instruments import THROTTLE_WAIT
from crossdock.errors import ThrottledError
from crossdock.store import throttles as store


class Throttles:
    def __init__(
        self,
        database: Database,
        *,
        max_wait: float = 2.0,
        slot_hold_seconds: float = 120.0,
        clock: Callable[[], float] = time.time,
        limits_ttl: float = 5.0,
    ) -> None:
        self._db = database
        self._max_wait = max_wait
        self._hold = slot_hold_seconds
        self._clock = clock
        self._ttl = limits_ttl
        self._limits: dict[tuple[str, str], tuple[float, store.Limits | None]] = {}
        self.waited_seconds = 0.0  # this instance's share of `crossdock_throttle_wait_seconds_total`

    async def _limits_of(self, tenant_id: str, connection_id: str) -> store.Limits | None:
        key = (tenant_id, connection_id)
        cached = self._limits.get(key)
        now = self._clock()
        # Absence is never cached: another worker's 429 pause creates the row, and must be seen at once.
        if cached and cached[1] is not None and now - cached[0] < self._ttl:
            return cached[1]
        lim = await self._db.read(store.limits, tenant_id, connection_id)
        self._limits[key] = (now, lim)
        return lim

    @contextlib.asynccontextmanager
    async def permit(self, tenant_id: str, connection_id: str) -> AsyncIterator[None]:
        lim = await self._limits_of(tenant_id, connection_id)
        slot: int | None = None
        holder = secrets.token_hex(6)
        if lim is not None:
            wait = await self._db.write(store.reserve, tenant_id, connection_id, self._clock(), self._max_wait)
            if wait < 0:
                raise ThrottledError(-wait, f"connection {connection_id} is at its rate limit")
            if wait > 0:
                self.waited_seconds += wait
                THROTTLE_WAIT.labels(connection_id).inc(wait)
                await asyncio.sleep(wait)
            if lim.max_concurrency > 0:
                slot = await self._take_slot(tenant_id, connection_id, holder)
            if wait > 0 or slot is not None:
                # A 429 may have paused the connection while this call waited its turn.
                await self._respect_pause(tenant_id, connection_id, slot, holder)
        try:
            yield
        except ThrottledError as exc:
            if not exc.local:
                await self.pause(tenant_id, connection_id, exc.retry_after)
            raise
        finally:
            if slot is not None:
                await self._db.write(store.give_slot, tenant_id, connection_id, slot, holder)

    async def pause(self, tenant_id: str, connection_id: str, seconds: float) -> None:
        """The other side said "retry after": every worker of every process waits that long."""
        await self._db.write(store.pause, tenant_id, connection_id, self._clock() + seconds)
        self._limits.pop((tenant_id, connection_id), None)

    async def _respect_pause(self, tenant_id: str, connection_id: str, slot: int | None, holder: str) -> None:
        until = await self._db.read(store.paused_until, tenant_id, connection_id)
        now = self._clock()
        if until > now:
            if slot is not None:
                await self._db.write(store.give_slot, tenant_id, connection_id, slot, holder)
            raise ThrottledError(until - now, f"connection {connection_id} is paused by the other side")

    async def _take_slot(self, tenant_id: str, connection_id: str, holder: str) -> int:
        deadline = self._clock() + self._max_wait
        delay = 0.005
        while True:
            now = self._clock()
            slot = await self._db.write(store.take_slot, tenant_id, connection_id, holder, now, self._hold)
            if slot is not None:
                return slot
            if now >= deadline:
                raise ThrottledError(0.5, f"connection {connection_id} is at its concurrency limit")
            await asyncio.sleep(delay)
            delay = min(0.1, delay * 2)
