"""The scheduler: fires due schedules once a second, in any number of processes at once.

Every `serve`/`worker` process may run one; the store's compare-and-set on each
schedule's next slot makes one message per slot however many run (see
`store.schedules`). Fired messages wake this process's workers through `on_fired`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from crossdock.engine.database import Database
from crossdock.store import schedules

log = logging.getLogger("crossdock.scheduler")


class Scheduler:
    def __init__(
        self,
        database: Database,
        clock: Callable[[], float] = time.time,
        *,
        tick_seconds: float = 1.0,
        on_fired: Callable[[], None] | None = None,
    ) -> None:
        self.db = database
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.on_fired = on_fired
        self.fired = 0

    async def tick(self) -> list[int]:
        """Fire what is due now; answer the ids of the messages written."""
        ids = await self.db.write(schedules.fire_due, self.clock())
        if ids:
            self.fired += len(ids)
            if self.on_fired:
                self.on_fired()
        return ids

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # the database is away: the slot is still due at the next tick
                log.exception("firing schedules failed; trying again in %.1fs", self.tick_seconds)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.tick_seconds)


__all__ = ["Scheduler"]
