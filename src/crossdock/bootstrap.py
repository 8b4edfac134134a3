"""The composition root: the one place that reads settings and connects things.

Nothing in Crossdock opens a database, a client or a key ring at import time;
`build()` does, and everything else receives what it needs from the `Hub`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from crossdock.config import Settings
from crossdock.engine.database import Database
from crossdock.engine.handlers import Registry
from crossdock.engine.intake import Intake
from crossdock.engine.throttle import Throttles
from crossdock.engine.worker import Worker, WorkerOptions
from crossdock.store.db import make_engine

RegistryHook = Callable[[Registry], None]


@dataclass
class Hub:
    settings: Settings
    database: Database
    registry: Registry
    clock: Callable[[], float]
    services: Any = None
    workers: list[Worker] = field(default_factory=list)
    _intake: Intake | None = None
    _throttles: Throttles | None = None

    @property
    def engine(self):
        return self.database.engine

    @property
    def throttles(self) -> Throttles:
        if self._throttles is None:
            self._throttles = Throttles(self.database, clock=self.clock)
        return self._throttles

    @property
    def intake(self) -> Intake:
        """Created on first use, inside the running event loop."""
        if self._intake is None:
            self._intake = Intake(self.database, clock=self.clock, on_accepted=self._wake_workers)
        return self._intake

    def _wake_workers(self) -> None:
        for w in self.workers:
            w.wake.set()

    def worker(self, **options: Any) -> Worker:
        s = self.settings
        opts = WorkerOptions(
            batch=options.pop("batch", s.claim_batch),
            concurrency=options.pop("concurrency", s.worker_concurrency),
            lease_seconds=options.pop("lease_seconds", s.lease_seconds),
            **options,
        )
        w = Worker(
            self.database, self.registry, services=self.services, throttles=self.throttles, options=opts, clock=self.clock
        )
        self.workers.append(w)
        return w

    async def run_scheduler(self, stop) -> None:
        """Declare the hub-wide schedules, then fire due schedules until `stop` (every process may)."""
        from crossdock.engine.scheduler import Scheduler
        from crossdock.store import schedules
        from crossdock.store.purge import Retention

        await self.database.write(schedules.ensure_system_schedules, self.clock(), Retention.from_settings(self.settings))
        await Scheduler(self.database, self.clock, on_fired=self._wake_workers).run(stop)

    async def aclose(self) -> None:
        if self._intake is not None:
            await self._intake.close()
        if hasattr(self.services, "aclose"):
            await self.services.aclose()
        self.close()

    def close(self) -> None:
        self.database.close()
        self.database.engine.dispose()


def default_registry(hooks: Iterable[RegistryHook] = ()) -> Registry:
    """Every flow's handlers, then any extra ones (tests, plug-ins)."""
    from crossdock.flows import register_all

    registry = Registry()
    register_all(registry)
    for hook in hooks:
        hook(registry)
    return registry


def build(
    settings: Settings | None = None,
    *,
    hooks: Iterable[RegistryHook] = (),
    clock: Callable[[], float] = time.time,
    services: Any = None,
    migrate: bool = False,
) -> Hub:
    settings = settings or Settings.from_env()
    if migrate:
        from crossdock.store import migrate as migrations

        migrations.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    if services is None:
        from crossdock.flows.services import make_services

        services = make_services(settings, engine)
    return Hub(
        settings=settings,
        database=Database(engine),
        registry=default_registry(hooks),
        clock=clock,
        services=services,
    )
