"""Concurrent writers on PostgreSQL (SQLite has one writer, so these interleavings cannot
happen there): a value queued while the connection's flush finishes is never stranded; two
stock reports of a position that does not exist yet merge one after the other."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, event, select, update

from crossdock.domain.availability import Adjustment, Position
from crossdock.store import inventory as stock
from crossdock.store import publishing as pub
from crossdock.store import reservations
from crossdock.store.publishing import QueuedValue
from crossdock.store.tables import (
    inventory_journal,
    inventory_positions,
    messages,
    publish_channels,
    publish_queue,
)

T, C = "acme", "shop"


@pytest.fixture
def pg(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("two concurrent writers: PostgreSQL only")
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    yield engine
    engine.dispose()


def test_a_value_queued_while_the_flush_finishes_gets_a_flush(pg):
    with pg.begin() as c:  # a flush of generation 1 is scheduled and now running
        assert pub.request_flush(c, T, C, 1.0)
        c.execute(update(messages).values(status="running"))
    handler_queued, flush_cleared = threading.Event(), threading.Event()
    answer: list[bool] = []

    def handler() -> None:  # inventory.changed: queue a value, make sure a flush is scheduled
        conn = pg.connect()

        @event.listens_for(conn, "before_cursor_execute")
        def pause(conn_, cursor, statement, params, context, executemany):
            if "publish_channels" in statement and not handler_queued.is_set():
                handler_queued.set()  # the value is queued, not committed; now the flush ends
                flush_cleared.wait(5)

        with conn.begin():
            pub.queue_values(conn, T, C, [QueuedValue("X", Decimal(0), "to_zero", 0, 10)], 2.0)
            answer.append(pub.request_flush(conn, T, C, 2.0))
        conn.close()

    worker = threading.Thread(target=handler)
    worker.start()
    assert handler_queued.wait(5)
    with pg.connect() as f, f.begin():  # the flush's outcome: done, flag cleared, nothing left it can see
        f.execute(update(messages).values(status="done"))
        pub.finish_flush(f, T, C, 2.0, 0.0)
        flush_cleared.set()
        time.sleep(0.3)  # the handler waits for this transaction's row lock
    worker.join(10)
    with pg.connect() as c:
        due = c.execute(select(publish_channels.c.flush_due)).scalar_one()
        queued = c.execute(select(publish_queue.c.item_code)).scalars().all()
        ready = c.execute(select(messages.c.id).where(messages.c.status == "ready")).scalars().all()
    assert queued == ["X"]
    assert answer == [True] and due and len(ready) == 1, f"stranded: {answer=} {due=} {ready=}"


# -- stock reports of a new position -------------------------------------------------------------


def race(engine, first, second) -> list[Exception]:
    """`first` writes and keeps its transaction open while `second` runs; then both commit."""
    c1 = engine.connect()
    t1 = c1.begin()
    first(c1)
    errors: list[Exception] = []

    def run() -> None:
        try:
            with engine.begin() as c2:
                second(c2)
        except Exception as exc:  # reported by the test
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.5)  # `second` now waits for `first`
    t1.commit()
    c1.close()
    worker.join(10)
    return errors


def position(engine) -> tuple[Decimal, int, list[int]]:
    with engine.connect() as c:
        p = c.execute(select(inventory_positions.c.on_hand, inventory_positions.c.sequence)).one()
        journal = c.execute(select(inventory_journal.c.sequence)).scalars().all()
    return Decimal(p.on_hand), p.sequence, journal


def test_an_older_snapshot_of_a_new_position_does_not_win(pg):
    newer = lambda c: stock.apply_snapshot(c, T, [Position("X", "W", Decimal(3))], "wms", 1.0, sequence=12)  # noqa: E731
    older = lambda c: stock.apply_snapshot(c, T, [Position("X", "W", Decimal(5))], "wms", 2.0, sequence=10)  # noqa: E731
    assert race(pg, newer, older) == []
    assert position(pg)[:2] == (Decimal(3), 12)


def test_a_snapshot_of_a_new_position_keeps_a_concurrent_later_adjustment(pg):
    add = lambda c: stock.apply_adjustments(c, T, [Adjustment("X", "W", Decimal(4))], "wms", 1.0, sequence=11)  # noqa: E731
    snap = lambda c: stock.apply_snapshot(c, T, [Position("X", "W", Decimal(5))], "wms", 2.0, sequence=10)  # noqa: E731
    assert race(pg, add, snap) == []
    assert position(pg) == (Decimal(9), 10, [11])  # #10 counted 5, #11 added 4 and stays journaled


def allocate(location: str, units: int, sequence: int):
    """What `flows.inventory.stock.adjusted` stages for an allocation entry naming the order."""

    def apply(c):
        stock.apply_adjustments(c, T, [Adjustment("A", location, allocated=Decimal(units))], "wms", 2.0,
                                sequence=sequence)  # fmt: skip
        reservations.settle_from_stock(c, T, "shopify:1", [reservations.HoldEntry("A", location, sequence, Decimal(units))], "wms", 2.0)

    return apply


def test_two_warehouses_allocating_one_order_at_once_convert_all_of_its_hold(pg):
    """Two stock lanes moving one order's hold: read and written back without a lock, the
    second overwrote the first (found in review): 6 units counted twice."""
    with pg.begin() as c:
        stock.apply_snapshot(c, T, [Position("A", "MAIN", Decimal(20)), Position("A", "EAST", Decimal(20))], "wms", 1.0)
        reservations.reserve_order(c, T, "shopify:1", [("A", Decimal(10))], 1.0, within_stock=True)
    assert race(pg, allocate("MAIN", 6, 7), allocate("EAST", 4, 3)) == []
    with pg.connect() as c:
        (hold,) = reservations.read_reservations(c, T, "shopify:1")
        positions = stock.read_positions(c, T, ["A"])
        reserved = reservations.reserved_totals(c, T, ["A"]).get("A", Decimal(0))
    assert (hold.quantity, hold.converted, hold.held) == (10, 10, 0)
    assert sum(p.on_hand - p.allocated for p in positions) - reserved == 30  # 40 on hand, 10 allocated


def test_an_order_edited_while_a_stock_entry_names_it_does_not_deadlock(pg):
    """reserve_order took the order's rows, then the positions; a stock report naming the order
    takes its positions, then the order's rows (found in review: DeadlockDetected)."""
    with pg.begin() as c:
        stock.apply_snapshot(c, T, [Position("A", "MAIN", Decimal(20))], "wms", 1.0)
        reservations.reserve_order(c, T, "shopify:1", [("A", Decimal(5))], 1.0, within_stock=True)

    def allocation(c):
        stock.apply_adjustments(c, T, [Adjustment("A", "MAIN", allocated=Decimal(5))], "wms", 2.0, sequence=7)
        time.sleep(0.5)  # the edit starts meanwhile
        reservations.settle_from_stock(c, T, "shopify:1", [reservations.HoldEntry("A", "MAIN", 7, Decimal(5))], "wms", 2.0)

    def edit(c):
        reservations.reserve_order(c, T, "shopify:1", [("A", Decimal(6))], 2.0, within_stock=True)

    errors: list[Exception] = []

    def run(step) -> None:
        try:
            with pg.begin() as c:
                step(c)
        except Exception as exc:  # reported by the test
            errors.append(exc)

    first = threading.Thread(target=run, args=(allocation,))
    first.start()
    time.sleep(0.2)
    run(edit)
    first.join(10)
    assert errors == []
    with pg.connect() as c:
        (hold,) = reservations.read_reservations(c, T, "shopify:1")
    assert (hold.quantity, hold.converted, hold.held) == (6, 5, 1)
