"""The stock journal (`inventory_journal`, migration 0010): the sequenced adjustments each
position took beyond its sequence (`domain.stock_ledger`). It is read with the positions
it belongs to, under their row locks, and written as the difference the merge made: a new
entry added, entries a newer snapshot counts (or another source's) deleted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select

from crossdock.domain.availability import Adjustment, Inbound
from crossdock.domain.stock_ledger import Entry, Ledger
from crossdock.store.tables import inventory_journal

Key = tuple[str, str]  # item code, location
CHUNK = 500  # positions per statement


def inbound_text(inbound: Iterable[Inbound]) -> str:
    if inbound == ():
        return "[]"  # most positions expect nothing: a burst writes 100,000 of these
    return orjson.dumps(
        [{"quantity": str(i.quantity), "expected": i.expected.isoformat()} for i in inbound]
    ).decode()


def inbound_of(text: str) -> tuple[Inbound, ...]:
    return tuple(
        Inbound(Decimal(i["quantity"]), date.fromisoformat(i["expected"])) for i in orjson.loads(text)
    )


def read_journals(conn: Connection, tenant_id: str, keys: Sequence[Key]) -> dict[Key, tuple[Entry, ...]]:
    """The journal of each of these positions, oldest entry first (none: absent)."""
    j = inventory_journal
    wanted = set(keys)
    found: dict[Key, list[Entry]] = {}
    ordered = sorted(wanted)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        q = select(j).where(
            j.c.tenant_id == tenant_id,
            j.c.item_code.in_(sorted({item for item, _ in chunk})),
            j.c.location.in_(sorted({location for _, location in chunk})),
        )
        for r in conn.execute(q.order_by(j.c.item_code, j.c.location, j.c.sequence)):
            if (r.item_code, r.location) in wanted:
                found.setdefault((r.item_code, r.location), []).append(_entry(r))
    return {k: tuple(v) for k, v in found.items()}


def save_journal(conn: Connection, tenant_id: str, held: Ledger, merged: Ledger, now: float) -> None:
    """Write what the merge changed in one position's journal (`held`: as read)."""
    if merged.position is None or not (held.journal or merged.journal):
        return
    j = inventory_journal
    item, location = merged.position.item, merged.position.location
    stored = {e.sequence for e in held.journal}
    # Another source's entries are another ledger's, even where the numbers meet.
    kept = stored & {e.sequence for e in merged.journal} if held.source == merged.source else set()
    if stored - kept:
        key = (j.c.tenant_id == tenant_id, j.c.item_code == item, j.c.location == location)
        conn.execute(delete(j).where(*key, j.c.sequence.in_(sorted(stored - kept))))
    added = [e for e in merged.journal if e.sequence not in kept]
    if added:
        conn.execute(insert(j), [_row(tenant_id, e, now) for e in added])


def _row(tenant_id: str, e: Entry, now: float) -> dict:
    a = e.adjustment
    return {
        "tenant_id": tenant_id,
        "item_code": a.item,
        "location": a.location,
        "sequence": e.sequence,
        "on_hand": str(a.on_hand),
        "allocated": str(a.allocated),
        "unavailable": str(a.unavailable),
        "inbound": None if a.inbound is None else inbound_text(a.inbound),
        "applied_at": now,
    }


def _entry(r: Any) -> Entry:
    inbound = None if r.inbound is None else inbound_of(r.inbound)
    adjustment = Adjustment(
        r.item_code, r.location, Decimal(r.on_hand), Decimal(r.allocated), Decimal(r.unavailable), inbound
    )
    return Entry(r.sequence, adjustment)
