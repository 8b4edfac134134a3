"""`/metrics`: Prometheus text format.

Two sources, one page:
- the process's own instruments on prometheus_client's default registry (webhook
  counters in `api.hooks`; worker, throttle and intake instruments in
  `engine.instruments`);
- `DatabaseCollector`, figures read from the database (`store.metrics_queries`):
  backlogs, the oldest due message, open exceptions, SLA clocks, availability lag,
  and the durable event counters every process adds to (`crossdock_events_total`).
  It lives in a registry of its own, one per app (so several apps in one process, as
  in tests, never collide), and holds no connection: the endpoint refreshes its
  snapshot through the hub's database (off the event loop), at most once per `ttl`
  seconds, and the collector only renders the last snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from crossdock.store import metrics_queries

CACHE_SECONDS = 5.0


class DatabaseCollector(Collector):
    def __init__(self, hub: Any, *, ttl: float = CACHE_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self._hub = hub
        self._ttl = ttl
        self._clock = clock
        self._snapshot: metrics_queries.Snapshot | None = None
        self._taken_at = float("-inf")  # monotonic
        self._lock = asyncio.Lock()
        self.failures = 0

    async def refresh(self) -> None:
        """Read a new snapshot unless the last one is younger than `ttl` (concurrent scrapes share one read)."""
        async with self._lock:
            if time.monotonic() - self._taken_at < self._ttl:
                return
            try:
                self._snapshot = await self._hub.database.read(metrics_queries.snapshot, self._clock())
            except Exception:
                self.failures += 1  # the last snapshot stays; `crossdock_metrics_db_errors` shows it
            self._taken_at = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot
        errors = GaugeMetricFamily(
            "crossdock_metrics_db_errors", "Failed database reads for /metrics since the process started"
        )
        errors.add_metric([], self.failures)
        yield errors
        if snap is None:
            return
        age = GaugeMetricFamily("crossdock_metrics_snapshot_age_seconds", "Age of the database figures below")
        age.add_metric([], max(self._clock() - snap.at, 0.0))
        yield age

        msgs = GaugeMetricFamily(
            "crossdock_messages_open", "Open messages by tenant, stream and status", labels=["tenant", "stream", "status"]
        )
        for (tenant, stream, status), n in sorted(snap.messages.items()):
            msgs.add_metric([tenant, stream, status], n)
        yield msgs

        oldest = GaugeMetricFamily(
            "crossdock_oldest_ready_age_seconds",
            "How long the oldest due READY message of a lane has been waiting",
            labels=["tenant", "stream"],
        )
        for (tenant, stream), v in sorted(snap.oldest_ready_age.items()):
            oldest.add_metric([tenant, stream], v)
        yield oldest

        exc = GaugeMetricFamily(
            "crossdock_exceptions_open", "Open exceptions by tenant and category", labels=["tenant", "category"]
        )
        for (tenant, category), n in sorted(snap.open_exceptions.items()):
            exc.add_metric([tenant, category], n)
        yield exc

        labels = ["tenant", "clock", "channel"]
        waiting = GaugeMetricFamily("crossdock_sla_waiting", "Items an SLA clock is running for", labels=labels)
        overdue = GaugeMetricFamily("crossdock_sla_overdue", "Items past their SLA deadline", labels=labels)
        sla_age = GaugeMetricFamily(
            "crossdock_sla_oldest_age_seconds", "Age of the oldest item an SLA clock is running for", labels=labels
        )
        for key, (w, o, a) in sorted(snap.sla.items()):
            waiting.add_metric(list(key), w)
            overdue.add_metric(list(key), o)
            sla_age.add_metric(list(key), a)
        yield waiting
        yield overdue
        yield sla_age

        lag = GaugeMetricFamily(
            "crossdock_availability_lag_seconds",
            "Since when a connection's computed availability differs from what was published (oldest item)",
            labels=["tenant", "connection"],
        )
        for (tenant, connection), v in sorted(snap.availability_lag.items()):
            lag.add_metric([tenant, connection], v)
        yield lag

        events = CounterMetricFamily(
            "crossdock_events",
            "Events counted in the database by every process since the hub was installed "
            "(stock ledger verdicts `stock.*`, refused deliveries `webhook.refused.*`, ...)",
            labels=["tenant", "event"],
        )
        for (tenant, name), n in sorted(snap.events.items()):
            events.add_metric([tenant, name], n)
        yield events


class Metrics:
    """The `/metrics` page of one app."""

    def __init__(self, hub: Any, *, ttl: float = CACHE_SECONDS) -> None:
        self.collector = DatabaseCollector(hub, ttl=ttl, clock=getattr(hub, "clock", time.time))
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)

    async def page(self) -> tuple[bytes, str]:
        await self.collector.refresh()
        return generate_latest(REGISTRY) + generate_latest(self.registry), CONTENT_TYPE_LATEST
