"""A connection's sliding-window submission quotas (Amazon: 5 listings feeds per 5 minutes,
Walmart: 10 inventory feeds an hour), counted before anything is sent.

A connector takes a slot with `quota_of(ctx).take(...)` before it submits; a full window
raises a *local* ThrottledError (nothing reached the channel, so the connection's other
calls, such as order polls and confirmations, are not paused for everyone). The flows give
the connector the engine's quota, kept in the database and shared by every worker process;
a bare context (unit tests, one-off tools) counts in the process (`LocalQuota`)."""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from crossdock.errors import ThrottledError

if TYPE_CHECKING:
    from crossdock.connectors.registry import ConnectorContext


class QuotaSlot(Protocol):
    """One submission taken. `give_back` when the submission was never made (refused before
    or at its creation), so a retried publish does not spend a second slot on one feed; once
    the creation was asked for and the answer is lost, `keep` it (the feed may exist)."""

    async def give_back(self) -> None: ...

    def keep(self) -> None: ...


class Quota(Protocol):
    async def take(self, name: str, most: int, span: float, what: str, now: float) -> QuotaSlot: ...


def full(most: int, span: float, what: str, wait: float) -> ThrottledError:
    return ThrottledError(wait, f"{what}: {most} per {span:g} s used", local=True)


class LocalQuota:
    """A quota counted by this process alone."""

    def __init__(self, cache: dict) -> None:
        self.cache = cache

    async def take(self, name: str, most: int, span: float, what: str, now: float) -> QuotaSlot:
        stamps: deque[float] = self.cache.setdefault(f"quota.{name}", deque())
        while stamps and stamps[0] <= now - span:
            stamps.popleft()
        if len(stamps) >= most:
            raise full(most, span, what, stamps[0] + span - now)
        stamps.append(now)
        return LocalSlot(stamps, now)


@dataclass
class LocalSlot:
    stamps: deque[float]
    stamp: float
    settled: bool = False

    async def give_back(self) -> None:
        if not self.settled:
            self.settled = True
            with contextlib.suppress(ValueError):  # already aged out of the window
                self.stamps.remove(self.stamp)

    def keep(self) -> None:
        self.settled = True


def quota_of(ctx: ConnectorContext) -> Quota:
    return ctx.quota if ctx.quota is not None else LocalQuota(ctx.cache)
