"""The engine end to end in one process: intake → worker → handler → emitted message."""

from __future__ import annotations

import asyncio
import json

from crossdock import bootstrap
from crossdock.errors import PermanentError
from crossdock.records import Delivery, Status
from crossdock.store import messages as store


def _delivery(key: str, body: dict, kind: str = "test.received", ordering_key: str | None = None) -> Delivery:
    raw = json.dumps(body)
    return Delivery("acme", "acme-in", kind, key, raw, raw, ordering_key=ordering_key, correlation_id=key)


def test_duplicate_delivery_creates_one_message(settings):
    hub = bootstrap.build(settings)

    async def go():
        results = await asyncio.gather(*(hub.intake.accept(_delivery("evt-1", {"n": 1})) for _ in range(20)))
        await hub.aclose()
        return results

    results = asyncio.run(go())
    assert len({r.message_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1


def test_handler_emits_next_message_and_both_complete(settings):
    seen: list[str] = []

    def hooks(registry):
        @registry.handler("test.received")
        async def received(msg, ctx):
            seen.append(msg.kind)
            ctx.emit("test.forward", {"from": msg.id})

        @registry.handler("test.forward")
        async def forward(msg, ctx):
            seen.append(msg.kind)

    hub = bootstrap.build(settings, hooks=[hooks])

    async def go():
        accepted = await hub.intake.accept(_delivery("evt-2", {"n": 2}))
        await hub.worker().run_until_idle(timeout=20)
        await hub.aclose()
        return accepted

    accepted = asyncio.run(go())
    assert seen == ["test.received", "test.forward"]
    hub = bootstrap.build(settings)
    with hub.engine.connect() as c:
        first = store.get(c, accepted.message_id)
    assert first.status is Status.DONE
    hub.close()


def test_permanent_error_parks_message_with_exception(settings):
    def hooks(registry):
        @registry.handler("test.received")
        async def received(msg, ctx):
            raise PermanentError("mapping.sku_unknown", "SKU ABC-1 is not mapped", "Add ABC-1 to the SKU map.")

    hub = bootstrap.build(settings, hooks=[hooks])

    async def go():
        accepted = await hub.intake.accept(_delivery("evt-3", {"sku": "ABC-1"}))
        await hub.worker().run_until_idle(timeout=20)
        await hub.aclose()
        return accepted

    accepted = asyncio.run(go())
    from sqlalchemy import select

    from crossdock.store.tables import exceptions

    hub = bootstrap.build(settings)
    with hub.engine.connect() as c:
        m = store.get(c, accepted.message_id)
        exc = c.execute(select(exceptions)).one()
    hub.close()
    assert m.status is Status.PARKED
    assert exc.category == "mapping.sku_unknown" and exc.owner == "tenant" and "ABC-1" in exc.hint


def test_heartbeats_keep_leases_while_every_writer_is_busy(settings, db_url):
    """PostgreSQL: a heartbeat does not queue behind claims, intake and group commits (it
    has a thread of its own), so a handler outliving its lease while the writers are busy
    still commits once. SQLite has one writer: heartbeats take their turn there."""
    import time

    import pytest

    if db_url.startswith("sqlite"):
        pytest.skip("one writer on SQLite: heartbeats share it by design")
    started = asyncio.Event()

    def hooks(registry):
        @registry.handler("test.received")
        async def slow(msg, ctx):
            started.set()
            await asyncio.sleep(3.0)  # twice the lease

    hub = bootstrap.build(settings, hooks=[hooks])

    async def go():
        accepted = await hub.intake.accept(_delivery("evt-hb", {"n": 1}))
        worker = hub.worker(lease_seconds=1.5)  # heartbeat every 0.5 s
        run = asyncio.create_task(worker.run_until_idle(timeout=30))
        await started.wait()
        # Every writer thread busy for ~4 s: longer than the lease.
        busy = [hub.database.write(lambda c: time.sleep(2.0)) for _ in range(8)]
        await asyncio.gather(*busy, run)
        await hub.aclose()
        return accepted, worker.stats

    accepted, stats = asyncio.run(go())
    assert stats.fenced == 0 and stats.done == 1, stats
    hub = bootstrap.build(settings)
    with hub.engine.connect() as c:
        m = store.get(c, accepted.message_id)
    assert m.status is Status.DONE and m.attempts == 1
    hub.close()
