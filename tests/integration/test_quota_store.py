"""Sliding-window quotas in the database (`store.quotas`), against the real database."""

from __future__ import annotations

import threading

import pytest

from crossdock.store import quotas as store
from crossdock.store.db import make_engine


@pytest.fixture
def engine(db_url):
    e = make_engine(db_url, pool_size=10)
    yield e
    e.dispose()


def take(engine, holder: str, now: float, most: int = 5, span: float = 300.0) -> float:
    with engine.begin() as c:
        return store.take(c, "t", "amz", "feeds", holder, most, span, now)


def test_the_window_slides_and_a_given_back_slot_is_free_again(engine):
    assert [take(engine, f"h{i}", 1000.0 + i) for i in range(5)] == [0.0] * 5
    assert take(engine, "h5", 1010.0) == pytest.approx(290.0)  # until h0 leaves the window
    with engine.begin() as c:
        store.give_back(c, "t", "amz", "feeds", "h2")
    assert take(engine, "h6", 1010.0) == 0.0
    assert take(engine, "h7", 1300.0) == 0.0  # h0 has left
    assert take(engine, "h8", 1300.5) > 0  # h1, h3, h4, h6, h7 are in


def test_other_quotas_and_connections_count_apart(engine):
    for i in range(5):
        take(engine, f"h{i}", 1000.0)
    with engine.begin() as c:
        assert store.take(c, "t", "amz", "other", "x", 5, 300.0, 1000.0) == 0.0
        assert store.take(c, "t", "amz-2", "feeds", "x", 5, 300.0, 1000.0) == 0.0
        assert store.take(c, "u", "amz", "feeds", "x", 5, 300.0, 1000.0) == 0.0


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_concurrent_processes_never_take_more_than_the_window_holds(engine):
    """Twelve writers at once for five slots (on SQLite the single writer serializes them)."""
    answers: list[float] = []
    start = threading.Barrier(12)

    def one(i: int) -> None:
        start.wait()
        answers.append(take(engine, f"h{i}", 1000.0))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers).count(0.0) == 5
