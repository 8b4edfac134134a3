"""Retention: finished work goes after its retention, open work never, dedupe keys last."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlalchemy import func, insert, select, update
from typer.testing import CliRunner

from crossdock import bootstrap
from crossdock.cli import app
from crossdock.flows import system
from crossdock.records import LineageRecord, Message, NewMessage, Status
from crossdock.store import messages as store
from crossdock.store import purge, schedules
from crossdock.store.outcomes import write_lineage
from crossdock.store.tables import dedupe_keys, exceptions, lineage, messages

DAY = 86400.0
NOW = time.time()
RETENTION = purge.Retention(message_days=7, lineage_days=3, dedupe_days=30)


@pytest.fixture
def hub(settings):
    h = bootstrap.build(settings)
    yield h
    h.close()


def _put(hub, key: str, status: Status, age_days: float, tenant: str = "acme") -> int:
    at = NOW - age_days * DAY
    mid = hub.database.transaction(store.insert, [NewMessage(tenant, "order.line", key, "{}")], at)[
        0
    ].message_id
    hub.database.transaction(
        lambda c: c.execute(
            update(messages).where(messages.c.id == mid).values(status=status.value, updated_at=at)
        )
    )
    return mid


def _exception(hub, mid: int, status: str, tenant: str = "acme") -> int:
    row = {
        "tenant_id": tenant,
        "message_id": mid,
        "kind": "order.line",
        "category": "mapping.sku_unknown",
        "severity": "high",
        "owner": "tenant",
        "summary": "s",
        "attempts": 1,
        "first_seen_at": NOW,
        "last_seen_at": NOW,
        "status": status,
    }
    return hub.database.transaction(
        lambda c: c.execute(insert(exceptions).returning(exceptions.c.id), row).scalar()
    )


def _ids(hub, table) -> set:
    with hub.engine.connect() as c:
        return {r[0] for r in c.execute(select(table.c.id))}


def _count(hub, table) -> int:
    with hub.engine.connect() as c:
        return c.execute(select(func.count()).select_from(table)).scalar()


def test_finished_messages_past_retention_go_and_open_work_never_does(hub):
    old_done = [
        _put(hub, f"d{i}", s, 8) for i, s in enumerate((Status.DONE, Status.RESOLVED, Status.RESUBMITTED))
    ]
    old_open = [
        _put(hub, f"o{i}", s, 40) for i, s in enumerate((Status.READY, Status.RUNNING, Status.PARKED))
    ]
    recent_done = _put(hub, "r", Status.DONE, 1)
    report = purge.run(hub.database.transaction, RETENTION, NOW)
    assert report.counts["messages"] == 3
    assert _ids(hub, messages) == {*old_open, recent_done}
    assert not set(old_done) & _ids(hub, messages)


def test_a_redelivery_after_its_message_was_purged_is_still_a_duplicate(hub):
    mid = _put(hub, "evt-1", Status.DONE, 10)
    purge.run(hub.database.transaction, RETENTION, NOW)
    assert mid not in _ids(hub, messages)
    again = hub.database.transaction(store.insert, [NewMessage("acme", "order.line", "evt-1", "{}")], NOW)[0]
    assert not again.created and again.message_id == mid
    assert _count(hub, messages) == 0
    later = NOW + 25 * DAY  # past dedupe retention (30 days after the message was written)
    purge.run(hub.database.transaction, RETENTION, later)
    fresh = hub.database.transaction(store.insert, [NewMessage("acme", "order.line", "evt-1", "{}")], later)[
        0
    ]
    assert fresh.created


def test_dedupe_keys_never_go_before_their_messages_even_if_configured_shorter(hub):
    _put(hub, "evt-2", Status.DONE, 5)
    short = purge.Retention(message_days=7, lineage_days=7, dedupe_days=1)
    purge.run(hub.database.transaction, short, NOW)
    assert _count(hub, dedupe_keys) == 1 and _count(hub, messages) == 1


def test_lineage_past_its_retention_goes(hub):
    mid = _put(hub, "l", Status.PARKED, 1)
    m = Message(mid, "acme", "order", "order.line", "l", "{}", correlation_id="c")
    for age in (5, 4, 1):
        hub.database.transaction(write_lineage, [(m, LineageRecord("in", "acme-in"))], NOW - age * DAY)
    assert purge.run(hub.database.transaction, RETENTION, NOW).counts["lineage"] == 2
    assert _count(hub, lineage) == 1


def test_closed_exceptions_go_with_their_message_and_open_ones_stay(hub):
    gone = _put(hub, "g", Status.RESOLVED, 9)
    parked = _put(hub, "p", Status.PARKED, 9)
    recent = _put(hub, "n", Status.DONE, 1)
    closed_gone = _exception(hub, gone, "resolved")
    open_one = _exception(hub, parked, "open")
    closed_kept = _exception(hub, recent, "cleared")
    report = purge.run(hub.database.transaction, RETENTION, NOW)
    assert report.counts["exceptions"] == 1
    assert closed_gone not in _ids(hub, exceptions) and {open_one, closed_kept} <= _ids(hub, exceptions)


def test_purge_works_in_batches_and_reports_progress_and_dry_run_deletes_nothing(hub):
    for i in range(11):
        _put(hub, f"b{i}", Status.DONE, 8, tenant="acme" if i % 2 else "globex")
    dry = purge.run(hub.database.transaction, RETENTION, NOW, dry_run=True)
    assert dry.dry_run and dry.counts["messages"] == 11 and _count(hub, messages) == 11
    steps: list[tuple[str, int]] = []
    report = purge.run(
        hub.database.transaction, RETENTION, NOW, batch=3, progress=lambda t, n: steps.append((t, n))
    )
    assert report.counts["messages"] == 11 and _count(hub, messages) == 0
    assert all(n <= 3 for _t, n in steps) and sum(n for t, n in steps if t == "messages") == 11


def test_scheduled_system_purge_purges_in_continuations(hub, monkeypatch):
    monkeypatch.setattr(system, "PURGE_BATCH", 2)
    old = [_put(hub, f"s{i}", Status.DONE, 8) for i in range(5)]
    keep = _put(hub, "keep", Status.PARKED, 8)
    hub.database.transaction(schedules.ensure_system_schedules, NOW, RETENTION)
    fired = hub.database.transaction(schedules.fire_due, NOW + 1)
    assert len(fired) == 1
    asyncio.run(hub.worker().run_until_idle(timeout=20))
    left = _ids(hub, messages)
    assert not set(old) & left and keep in left
    with hub.engine.connect() as c:
        jobs = c.execute(
            select(messages.c.status, messages.c.payload).where(messages.c.kind == "system.purge")
        ).all()
    assert len(jobs) >= 3 and {s for s, _p in jobs} == {"done"}  # 5 rows in batches of 2


def test_purge_command_prints_json_and_honours_dry_run(hub, settings):
    _put(hub, "c1", Status.DONE, 8)
    env = {"CROSSDOCK_DATABASE_URL": settings.database_url, "CROSSDOCK_MESSAGE_RETENTION_DAYS": "7"}
    dry = CliRunner().invoke(app, ["purge", "--dry-run", "--json"], env=env)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["counts"]["messages"] == 1 and _count(hub, messages) == 1
    done = CliRunner().invoke(app, ["purge", "--json"], env=env)
    assert json.loads(done.output) == {
        "dry_run": False,
        "counts": {"messages": 1, "exceptions": 0, "lineage": 0, "dedupe_keys": 0},
        "exception_actions": 0,
    }
    human = CliRunner().invoke(app, ["purge"], env=env)
    assert human.exit_code == 0 and "messages" in human.output
