"""The gate every external call passes: shared rate, shared concurrency, shared pauses.

Short waits are slept here; a wait longer than `max_wait` raises ThrottledError so
the worker gives the message back until then (no attempt used, no worker held). Those
errors are `local`: the gate predicted them, nothing reached the other system, so they
never pause the connection for everyone.

Which connections are throttled or paused is read for all of them at once, at most every
`refresh` seconds per process (one small query), not once per request: a connection
without a throttle row costs no database work per request, and a pause written by another
process is seen within `refresh`."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable
from time import monotonic

from crossdock.engine.database import Database
from crossdock.engine.instruments import THROTTLE_WAIT
from crossdock.errors import ThrottledError
from crossdock.store import throttles as store

_SLOT_LEAD = 0.1  # seconds before its turn a call takes its concurrency slot
UNDER_WAY_WAIT_FACTOR = 4


async def _sleep_until(at: float, clock: Callable[[], float]) -> None:
    left = at - clock()
    if left > 0:
        await asyncio.sleep(left)


class Throttles:
    def __init__(
        self,
        database: Database,
        *,
        max_wait: float = 2.0,
        slot_hold_seconds: float = 120.0,
        clock: Callable[[], float] = time.time,
        refresh: float = 0.1,
        headroom: float = 0.03,
    ) -> None:
        self._db = database
        self._max_wait = max_wait
        self._hold = slot_hold_seconds
        self._clock = clock
        self._refresh = refresh
        # Calls are spaced at (1 - headroom) of the configured rate: a call leaves a little
        # after its turn (event loop, concurrency slot, pause check), and without headroom that
        # lateness shows on the other side as a few calls too many in its window.
        self._pace = 1.0 - headroom
        self._gates: dict[tuple[str, str], store.Gate] = {}
        self._read_at = float("-inf")
        self._reading: asyncio.Future | None = None
        self._local_slots: dict[tuple, asyncio.Semaphore] = {}
        self._horizon: dict[tuple[str, str], float] = {}  # when the last call given back comes again
        self._last_sent: dict[tuple[str, str], float] = {}  # when this process's last call left
        self.waited_seconds = 0.0  # this instance's share of `crossdock_throttle_wait_seconds_total`

    async def _gate_of(self, tenant_id: str, connection_id: str) -> store.Gate | None:
        """The connection's limits and pause as of at most `refresh` ago; None: no row, go."""
        if monotonic() - self._read_at >= self._refresh:
            if self._reading is None or self._reading.get_loop() is not asyncio.get_running_loop():
                self._reading = asyncio.ensure_future(self._read_gates())
            reading = self._reading
            try:
                await asyncio.shield(reading)
            finally:
                if self._reading is reading and reading.done():
                    self._reading = None
        return self._gates.get((tenant_id, connection_id))

    async def _read_gates(self) -> None:
        started = monotonic()
        fresh = await self._db.read(store.gates, self._clock())
        now = self._clock()
        for key, known in self._gates.items():  # a pause this process wrote meanwhile stays known
            seen = fresh.get(key)
            if known.paused_until > now and (seen is None or seen.paused_until < known.paused_until):
                fresh[key] = store.Gate(seen.limits if seen else known.limits, known.paused_until)
        self._gates = fresh
        self._read_at = started

    @contextlib.asynccontextmanager
    async def permit(self, tenant_id: str, connection_id: str, *, under_way: bool = False) -> AsyncIterator[None]:
        """One request's turn. `under_way`: the caller's operation has made requests already;
        it may wait up to `UNDER_WAY_WAIT_FACTOR` × `max_wait` rather than be given back."""
        gate = await self._gate_of(tenant_id, connection_id)
        lim = gate.limits if gate is not None else None
        slot: int | None = None
        holder = secrets.token_hex(6)
        local: asyncio.Semaphore | None = None
        if gate is not None and lim is None:  # no limits, but paused by the other side
            await self._wait_out_pause(tenant_id, connection_id, gate.paused_until)
        if lim is not None:
            asked = self._clock()
            max_wait = self._max_wait * (UNDER_WAY_WAIT_FACTOR if under_way else 1)
            wait = await self._db.write(store.reserve, tenant_id, connection_id, asked, max_wait, self._pace)
            if wait < 0:
                back = self._turn(tenant_id, connection_id, -wait, lim)
                raise ThrottledError(back, f"connection {connection_id} is at its rate limit", local=True)
            turn = asked + wait  # the call's turn: it should leave then, not later
            if wait > 0:
                self.waited_seconds += wait
                THROTTLE_WAIT.labels(connection_id).inc(wait)
            try:
                if lim.max_concurrency > 0:  # the slot is taken just before the turn, not after it
                    await _sleep_until(turn - _SLOT_LEAD, self._clock)
                    local = await self._local_slot(tenant_id, connection_id, lim.max_concurrency)
                    slot = await self._take_slot(tenant_id, connection_id, holder)
                await _sleep_until(turn, self._clock)
                if wait > 0 or slot is not None:
                    # A 429 may have paused the connection while this call waited its turn.
                    await self._respect_pause(tenant_id, connection_id, slot, holder)
                await self._spaced(tenant_id, connection_id, lim)
            except BaseException:
                if local is not None:
                    local.release()
                raise
        try:
            yield
        except ThrottledError as exc:
            if not exc.local:
                await self.pause(tenant_id, connection_id, exc.retry_after)
            raise
        finally:
            if slot is not None:
                await self._db.write(store.give_slot, tenant_id, connection_id, slot, holder)
            if local is not None:
                local.release()

    async def _spaced(self, tenant_id: str, connection_id: str, lim: store.Limits) -> None:
        """Calls of this process leave at least one interval apart (without a burst allowance):
        when the event loop stalls, every caller whose turn passed meanwhile would otherwise
        leave at once, and the other side counts them in one window."""
        if lim.rate <= 0 or lim.burst > 1:
            return
        key = (tenant_id, connection_id)
        at = max(self._clock(), self._last_sent.get(key, 0.0) + 1.0 / lim.rate)
        self._last_sent[key] = at
        await _sleep_until(at, self._clock)

    def _turn(self, tenant_id: str, connection_id: str, wait: float, lim: store.Limits) -> float:
        """When a call given back should come again: not all at the first free moment (they
        would find the rate taken and be given back again, round after round), but one after
        another at the connection's rate, after those this process gave back already."""
        if lim.rate <= 0:  # paused, no rate: nothing to space them by
            return wait
        now = self._clock()
        key = (tenant_id, connection_id)
        at = max(now + wait, self._horizon.get(key, 0.0) + 1.0 / (lim.rate * self._pace))
        self._horizon[key] = at
        return at - now

    async def _wait_out_pause(self, tenant_id: str, connection_id: str, until: float) -> None:
        left = until - self._clock()
        if left <= 0:
            return
        if left > self._max_wait:
            raise ThrottledError(left, f"connection {connection_id} is paused by the other side", local=True)
        await asyncio.sleep(left)
        await self._respect_pause(tenant_id, connection_id, None, "")  # extended meanwhile?

    async def _local_slot(self, tenant_id: str, connection_id: str, n: int) -> asyncio.Semaphore:
        """This process's share of the concurrency slots: callers beyond `n` wait here, in
        memory, instead of polling the database for a slot."""
        key = (tenant_id, connection_id, n, asyncio.get_running_loop())
        sem = self._local_slots.get(key)
        if sem is None:
            sem = self._local_slots[key] = asyncio.Semaphore(n)
        try:
            async with asyncio.timeout(self._max_wait):
                await sem.acquire()
        except TimeoutError:
            raise ThrottledError(0.5, f"connection {connection_id} is at its concurrency limit", local=True) from None
        return sem

    async def pause(self, tenant_id: str, connection_id: str, seconds: float) -> None:
        """The other side said "retry after": every worker of every process waits that long."""
        until = self._clock() + seconds
        await self._db.write(store.pause, tenant_id, connection_id, until)
        key = (tenant_id, connection_id)
        known = self._gates.get(key)
        if known is None or known.paused_until < until:  # seen in this process at once
            limits = known.limits if known is not None else None
            self._gates = {**self._gates, key: store.Gate(limits, until)}

    async def _respect_pause(self, tenant_id: str, connection_id: str, slot: int | None, holder: str) -> None:
        gate = await self._gate_of(tenant_id, connection_id)  # as of at most `refresh` ago
        until = gate.paused_until if gate is not None else 0.0
        now = self._clock()
        if until > now:
            if slot is not None:
                await self._db.write(store.give_slot, tenant_id, connection_id, slot, holder)
            raise ThrottledError(until - now, f"connection {connection_id} is paused by the other side", local=True)

    async def _take_slot(self, tenant_id: str, connection_id: str, holder: str) -> int:
        deadline = self._clock() + self._max_wait
        delay = 0.005
        while True:
            now = self._clock()
            slot = await self._db.write(store.take_slot, tenant_id, connection_id, holder, now, self._hold)
            if slot is not None:
                return slot
            if now >= deadline:
                raise ThrottledError(0.5, f"connection {connection_id} is at its concurrency limit", local=True)
            await asyncio.sleep(delay)
            delay = min(0.1, delay * 2)
