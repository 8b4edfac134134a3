"""Schedules fire once per slot across schedulers; and the operator's `crossdock` commands
(messages, exceptions) on a real database."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from crossdock import bootstrap
from crossdock.cli import app
from crossdock.engine.database import Database
from crossdock.engine.scheduler import Scheduler
from crossdock.errors import PermanentError
from crossdock.records import NewMessage, Status
from crossdock.store import messages as store
from crossdock.store import schedules
from crossdock.store.db import make_engine
from crossdock.store.tables import messages
from tests.support.clock import FakeClock
from tests.support.tenants import ensure_tenants

T0 = 1_700_000_000.0


@pytest.fixture
def hub(settings):
    h = bootstrap.build(settings)
    yield h
    h.close()


def _fired(hub) -> list[tuple[str, str]]:
    with hub.engine.connect() as c:
        q = select(messages.c.kind, messages.c.idempotency_key).where(messages.c.tenant_id == "acme")
        return sorted(tuple(r) for r in c.execute(q))


def _declare(hub, interval: float = 60.0, **kw) -> None:
    hub.database.transaction(
        lambda c: schedules.upsert_schedule(
            c, "acme", "stock.poll", "inventory.poll", interval, {"full": False}, now=T0, **kw
        )
    )


def test_next_slot_skips_missed_slots():
    assert schedules.next_slot(100.0, 60.0, 100.0) == 160.0
    assert schedules.next_slot(100.0, 60.0, 339.0) == 340.0
    assert schedules.next_slot(100.0, 60.0, 340.0) == 400.0
    assert schedules.next_slot(100.0, 60.0, 50.0) == 160.0


def test_a_due_schedule_fires_once_per_slot_and_missed_slots_are_skipped(hub):
    _declare(hub)
    assert len(hub.database.transaction(schedules.fire_due, T0)) == 1
    assert hub.database.transaction(schedules.fire_due, T0 + 30) == []
    assert (
        len(hub.database.transaction(schedules.fire_due, T0 + 60 * 3.5)) == 1
    )  # three slots missed: one run
    s = hub.database.transaction(schedules.get_schedule, "acme", "stock.poll")
    assert s.next_run_at == T0 + 240 and s.last_run_at == T0 + 210
    assert _fired(hub) == [
        ("inventory.poll", f"schedule:stock.poll:{T0}"),
        ("inventory.poll", f"schedule:stock.poll:{T0 + 60}"),
    ]


def test_upsert_keeps_the_schedule_in_time_and_a_disabled_schedule_never_fires(hub):
    _declare(hub, first_run_at=T0 + 30)
    _declare(hub, interval=120.0, enabled=False)
    s = hub.database.transaction(schedules.get_schedule, "acme", "stock.poll")
    assert (s.next_run_at, s.interval_seconds, s.enabled) == (T0 + 30, 120.0, False)
    assert hub.database.transaction(schedules.fire_due, T0 + 1000) == []


def test_system_schedules_can_be_declared_by_every_process(hub):
    for _ in range(3):
        hub.database.transaction(schedules.ensure_system_schedules, T0)
    s = hub.database.transaction(schedules.get_schedule, "_system", "system.purge")
    assert (
        s.kind == "system.purge" and s.interval_seconds == 3600 and json.loads(s.payload)["dedupe_days"] == 30
    )


def test_two_processes_firing_at_the_same_moment_write_one_message_per_slot(hub, settings):
    _declare(hub, interval=10.0)
    dbs = [Database(make_engine(settings.database_url)) for _ in range(2)]
    slots = [T0 + 10 * i for i in range(6)]
    barrier = threading.Barrier(2)
    fired: list[list[int]] = [[], []]

    def fire(n: int) -> None:
        for now in slots:
            barrier.wait()
            fired[n] += dbs[n].transaction(schedules.fire_due, now)

    threads = [threading.Thread(target=fire, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for db in dbs:
        db.close()
        db.engine.dispose()
    assert len(fired[0]) + len(fired[1]) == len(slots)
    assert _fired(hub) == sorted(("inventory.poll", f"schedule:stock.poll:{s}") for s in slots)


def test_two_schedulers_running_together_fire_each_slot_once_and_wake_workers(hub, settings):
    _declare(hub, interval=5.0)
    clock = FakeClock(T0)
    woken: list[int] = []
    dbs = [Database(make_engine(settings.database_url)) for _ in range(2)]
    runners = [Scheduler(db, clock, tick_seconds=0.01, on_fired=lambda: woken.append(1)) for db in dbs]

    async def go() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(s.run(stop)) for s in runners]
        for _ in range(4):
            await asyncio.sleep(0.1)
            clock.advance(5.0)
        await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(go())
    for db in dbs:
        db.close()
        db.engine.dispose()
    assert len(_fired(hub)) == 5 and sum(s.fired for s in runners) == 5 and len(woken) == 5


# --------------------------------------------------------------------------- the operator's commands


def _parked(settings) -> dict[str, int]:
    """Three parked messages in tenant acme (one of them held behind by a later one) and one in globex."""

    def hooks(registry):
        @registry.handler("order.line")
        async def line(msg, ctx):
            if ctx.payload.get("sku") != "OK":
                raise PermanentError(
                    "mapping.sku_unknown", f"SKU {ctx.payload['sku']} is not mapped", "Map it."
                )

    hub = bootstrap.build(settings, hooks=[hooks])
    ensure_tenants(hub.engine, "acme", "globex")
    spec = [
        ("acme", "a1", "X", "k1"),
        ("acme", "a2", "Y", None),
        ("acme", "a3", "Z", None),
        ("globex", "g1", "X", None),
        ("acme", "a4", "OK", "k1"),
    ]
    news = [
        NewMessage(t, "order.line", key, json.dumps({"sku": sku}), ordering_key=ok)
        for t, key, sku, ok in spec
    ]
    written = hub.database.transaction(store.insert, news, time.time())
    asyncio.run(hub.worker().run_until_idle(timeout=20))
    hub.close()
    return {key: w.message_id for (_t, key, _s, _o), w in zip(spec, written, strict=True)}


def _cli(settings, *args: str, input: str | None = None):
    result = CliRunner().invoke(
        app, list(args), env={"CROSSDOCK_DATABASE_URL": settings.database_url, "COLUMNS": "200"}, input=input
    )
    return result


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_operator_commands_list_show_retry_resubmit_resolve(settings, tmp_path):
    ids = _parked(settings)
    listed = _json(_cli(settings, "messages", "list", "--tenant", "acme", "--status", "parked", "--json"))
    assert sorted(m["id"] for m in listed) == sorted(ids[k] for k in ("a1", "a2", "a3"))
    shown = _json(_cli(settings, "messages", "show", str(ids["a1"]), "--json"))
    assert shown["payload"] == {"sku": "X"} and shown["exceptions"][0]["category"] == "mapping.sku_unknown"
    assert _cli(settings, "messages", "show", "999999").exit_code == 1
    assert _cli(settings, "messages", "list").exit_code == 0

    desk = _json(_cli(settings, "exceptions", "list", "--tenant", "acme", "--json"))
    by_message = {e["message_id"]: e["id"] for e in desk}
    assert len(desk) == 3
    assert _json(_cli(settings, "exceptions", "list", "--group", "--json")) == {"mapping.sku_unknown": 4}
    assert "mapping.sku_unknown" in _cli(settings, "exceptions", "list").output

    retried = _json(
        _cli(settings, "exceptions", "retry", str(by_message[ids["a2"]]), "--actor", "ops", "--json")
    )
    assert retried["count"] == 1 and retried["message_ids"] == [ids["a2"]]

    (tmp_path / "fixed.json").write_text('{"sku": "OK"}')
    resub = _cli(
        settings,
        "exceptions",
        "resubmit",
        str(by_message[ids["a1"]]),
        "--payload-file",
        str(tmp_path / "fixed.json"),
        "--json",
    )
    assert len(_json(resub)["new_message_ids"]) == 1
    bad = _cli(settings, "exceptions", "resubmit", str(by_message[ids["a3"]]), "--payload", "{nope")
    assert bad.exit_code == 2 and "not valid JSON" in bad.output

    assert _cli(settings, "exceptions", "resolve", "--reason", "x").exit_code == 2  # no ids, no filter
    refused = _cli(settings, "exceptions", "resolve", "--tenant", "acme", "--reason", "dup", input="n\n")
    assert refused.exit_code == 1
    resolved = _json(
        _cli(settings, "exceptions", "resolve", "--tenant", "acme", "--reason", "dup", "--yes", "--json")
    )
    assert resolved["message_ids"] == [ids["a3"]]  # a1 and a2 were no longer open
    remaining = _json(_cli(settings, "exceptions", "list", "--json"))
    assert [e["tenant_id"] for e in remaining] == ["globex"]

    again = _cli(settings, "exceptions", "retry", str(by_message[ids["a2"]]), "999999")
    assert again.exit_code == 3 and "999999" in again.output  # not open, unknown: not "done"
    assert _cli(settings, "exceptions", "resolve", "999999", "--reason", "x").exit_code == 3

    hub = bootstrap.build(settings)
    with hub.engine.connect() as c:
        assert store.get(c, ids["a1"]).status is Status.RESUBMITTED
        assert store.get(c, ids["a3"]).status is Status.RESOLVED
    hub.close()


def test_operator_commands_refuse_ids_and_urls_the_database_cannot_take(settings):
    huge = str(2**70)
    for args in (("messages", "show", huge), ("exceptions", "retry", huge), ("apikeys", "revoke", huge)):
        out = _cli(settings, *args)
        assert out.exit_code == 2 and "cannot hold" in out.output and "Traceback" not in out.output, args
    bad = CliRunner().invoke(app, ["messages", "show", "1"], env={"CROSSDOCK_DATABASE_URL": "nonsense://x"})
    assert bad.exit_code == 2 and "not a database URL" in bad.output

