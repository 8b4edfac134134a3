"""Snapshots and adjustments merge by their stock ledger sequence, whatever order they arrive
in (`domain.stock_ledger`): nothing is lost, nothing is counted twice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from itertools import permutations

import pytest

from crossdock.domain.availability import Adjustment, Inbound, Position
from crossdock.domain.stock_ledger import Ledger, Verdict, adjust, combine, snapshot

A = Verdict.APPLIED
U = Verdict.UNSEQUENCED
RB = Verdict.REBASED
RS = Verdict.RESTARTED
INC = Verdict.INCLUDED
DUP = Verdict.DUPLICATE
SUP = Verdict.SUPERSEDED


def snap(on_hand: int, seq: int | None, source: str = "wms") -> tuple:
    return ("snapshot", on_hand, seq, source)


def adj(delta: int, seq: int | None, source: str = "wms") -> tuple:
    return ("adjusted", delta, seq, source)


def run(steps, held: Ledger | None = None, limit: int = 500) -> tuple[Ledger, list[Verdict]]:
    ledger, verdicts = held or Ledger(), []
    for kind, qty, seq, source in steps:
        if kind == "snapshot":
            merged = snapshot(ledger, Position("CD-1", "MAIN", D(qty)), seq, source)
        else:
            merged = adjust(ledger, Adjustment("CD-1", "MAIN", D(qty)), seq, source, limit)
        ledger = merged.ledger
        verdicts.append(merged.verdict)
    return ledger, verdicts


# The warehouse's ledger: 40 counted at entry 10, then #11 ships 3, #12 receives 24, #13 writes 2 off.
CASES = {
    "in order": ([snap(40, 10), adj(-3, 11), adj(24, 12)], 61, [A, A, A], 10, [11, 12]),
    "adjustments out of order among themselves": ([snap(40, 10), adj(24, 12), adj(-3, 11)], 61, [A, A, A], 10, [11, 12]),
    "duplicate adjustment": ([snap(40, 10), adj(-3, 11), adj(-3, 11)], 37, [A, A, DUP], 10, [11]),
    "adjustment the snapshot counts, arriving after it": ([snap(37, 11), adj(-3, 11)], 37, [A, INC], 11, []),
    "adjustment newer than the snapshot, arriving before it": ([adj(24, 12), snap(37, 11)], 61, [A, RB], 11, [12]),
    "snapshot older than applied adjustments": (
        [snap(40, 10), adj(-3, 11), adj(24, 12), adj(-2, 13), snap(37, 11)], 59, [A, A, A, A, RB], 11, [12, 13],
    ),
    "snapshot counting adjustments applied before it prunes them": (
        [adj(-3, 11), adj(24, 12), snap(61, 12)], 61, [A, A, A], 12, [],
    ),
    "older snapshot after a newer one": ([snap(61, 12), snap(40, 10)], 61, [A, SUP], 12, []),
    "the same snapshot twice": ([snap(61, 12), snap(61, 12)], 61, [A, SUP], 12, []),
    "redelivered adjustment pruned by a snapshot": ([adj(-3, 11), snap(37, 11), adj(-3, 11)], 37, [A, A, INC], 11, []),
    "no sequence: as before, a duplicate counts twice": ([snap(40, None), adj(-3, None), adj(-3, None)], 34, [U, U, U], None, []),
    "no sequence: a late snapshot wipes an adjustment": ([adj(24, None), snap(37, None)], 37, [U, U], None, []),
    "unsequenced reports leave the sequence alone": ([snap(40, 10), adj(5, None), adj(-3, 11)], 42, [A, U, A], 10, [11]),
    "another source's numbers start over": (
        [snap(40, 500), adj(5, 3, "erp"), adj(5, 3, "erp"), snap(40, 10, "erp")], 40, [A, RS, DUP, A], 10, [],
    ),
    "first sequenced report of a source on an unsequenced position": ([snap(40, None), adj(-3, 7)], 37, [U, A], None, [7]),
}  # fmt: skip


@pytest.mark.parametrize(
    ("steps", "on_hand", "verdicts", "sequence", "journal"), CASES.values(), ids=CASES.keys()
)
def test_merge_rules(steps, on_hand, verdicts, sequence, journal):
    ledger, seen = run(steps)
    assert ledger.position is not None and ledger.position.on_hand == on_hand
    assert seen == verdicts
    assert ledger.sequence == sequence
    assert [e.sequence for e in ledger.journal] == journal


def test_ignored_reports_change_nothing():
    held, _ = run([snap(40, 10), adj(-3, 11)])
    for step in (adj(-3, 11), adj(9, 10), snap(0, 10), snap(0, 9)):
        after, verdicts = run([step], held)
        assert verdicts[0].ignored and after == held


EVENTS = [adj(-3, 11), adj(24, 12), adj(-2, 13), snap(37, 11), adj(-1, 14)]
TRUTH = 37 + 24 - 2 - 1  # the snapshot counted #11; #12..#14 came after it


@pytest.mark.parametrize("order", list(permutations(range(len(EVENTS)))))
def test_any_delivery_order_with_redeliveries_ends_at_the_truth(order):
    deliveries = [EVENTS[i] for i in order] + [EVENTS[order[0]], EVENTS[order[-1]]]
    ledger, _ = run(deliveries, run([snap(40, 10)])[0])
    assert ledger.position is not None and ledger.position.on_hand == TRUTH


def test_a_long_journal_is_folded_into_the_sequence():
    ledger, verdicts = run([adj(1, 1), adj(1, 2), adj(1, 3)], limit=2)
    assert (ledger.sequence, [e.sequence for e in ledger.journal]) == (1, [2, 3])
    late, more = run([adj(1, 1), snap(0, 2)], ledger, limit=2)
    assert more == [INC, RB] and late.position.on_hand == 1  # the snapshot at #2, plus #3


def test_a_rebased_snapshot_keeps_the_newer_entries_inbound_list():
    arriving = (Inbound(D(12), date(2026, 12, 1)),)
    held = adjust(Ledger(), Adjustment("CD-1", "MAIN", D(0), inbound=arriving), 12, "wms").ledger
    merged = snapshot(held, Position("CD-1", "MAIN", D(5)), 11, "wms")
    assert merged.verdict is RB and merged.ledger.position.inbound == arriving


def test_entries_of_one_position_in_one_report_are_one_entry():
    first = Adjustment("B", "MAIN", D(-1), inbound=())
    assert combine([Adjustment("B", "MAIN", D(2)), Adjustment("A", "MAIN", D(1)), first]) == [
        Adjustment("A", "MAIN", D(1)),
        Adjustment("B", "MAIN", D(1), inbound=()),
    ]
