"""The worker: claim due messages in batches, run their handlers, commit outcomes in batches.

Three loops share one event loop:
- claim: takes work while there is room (at most `concurrency` handlers in flight);
- flush: commits finished outcomes together (group commit), fenced by lease tokens;
- heartbeat: extends the leases of messages still in flight, so long handlers keep them.
Stopping (SIGTERM) drains: no more claims, in-flight handlers get `drain_seconds`
to finish, the rest are released untouched, outcomes are flushed, then it returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crossdock.engine.database import Database
from crossdock.engine.handlers import HandlerContext, Registry
from crossdock.engine.instruments import HANDLER_SECONDS, MESSAGES
from crossdock.engine.retry import DEFAULT_POLICY, Park, RetryAt
from crossdock.engine.throttle import Throttles
from crossdock.errors import Owner, PermanentError, Severity
from crossdock.records import ExceptionInfo, Message, Outcome, Status
from crossdock.store import messages as store
from crossdock.store import outcomes as outcomes_store

log = logging.getLogger("crossdock.worker")


@dataclass
class WorkerStats:
    claimed: int = 0
    done: int = 0
    retried: int = 0
    parked: int = 0
    fenced: int = 0
    released: int = 0
    handled: int = 0  # handler runs; their durations go to the `crossdock_handler_seconds` histogram


@dataclass(frozen=True)
class WorkerOptions:
    batch: int = 200
    concurrency: int = 64
    lease_seconds: float = 30.0
    idle_poll_seconds: float = 0.25
    drain_seconds: float = 10.0
    flush_max_delay: float = 0.005
    lanes: frozenset[tuple[str, str]] | None = None  # restrict to these (tenant, stream) lanes


class Worker:
    def __init__(
        self,
        database: Database,
        registry: Registry,
        *,
        services: Any = None,
        throttles: Throttles | None = None,
        options: WorkerOptions | None = None,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.db = database
        self.registry = registry
        self.services = services
        self.throttles = throttles or Throttles(database, clock=clock)
        self.opt = options or WorkerOptions()
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{random.randrange(1 << 16):04x}"
        self.stats = WorkerStats()
        self.wake = asyncio.Event()  # set by intake in this process when new work exists
        self._on_outcome = on_outcome
        self._rotor = store.LaneRotor()
        self._inflight: dict[int, tuple[str, asyncio.Task]] = {}  # message id → (token, task)
        self._pending: list[Outcome] = []
        self._flush_needed = asyncio.Event()
        self._room = asyncio.Event()
        self._stopping = False
        self._empty_claims = 0  # consecutive claims that found nothing (idle detection)

    # ------------------------------------------------------------------ lifecycle

    async def run(self, stop: asyncio.Event) -> None:
        flusher = asyncio.create_task(self._flush_loop(), name="crossdock-flush")
        beater = asyncio.create_task(self._heartbeat_loop(), name="crossdock-heartbeat")
        try:
            await self._claim_loop(stop)
        finally:
            self._stopping = True
            await self._drain()
            beater.cancel()
            self._flush_needed.set()
            await flusher
            await asyncio.gather(beater, return_exceptions=True)

    async def run_until_idle(self, timeout: float = 60.0) -> None:
        """Testing and one-shot tools: handle everything due, then return."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.run(stop))
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                if not self._inflight and not self._pending and self._empty_claims >= 2:
                    break
        finally:
            stop.set()
            await task

    # ------------------------------------------------------------------ claiming

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        idle = self.opt.idle_poll_seconds
        while not stop.is_set():
            # Handlers still running use the room; finished ones waiting for their commit do not,
            # so the next claim overlaps the previous commit.
            room = self.opt.concurrency - sum(1 for _tok, t in self._inflight.values() if not t.done())
            if room < max(1, min(self.opt.batch, self.opt.concurrency) // 4):
                self._room.clear()
                await _wait_any(stop, self._room, timeout=1.0)
                continue
            claim = await self.db.write(
                store.claim,
                self.owner,
                min(room, self.opt.batch),
                self.opt.lease_seconds,
                self.clock(),
                self._rotor,
                set(self.opt.lanes) if self.opt.lanes is not None else None,
            )
            if claim.messages:
                self._empty_claims = 0
            for m in claim.messages:
                self.stats.claimed += 1
                task = asyncio.create_task(self._handle(m, claim.token))
                self._inflight[m.id] = (claim.token, task)
            if not claim.messages:
                self._empty_claims += 1
                self.wake.clear()
                await _wait_any(stop, self.wake, timeout=idle)

    # ------------------------------------------------------------------ handling

    async def _handle(self, m: Message, token: str) -> None:
        spec = self.registry.get(m.kind)
        policy = spec.policy if spec else DEFAULT_POLICY
        ctx = HandlerContext(m, self.clock(), self.services, self.throttles, self.db)
        started = time.perf_counter()
        try:
            if spec is None:
                raise PermanentError(
                    "config.no_handler",
                    f"no handler is registered for message kind {m.kind!r}",
                    "Deploy a Crossdock version that knows this kind, then retry.",
                    owner=Owner.PARTNER,
                )
            if m.attempts > policy.max_attempts:
                raise PermanentError(
                    "defect.crash_loop",
                    f"the worker stopped during each of {m.attempts - 1} attempts",
                    "A handler crashes or hangs its process; report it with the message id.",
                    owner=Owner.PARTNER,
                )
            await spec.fn(m, ctx)
            outcome = Outcome(
                m,
                token,
                Status.DONE,
                emitted=tuple(ctx.emitted),
                effects=tuple(ctx.effects),
                lineage=tuple(ctx.lineage),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # classified by the policy: every failure gets a decision
            outcome = self._failed(m, token, exc, ctx)
        finally:
            self.stats.handled += 1
            HANDLER_SECONDS.labels(m.kind).observe(time.perf_counter() - started)
        self._pending.append(outcome)
        self._flush_needed.set()

    def _failed(self, m: Message, token: str, exc: BaseException, ctx: HandlerContext | None) -> Outcome:
        spec = self.registry.get(m.kind)
        policy = spec.policy if spec else DEFAULT_POLICY
        now = self.clock()
        decision = policy.decide(exc, attempts=m.attempts, first_attempt_at=m.first_attempt_at or now, now=now)
        lineage = tuple(ctx.lineage) if ctx else ()
        error = f"{type(exc).__name__}: {exc}"[:4000]
        if isinstance(decision, RetryAt):
            return Outcome(
                m,
                token,
                Status.READY,
                next_attempt_at=decision.at,
                error=error,
                refund_attempt=not decision.count_attempt,
                lineage=lineage,
            )
        assert isinstance(decision, Park)
        info = ExceptionInfo(
            decision.category,
            decision.summary,
            decision.hint,
            Severity(decision.severity).value,
            Owner(decision.owner).value,
            decision.context,
        )
        return Outcome(m, token, Status.PARKED, error=error, lineage=lineage, exception=info)

    # ------------------------------------------------------------------ committing

    async def _flush_loop(self) -> None:
        while True:
            await self._flush_needed.wait()
            self._flush_needed.clear()
            if self.opt.flush_max_delay and len(self._pending) < len(self._inflight):
                await asyncio.sleep(self.opt.flush_max_delay)  # handlers still running may join the commit
            batch, self._pending = self._pending, []
            if batch:
                await self._commit(batch)
            if self._stopping and not self._inflight and not self._pending:
                return

    async def _commit(self, batch: list[Outcome]) -> None:
        try:
            rec = await self.db.write(outcomes_store.record, batch, self.clock())
        except Exception:
            log.exception("committing %d outcomes failed; their leases will expire and they run again", len(batch))
            self._forget(batch)
            return
        retry = [self._failed(o.message, o.token, exc, None) for o, exc in rec.broken]
        for o in rec.committed:
            self._count(o)
        self.stats.fenced += len(rec.fenced)
        for o in rec.fenced:
            MESSAGES.labels(o.message.kind, "fenced").inc()
            log.warning("message %s: lease lost before commit; outcome discarded", o.message.id)
        self._forget(rec.committed + rec.fenced)
        if retry:
            self._pending.extend(retry)
            self._flush_needed.set()
        if rec.committed:  # a commit may unblock the next message of its key (or emitted ones): not idle
            self._empty_claims = 0
            self.wake.set()

    def _count(self, o: Outcome) -> None:
        if o.status is Status.DONE:
            self.stats.done += 1
            outcome = "done"
        elif o.status is Status.PARKED:
            self.stats.parked += 1
            outcome = "parked"
        else:
            self.stats.retried += 1
            outcome = "retried"
        MESSAGES.labels(o.message.kind, outcome).inc()
        if self._on_outcome:
            self._on_outcome(o)

    def _forget(self, batch: list[Outcome]) -> None:
        for o in batch:
            self._inflight.pop(o.message.id, None)
        self._room.set()

    # ------------------------------------------------------------------ leases

    async def _heartbeat_loop(self) -> None:
        period = self.opt.lease_seconds / 3
        while True:
            await asyncio.sleep(period)
            by_token: dict[str, list[int]] = {}
            for mid, (token, _task) in list(self._inflight.items()):
                by_token.setdefault(token, []).append(mid)
            if not by_token:
                continue
            try:  # one transaction for every claim's leases, apart from the other writes
                lost = await self.db.write_apart(self._extend_leases, by_token)
            except Exception:  # a failed round must not end the heartbeats: the next one tries again
                log.exception("extending %d leases failed; trying again in %.1f s", len(self._inflight), period)
                continue
            for mid in lost:
                held = self._inflight.get(mid)
                # A finished handler's outcome may have been committed meanwhile (which ends
                # its lease); if its lease was really lost, the commit fences it and says so.
                if held is not None and not held[1].done():
                    log.warning("message %s: lease lost; its outcome will not be committed", mid)

    def _extend_leases(self, conn: Any, by_token: dict[str, list[int]]) -> list[int]:
        """The ids of `by_token` whose lease is lost. The time is read in the transaction,
        not when the heartbeat was queued: a stale "now" extended leases by less than asked."""
        lost: list[int] = []
        for token, ids in by_token.items():
            held = store.heartbeat(conn, token, ids, self.opt.lease_seconds, self.clock())
            lost += sorted(set(ids) - held)
        return lost

    async def _drain(self) -> None:
        tasks = [t for _tok, t in self._inflight.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=self.opt.drain_seconds)
        unfinished = {mid: tok for mid, (tok, t) in self._inflight.items() if not t.done()}
        for _tok, t in list(self._inflight.values()):
            if not t.done():
                t.cancel()
        if unfinished:
            await asyncio.gather(*(self._inflight[m][1] for m in unfinished), return_exceptions=True)
            by_token: dict[str, list[int]] = {}
            for mid, tok in unfinished.items():
                by_token.setdefault(tok, []).append(mid)
            for tok, ids in by_token.items():
                self.stats.released += await self.db.write(store.release, tok, ids, self.clock())
            for mid in unfinished:
                self._inflight.pop(mid, None)


async def _wait_any(stop: asyncio.Event, other: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(other.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
