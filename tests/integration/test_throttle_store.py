"""The shared throttle's arithmetic, against the real database with an injected clock."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from crossdock.store import throttles as store
from crossdock.store.db import make_engine
from crossdock.store.tables import throttle_slots, throttles


@pytest.fixture
def engine(db_url):
    e = make_engine(db_url)
    with e.begin() as c:
        c.execute(
            insert(throttles),
            {"tenant_id": "t", "connection_id": "erp", "rate": 10.0, "burst": 3, "max_concurrency": 2, "tat": 0.0,
             "paused_until": 0.0, "waits": 0},
        )
        c.execute(insert(throttle_slots), [{"tenant_id": "t", "connection_id": "erp", "slot": i} for i in range(2)])
    yield e
    e.dispose()


def _reserve(engine, now, max_wait=10.0):
    with engine.begin() as c:
        return store.reserve(c, "t", "erp", now, max_wait)


def test_burst_goes_at_once_then_calls_are_spaced_by_the_rate(engine):
    t0 = 1000.0
    waits = [_reserve(engine, t0) for _ in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.1, 0.2, 0.3])


def test_a_wait_beyond_the_limit_reserves_nothing(engine):
    t0 = 1000.0
    for _ in range(3):
        _reserve(engine, t0)
    assert _reserve(engine, t0, max_wait=0.05) == pytest.approx(-0.1)
    assert _reserve(engine, t0, max_wait=1.0) == pytest.approx(0.1)  # the refused call took no slot


def test_pause_after_429_holds_every_caller_until_it_ends(engine):
    with engine.begin() as c:
        store.pause(c, "t", "erp", 1005.0)
        store.pause(c, "t", "erp", 1002.0)  # a shorter pause never shortens a longer one
    assert _reserve(engine, 1000.0, max_wait=1.0) == pytest.approx(-5.0)
    assert _reserve(engine, 1000.0, max_wait=10.0) == pytest.approx(5.0)


def test_concurrency_slots_are_exclusive_and_expire(engine):
    with engine.begin() as c:
        a = store.take_slot(c, "t", "erp", "h1", 1000.0, 60)
        b = store.take_slot(c, "t", "erp", "h2", 1000.0, 60)
        none = store.take_slot(c, "t", "erp", "h3", 1000.0, 60)
    assert {a, b} == {0, 1} and none is None
    with engine.begin() as c:
        store.give_slot(c, "t", "erp", a, "h1")
        again = store.take_slot(c, "t", "erp", "h3", 1000.0, 600)
        expired = store.take_slot(c, "t", "erp", "h4", 1061.0, 60)  # h2's hold ran out
    assert again == a and expired == b
