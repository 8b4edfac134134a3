"""What handlers and intake need from the outside world, built once by the composition root.

`Services.connections` answers "what is connection X, with its secrets opened?" and
"where do events from X on topic T go?". Both are read on every webhook and every
relay, so answers are cached for `ttl` seconds: a configuration change is seen
within that time, and a burst of deliveries costs one database read.
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine

from crossdock.configuration.secrets import SecretBox, SecretError
from crossdock.connectors.http.client import HttpClient
from crossdock.flows.tenant_config import TenantConfigs
from crossdock.store.configuration import StoredConnection, load_connection
from crossdock.store.counters import bump_counter
from crossdock.store.routes import Route, routes_from

DEFAULT_TTL = 2.0


@dataclass(frozen=True)
class LiveConnection:
    """A connection as configured now, secrets opened; `problem` says why it cannot be used."""

    tenant_id: str
    id: str
    kind: str
    enabled: bool
    config: BaseModel | None
    problem: str | None = None


class _TtlCache:
    """Values by key for `ttl` seconds; concurrent misses of one key share one load.

    At most `max_entries` are kept (expired ones go first, then the oldest): the webhook
    endpoint looks up whatever connection id a request names, signed or not, and a cache
    that kept every unknown id would grow with each request anyone sends."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self._ttl, self._clock, self._max = ttl, clock, max_entries
        self._values: dict[Any, tuple[float, Any]] = {}
        self._loading: dict[Any, asyncio.Future] = {}

    async def get(self, key: Any, load: Callable[[], Awaitable[Any]]) -> Any:
        hit = self._values.get(key)
        if hit and self._clock() - hit[0] < self._ttl:
            return hit[1]
        pending = self._loading.get(key)
        if pending is not None and pending.get_loop() is asyncio.get_running_loop():
            return await asyncio.shield(pending)
        task = asyncio.ensure_future(load())
        self._loading[key] = task
        try:
            value = await asyncio.shield(task)
        finally:
            self._loading.pop(key, None)
        self._values.pop(key, None)  # re-inserted last: the dict's order is the entries' age
        self._values[key] = (self._clock(), value)
        if len(self._values) > self._max:
            self._evict()
        return value

    def _evict(self) -> None:
        now = self._clock()
        for key in [k for k, (at, _) in self._values.items() if now - at >= self._ttl]:
            del self._values[key]
        while len(self._values) > self._max:
            del self._values[next(iter(self._values))]

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        self._values.clear()


class ConnectionDirectory:
    def __init__(self, engine: Engine, box: SecretBox, *, ttl: float = DEFAULT_TTL) -> None:
        self._engine, self._box = engine, box
        self._connections = _TtlCache(ttl)
        self._routes = _TtlCache(ttl)

    async def get(self, connection_id: str) -> LiveConnection | None:
        return await self._connections.get(connection_id, lambda: self._load(connection_id))

    async def routes(self, tenant_id: str, source_connection_id: str) -> tuple[Route, ...]:
        key = (tenant_id, source_connection_id)
        return await self._routes.get(key, lambda: asyncio.to_thread(self._read_routes, *key))

    async def targets(self, tenant_id: str, source_connection_id: str, topic: str) -> list[str]:
        """Target connections for an event on `topic`, each once, in a stable order."""
        found = await self.routes(tenant_id, source_connection_id)
        return sorted({r.target_connection_id for r in found if fnmatch.fnmatchcase(topic, r.topic)})

    def forget(self) -> None:
        """Drop cached answers (tests, and after `crossdock apply` in this process)."""
        self._connections.clear()
        self._routes.clear()

    async def _load(self, connection_id: str) -> LiveConnection | None:
        stored = await asyncio.to_thread(load_connection, self._engine, connection_id)
        return None if stored is None else self._open(stored)

    def _open(self, stored: StoredConnection) -> LiveConnection:
        base = (stored.tenant_id, stored.id, stored.kind, stored.enabled)
        if not isinstance(stored.config, BaseModel):
            return LiveConnection(
                *base, None, f"connection kind {stored.kind!r} is not known to this version"
            )
        try:
            plain = self._box.open_secrets(stored.config.model_dump(), stored.kind)
            return LiveConnection(*base, type(stored.config).model_validate(plain))
        except SecretError as exc:
            return LiveConnection(*base, None, f"a secret cannot be opened: {exc.detail}")
        except ValidationError as exc:
            return LiveConnection(*base, None, f"its configuration is invalid: {exc.error_count()} error(s)")

    def _read_routes(self, tenant_id: str, source_connection_id: str) -> tuple[Route, ...]:
        with self._engine.connect().execution_options(readonly=True) as conn, conn.begin():
            return routes_from(conn, tenant_id, source_connection_id)


@dataclass
class Services:
    connections: ConnectionDirectory
    http: HttpClient
    box: SecretBox
    extra: dict[str, Any] = field(default_factory=dict)
    caches: dict[str, dict[str, Any]] = field(default_factory=dict)
    tenant_configs: TenantConfigs = field(default_factory=TenantConfigs)  # settings and rules, by stamp

    def cache_for(self, connection_id: str) -> dict[str, Any]:
        """What a connector keeps between calls in this process (tokens, rate buckets, prices)."""
        return self.caches.setdefault(connection_id, {})

    async def aclose(self) -> None:
        await self.http.aclose()


def make_services(settings: Any, engine: Engine, *, ttl: float = DEFAULT_TTL) -> Services:
    box = SecretBox.from_settings(settings)
    return Services(connections=ConnectionDirectory(engine, box, ttl=ttl), http=HttpClient(), box=box)


__all__ = ["ConnectionDirectory", "LiveConnection", "Route", "Services", "bump_counter", "make_services", "routes_from"]
