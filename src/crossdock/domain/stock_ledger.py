"""Stock ledger sequences: snapshots and adjustments merged whatever order they arrive in.

A stock source may number its ledger entries, per source and location (Business Central's
item ledger entry numbers, a WMS's transaction log): each adjustment carries the sequence
of its entry, a snapshot the sequence of the last entry it includes. The hub keeps, per
position, the sequence through which it includes every entry and a journal of the entries
it applied beyond it, and merges a report into them:

- an adjustment at or below the position's sequence is *included* (a newer snapshot
  counted it), one in the journal a *duplicate* (applied already): both are ignored;
- a snapshot at or below the position's sequence is *superseded*: ignored;
- a newer snapshot sets the position and becomes its sequence; the journaled entries
  newer than it (applied before it arrived, not counted in it) are added back on top —
  the snapshot is *rebased* — and the journal keeps only those;
- a journal longer than `JOURNAL_LIMIT` is folded: its oldest entries become the
  position's sequence, so an entry arriving that many entries of its position late is
  taken as included.

Sequences count per source: the position's sequence and journal belong to the source that
numbered them, and a sequenced report of another source starts them over (*restarted*).
A report without a sequence is taken as before (a snapshot sets, an adjustment adds) and
neither reads nor changes the sequence and the journal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from crossdock.domain.availability import Adjustment, Position

JOURNAL_LIMIT = 500  # journaled entries kept per position beyond its sequence


class Verdict(StrEnum):
    """What became of one reported position or adjustment."""

    APPLIED = "applied"  # taken as reported, in order
    UNSEQUENCED = "unsequenced"  # no sequence: taken as reported, sequence and journal untouched
    REBASED = "rebased"  # a snapshot older than applied adjustments: the snapshot plus those
    RESTARTED = "restarted"  # the first sequenced report of another source: taken, its ledger starts
    INCLUDED = "included"  # an adjustment the position's snapshot already counts: ignored
    DUPLICATE = "duplicate"  # an adjustment the position took already: ignored
    SUPERSEDED = "superseded"  # a snapshot no newer than what the position includes: ignored

    @property
    def ignored(self) -> bool:
        return self in (Verdict.INCLUDED, Verdict.DUPLICATE, Verdict.SUPERSEDED)


@dataclass(frozen=True, slots=True)
class Entry:
    """An adjustment a position took, under its ledger sequence."""

    sequence: int
    adjustment: Adjustment


@dataclass(frozen=True, slots=True)
class Ledger:
    """One position as the hub holds it: its values (None: never reported), the source whose
    ledger `sequence` and `journal` count in, the sequence through which every entry is
    included (None: none known), and the entries applied beyond it, oldest first."""

    position: Position | None = None
    source: str | None = None
    sequence: int | None = None
    journal: tuple[Entry, ...] = ()

    def holds(self, sequence: int) -> Verdict | None:
        """Why an adjustment of `sequence` is in this position already (None: it is not)."""
        if self.sequence is not None and sequence <= self.sequence:
            return Verdict.INCLUDED
        if any(e.sequence == sequence for e in self.journal):
            return Verdict.DUPLICATE
        return None


@dataclass(frozen=True, slots=True)
class Merged:
    ledger: Ledger
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class Note:
    """What became of one sequenced entry of a report, and the position's sequence before."""

    item: str
    location: str
    sequence: int
    verdict: Verdict
    held: int | None = None


def combine(adjustments: Iterable[Adjustment]) -> list[Adjustment]:
    """One adjustment per position, in (item, location) order: what one ledger entry says
    of it (the deltas summed, the last inbound list reported)."""
    combined: dict[tuple[str, str], Adjustment] = {}
    for a in adjustments:
        was = combined.get((a.item, a.location))
        if was is not None:
            a = Adjustment(
                a.item,
                a.location,
                was.on_hand + a.on_hand,
                was.allocated + a.allocated,
                was.unavailable + a.unavailable,
                was.inbound if a.inbound is None else a.inbound,
            )
        combined[(a.item, a.location)] = a
    return [combined[k] for k in sorted(combined)]


def adjust(
    held: Ledger, adjustment: Adjustment, sequence: int | None, source: str | None, limit: int = JOURNAL_LIMIT
) -> Merged:
    """Merge one adjustment (signed deltas) into the position."""
    if sequence is None:
        return Merged(_with(held, adjustment.applied_to(held.position)), Verdict.UNSEQUENCED)
    own, restarted = _owned(held, source)
    if (included := own.holds(sequence)) is not None:
        return Merged(held, included)
    journal = tuple(sorted((*own.journal, Entry(sequence, adjustment)), key=lambda e: e.sequence))
    floor = own.sequence
    if len(journal) > limit:
        floor, journal = journal[-limit - 1].sequence, journal[-limit:]
    ledger = Ledger(adjustment.applied_to(own.position), source, floor, journal)
    return Merged(ledger, Verdict.RESTARTED if restarted else Verdict.APPLIED)


def snapshot(held: Ledger, position: Position, sequence: int | None, source: str | None) -> Merged:
    """Merge one snapshot (absolute values, including every entry up to `sequence`)."""
    if sequence is None:
        return Merged(_with(held, position), Verdict.UNSEQUENCED)
    own, restarted = _owned(held, source)
    if own.sequence is not None and sequence <= own.sequence:
        return Merged(held, Verdict.SUPERSEDED)
    newer = tuple(e for e in own.journal if e.sequence > sequence)
    current = position
    for entry in newer:
        current = entry.adjustment.applied_to(current)
    verdict = Verdict.RESTARTED if restarted else Verdict.REBASED if newer else Verdict.APPLIED
    return Merged(Ledger(current, source, sequence, newer), verdict)


def _with(held: Ledger, position: Position) -> Ledger:
    return Ledger(position, held.source, held.sequence, held.journal)


def _owned(held: Ledger, source: str | None) -> tuple[Ledger, bool]:
    """The position's ledger as `source` counts it: another source's sequence and journal
    mean nothing to it (True: there were some, the ledger starts over)."""
    if held.source == source:
        return held, False
    return Ledger(held.position, source), held.sequence is not None or bool(held.journal)
