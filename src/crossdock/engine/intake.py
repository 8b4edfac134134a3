"""Intake: turn a verified delivery into a durable message before anyone answers "accepted".

Deliveries arriving together are written in one transaction (group commit): the
first caller's commit carries everyone queued behind it, so the durable commit's
fsync is paid once per batch instead of once per webhook. A repeated key answers
with the original message and writes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from crossdock.engine.database import Database
from crossdock.engine.instruments import INTAKE
from crossdock.records import Delivery
from crossdock.store import inbox


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: int
    duplicate: bool


class Intake:
    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = 512,
        on_accepted: Callable[[], None] | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self._max_batch = max_batch
        self._on_accepted = on_accepted
        self._queue: list[tuple[Delivery, asyncio.Future]] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.accepted = 0
        self.duplicates = 0

    async def accept(self, delivery: Delivery) -> Accepted:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._writer(), name="crossdock-intake")
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.append((delivery, fut))
        self._ready.set()
        return await fut

    async def _writer(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                await self._write(batch)

    async def _write(self, batch: list[tuple[Delivery, asyncio.Future]]) -> None:
        try:
            written = await self._db.write(inbox.accept_batch, [d for d, _ in batch], self._clock())
        except Exception as exc:  # nothing was committed: none is told "accepted"
            if len(batch) > 1:
                # One delivery the database refuses must not fail the others written with it:
                # each is written alone, and only what fails alone hears the error.
                for one in batch:
                    await self._write([one])
                return
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for (d, fut), w in zip(batch, written, strict=True):
            if w.created:
                self.accepted += 1
            else:
                self.duplicates += 1
            INTAKE.labels(d.tenant_id, "created" if w.created else "duplicate").inc()
            if not fut.done():
                fut.set_result(Accepted(w.message_id, duplicate=not w.created))
        if self._on_accepted and any(w.created for w in written):
            self._on_accepted()

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
