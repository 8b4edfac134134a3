"""The outbox and listings writes a flush makes, against the real databases: a channel
that answers at once is marked sent and confirmed in one statement, an older confirmation
never replaces a newer one, and a flush's later batch skips the items its earlier ones took."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crossdock.store import publishing as store
from crossdock.store.db import make_engine
from crossdock.store.publishing import Sent

T, C = "t", "shop"


@pytest.fixture
def engine(db_url):
    e = make_engine(db_url)
    yield e
    e.dispose()


def _listings(engine, items):
    with engine.begin() as c:
        return store.read_listings(c, T, C, items)


def _queue(engine, *values):
    with engine.begin() as c:
        store.queue_rows(c, T, C, list(values), 100.0)


def test_an_accepted_value_is_sent_and_confirmed_but_never_over_a_newer_confirmation(engine):
    with engine.begin() as c:
        store.mark_confirmed(c, T, C, [Sent("B", Decimal(9), 50)], 90.0)
        store.mark_accepted(c, T, C, [Sent("A", Decimal(5), 40), Sent("B", Decimal(7), 40)], 100.0)
    a, b = (_listings(engine, ["A", "B"])[i] for i in "AB")
    assert (a.sent, a.sent_seq, a.confirmed, a.confirmed_seq, a.confirmed_at) == (5, 40, 5, 40, 100.0)
    assert (b.sent, b.sent_seq) == (7, 40)  # what was handed over is recorded …
    assert (b.confirmed, b.confirmed_seq, b.confirmed_at) == (9, 50, 90.0)  # … the newer confirmation stays
    with engine.begin() as c:
        store.mark_accepted(c, T, C, [Sent("B", Decimal(3), 60)], 110.0)
    b = _listings(engine, ["B"])["B"]
    assert (b.sent, b.confirmed, b.confirmed_seq, b.will_show) == (3, 3, 60, 3)


def test_accepted_values_leave_the_queue_unless_replaced_since(engine):
    _queue(engine, ("A", "5", "decrease", 2, 40), ("B", "7", "decrease", 2, 40))
    _queue(engine, ("B", "6", "decrease", 2, 41))
    with engine.begin() as c:
        store.mark_accepted(c, T, C, [Sent("A", Decimal(5), 40), Sent("B", Decimal(7), 40)], 100.0)
        assert [(v.item, v.seq) for v in store.pick(c, T, C, 10)] == [("B", 41)]


def test_a_pick_skips_the_items_taken_earlier_in_the_flush(engine):
    _queue(engine, ("A", "0", "to_zero", 0, 40), ("B", "7", "decrease", 2, 40), ("C", "9", "increase", 3, 40))
    with engine.begin() as c:
        assert [v.item for v in store.pick(c, T, C, 2, skip={"A"})] == ["B", "C"]
        burst = store.pick_in_burst(c, T, C, 2, quiet=200.0, linger=0.0, urgent=1, skip={"B"})
        assert [v.item for v in burst] == ["A", "C"]
        waiting = store.pick_in_burst(c, T, C, 5, quiet=0.0, linger=0.0, urgent=1, skip={"A"})
        assert waiting == []  # nothing urgent or lingering is left once A is taken


def test_a_feed_reported_after_a_newer_value_was_accepted_at_once_is_overtaken(engine):
    """A (feed, seq 40) was sent at 100; a newer value was accepted at once (a patch, seq 50)
    before the feed's report came back: the feed may have been applied last. B's newer value
    went in a later feed, which the channel applies after the older one: not overtaken. C's
    newer value is still in flight: that feed settles it."""
    feed = [Sent("A", Decimal(2), 40), Sent("B", Decimal(2), 40), Sent("C", Decimal(2), 40)]
    with engine.begin() as c:
        store.mark_sent(c, T, C, feed, 100.0)
        store.mark_accepted(c, T, C, [Sent("A", Decimal(0), 50)], 101.0)  # patched at once
        store.mark_sent(c, T, C, [Sent("B", Decimal(1), 50), Sent("C", Decimal(1), 50)], 102.0)  # a later feed
        store.mark_confirmed(c, T, C, [Sent("B", Decimal(1), 50)], 130.0)  # its report read first
        store.mark_confirmed(c, T, C, feed, 160.0)  # the older feed's report
        found = store.overtaken(c, T, C, feed)
    assert [(older.item, listing.confirmed, listing.confirmed_seq) for older, listing in found] == [("A", 0, 50)]
