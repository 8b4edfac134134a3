"""Hub maintenance jobs, fired by the scheduler in the `_system` tenant.

`system.purge` deletes what retention no longer keeps. It works like any handler: the
deletion of one bounded batch per target is a staged effect, committed with the job's
own outcome (a lost lease deletes nothing twice: a second run finds fewer rows). When
more than one batch is eligible it emits its own continuation, so a large backlog is
purged in many short transactions and the worker's commits are never held long."""

from __future__ import annotations

from crossdock.engine.handlers import HandlerContext, Registry
from crossdock.engine.retry import RetryPolicy
from crossdock.records import Message
from crossdock.store import purge

PURGE_BATCH = 1000  # rows per target per job: one commit on the worker's path
MAX_ROUNDS = 1000  # continuations of one scheduled purge; the next hour carries on

_POLICY = RetryPolicy(base_seconds=30.0, cap_seconds=600.0, max_attempts=5)


async def purge_expired(msg: Message, ctx: HandlerContext) -> None:
    payload = ctx.payload if isinstance(ctx.payload, dict) else {}
    retention = purge.Retention.from_payload(payload)
    now = ctx.now
    more = await ctx.read(lambda conn: purge.more_than(conn, retention, now, PURGE_BATCH))
    ctx.stage(lambda conn: purge.step(conn, retention, now, PURGE_BATCH))
    rounds = int(payload.get("round", 0))
    if more and rounds < MAX_ROUNDS:
        ctx.emit("system.purge", {**retention.to_payload(), "round": rounds + 1})


def register(registry: Registry) -> None:
    registry.add("system.purge", purge_expired, _POLICY)
