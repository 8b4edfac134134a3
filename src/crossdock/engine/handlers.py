"""Handlers: one async function per message kind, in one explicit registry.

A handler reads its message, calls connectors (outside any transaction) and leaves
what must be committed with the outcome on its `HandlerContext`: messages to emit,
database effects to apply, lineage records. The worker commits all of it together
with the message's new status, or none of it when the lease was lost."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from crossdock.engine.quotas import DatabaseQuota
from crossdock.engine.retry import DEFAULT_POLICY, RetryPolicy
from crossdock.records import LineageRecord, Message, NewMessage
from crossdock.store.messages import SEQ

Effect = Callable[[Connection], None]


class _Same:
    """Marker: keep the causing message's value."""


SAME: Any = _Same()


class HandlerContext:
    def __init__(self, message: Message, now: float, services: Any, throttles: Any, database: Any) -> None:
        self.message = message
        self.now = now
        self.services = services
        self._throttles = throttles
        self._database = database
        self.emitted: list[NewMessage] = []
        self.effects: list[Effect] = []
        self.lineage: list[LineageRecord] = []
        self.memo: dict[Any, Any] = {}  # what this run has read already (flows' own keys)
        self._permitted: set[str] = set()  # connections this run has made a call to
        self._payload: Any = _Same

    @property
    def payload(self) -> Any:
        """The message payload as parsed JSON (parsed once)."""
        if self._payload is _Same:
            raw = self.message.payload
            self._payload = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
        return self._payload

    def emit(
        self,
        kind: str,
        payload: Any,
        *,
        key: str | None = None,
        ordering_key: Any = SAME,
        correlation_id: Any = SAME,
        connection_id: str | None = None,
        delay_seconds: float = 0.0,
    ) -> NewMessage:
        """Queue a message to be written with this message's outcome.

        Its idempotency key is derived from this message and the emission's position,
        so a handler that runs again after a lost lease emits the very same messages.

        Without a delay it is due from when this message was created: the flow's next step
        keeps its cause's place in the lane instead of queueing behind everything that
        arrived or was retried since (claims go oldest due first), so work already started
        finishes first, as during a drain after an outage."""
        m = self.message
        new = NewMessage(
            tenant_id=m.tenant_id,
            kind=kind,
            idempotency_key=key or f"m{m.id}.{len(self.emitted)}.{kind}",
            payload=payload,
            ordering_key=m.ordering_key if ordering_key is SAME else ordering_key,
            correlation_id=m.correlation_id if correlation_id is SAME else correlation_id,
            causation_id=m.id,
            connection_id=connection_id,
            delay_seconds=delay_seconds,
            seq=SEQ.next(after=m.seq),
            due_at=None if delay_seconds > 0 else min(self.now, m.created_at or self.now),
        )
        self.emitted.append(new)
        return new

    def stage(self, effect: Effect) -> None:
        """A database change committed with the outcome (entity updates, cursors, ...)."""
        self.effects.append(effect)

    def record(self, record: LineageRecord) -> None:
        self.lineage.append(record)

    @contextlib.asynccontextmanager
    async def throttle(self, connection_id: str) -> AsyncIterator[None]:
        """Wrap one external call: waits for the connection's shared rate and concurrency,
        and pauses the connection for every worker when the call is throttled.

        A call after this run's first one to the same connection may wait longer for its
        turn: the operation is under way (a customer created, its sales order not yet), and
        giving it back now would repeat its first requests later and waste the allowance."""
        under_way = connection_id in self._permitted
        async with self._throttles.permit(self.message.tenant_id, connection_id, under_way=under_way):
            self._permitted.add(connection_id)
            yield

    def quota(self, connection_id: str) -> DatabaseQuota:
        """The connection's sliding-window quotas (feeds per window), shared by every process."""
        return DatabaseQuota(self._database, self.message.tenant_id, connection_id)

    async def pause(self, connection_id: str, seconds: float) -> None:
        """Hold every worker's calls to this connection for `seconds` (after a 429)."""
        await self._throttles.pause(self.message.tenant_id, connection_id, seconds)

    async def read(self, fn: Callable[[Connection], Any]) -> Any:
        return await self._database.read(fn)


Handler = Callable[[Message, HandlerContext], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    kind: str
    fn: Handler
    policy: RetryPolicy


class Registry:
    """Message kind → handler. Built once by the composition root."""

    def __init__(self) -> None:
        self._specs: dict[str, HandlerSpec] = {}

    def add(self, kind: str, fn: Handler, policy: RetryPolicy = DEFAULT_POLICY) -> None:
        if kind in self._specs:
            raise ValueError(f"a handler for {kind!r} is already registered")
        self._specs[kind] = HandlerSpec(kind, fn, policy)

    def handler(self, kind: str, policy: RetryPolicy = DEFAULT_POLICY) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.add(kind, fn, policy)
            return fn

        return deco

    def get(self, kind: str) -> HandlerSpec | None:
        return self._specs.get(kind)

    def kinds(self) -> list[str]:
        return sorted(self._specs)
