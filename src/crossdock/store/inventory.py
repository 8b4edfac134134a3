"""Available-to-promise data: the tenant's availability rules and its stock positions.
Order reservations are in `store.reservations`, channel availability in
`store.channel_availability`.

Handlers read these through `ctx.read` and write them as staged effects, so a change
commits with the message that caused it; a repeated message changes nothing twice
(idempotent consumer: the message's own key). Quantities are stored as decimal text.
Positions are per item × location; a snapshot sets them, an adjustment adds to them
under a row lock (PostgreSQL; SQLite has one writer anyway). A stock source that numbers
its ledger entries has them merged by sequence instead (`domain.stock_ledger`, the
journal in `store.stock_journal`), whatever order they arrive in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select, text, update

from crossdock.configuration.availability import AvailabilitySection
from crossdock.domain import stock_ledger
from crossdock.domain.availability import Adjustment, Position
from crossdock.domain.availability_rules import ChannelRule
from crossdock.domain.stock_ledger import Ledger, Note
from crossdock.records import NewMessage
from crossdock.store import bulk, stock_journal
from crossdock.store import messages as message_store
from crossdock.store.schedules import upsert_schedule
from crossdock.store.tables import (
    channel_availability,
    inventory_positions,
    tenant_rules,
)

RULES_NAME = "availability"  # the tenant_rules document holding the `availability:` section


def availability_section(conn: Connection, tenant_id: str) -> AvailabilitySection | None:
    """The tenant's `availability:` section (None: the tenant keeps no availability)."""
    key = (tenant_rules.c.tenant_id == tenant_id, tenant_rules.c.name == RULES_NAME)
    text = conn.execute(select(tenant_rules.c.value).where(*key)).scalar()
    return AvailabilitySection.model_validate_json(text) if text else None


RECOMPUTE_KIND = "inventory.recompute"  # flows.inventory.kinds.RECOMPUTE


def request_recompute(conn: Connection, tenant_id: str, now: float) -> None:
    """At `crossdock apply`, when the rules of what channels may list changed (the
    `availability` section, SKU mappings, pack sizes): every item is computed again, page by
    page, so a lower cap or a larger safety stock reaches the channels without waiting for
    each item's stock to change."""
    key = f"availability-rules:{now}"
    message_store.insert(conn, [NewMessage(tenant_id, RECOMPUTE_KIND, key, {}, correlation_id=key)], now)


DAY = 86_400.0
NEW_DAY_SCHEDULE = "availability:new-day"


def ensure_daily_recompute(conn: Connection, tenant: Any, now: float) -> None:
    """Where a channel counts inbound stock (`inbound_horizon_days`), availability moves with
    the date alone: an arrival enters the horizon, a late one stops counting. Every item is
    computed again a minute after each midnight (UTC), declared by `crossdock apply`;
    switched off while no channel counts inbound stock."""
    section = getattr(tenant, "availability", None)
    dated = section is not None and any(c.inbound_horizon_days is not None for c in section.channels.values())
    after_midnight = (now // DAY + 1) * DAY + 60
    upsert_schedule(conn, tenant.id, NEW_DAY_SCHEDULE, RECOMPUTE_KIND, DAY, {}, now=now,
                    first_run_at=after_midnight, enabled=dated)  # fmt: skip


def items_page(conn: Connection, tenant_id: str, after: str | None, limit: int) -> list[str]:
    """The tenant's items with a stock position or a channel value, in item order, after `after`."""
    p, a = inventory_positions.c, channel_availability.c
    held = select(p.item_code.label("item")).where(p.tenant_id == tenant_id)
    listed = select(a.item_code.label("item")).where(a.tenant_id == tenant_id)
    if after is not None:
        held, listed = held.where(p.item_code > after), listed.where(a.item_code > after)
    both = held.union(listed).subquery()
    return list(conn.execute(select(both.c.item).order_by(both.c.item).limit(limit)).scalars())


def availability_rules(conn: Connection, tenant_id: str) -> tuple[ChannelRule, ...]:
    """The tenant's channel rules (none when the tenant has no `availability:` section)."""
    section = availability_section(conn, tenant_id)
    return section.to_domain() if section is not None else ()


# --------------------------------------------------------------------------- positions

Key = stock_journal.Key
_POSITION_KEYS = ("tenant_id", "item_code", "location")
_VALUES = ("on_hand", "allocated", "unavailable", "inbound", "source", "updated_at")
_LEDGER = ("sequence", "sequence_source")


def position_from_row(r: Any) -> Position:
    return Position(
        r.item_code,
        r.location,
        Decimal(r.on_hand),
        Decimal(r.allocated),
        Decimal(r.unavailable),
        stock_journal.inbound_of(r.inbound),
    )


def read_positions(conn: Connection, tenant_id: str, items: Collection[str]) -> list[Position]:
    t = inventory_positions.c
    rows = conn.execute(
        select(t.item_code, t.location, t.on_hand, t.allocated, t.unavailable, t.inbound)
        .where(t.tenant_id == tenant_id, t.item_code.in_(sorted(items)))
        .order_by(t.item_code, t.location)
    )
    # Tuples, not `position_from_row(row)`: a stock burst reads 100,000 of these.
    return [
        Position(item, location, Decimal(on_hand), Decimal(allocated), Decimal(unavailable),
                 () if inbound == "[]" else stock_journal.inbound_of(inbound))
        for item, location, on_hand, allocated, unavailable, inbound in rows
    ]  # fmt: skip


def _values(p: Position, source: str | None, now: float, ledger: Ledger | None = None) -> dict[str, Any]:
    values = {
        "on_hand": str(p.on_hand),
        "allocated": str(p.allocated),
        "unavailable": str(p.unavailable),
        "inbound": stock_journal.inbound_text(p.inbound),
        "source": source,
        "updated_at": now,
    }
    if ledger is not None:
        values |= {"sequence": ledger.sequence, "sequence_source": ledger.source}
    return values


def _write_position(
    conn: Connection,
    tenant_id: str,
    p: Position,
    source: str | None,
    now: float,
    *,
    exists: bool,
    ledger: Ledger | None,
) -> None:
    """Update (or insert) one position; with `ledger`, its sequence too."""
    t = inventory_positions
    values = _values(p, source, now, ledger)
    key = (t.c.tenant_id == tenant_id, t.c.item_code == p.item, t.c.location == p.location)
    if exists and conn.execute(update(t).where(*key).values(**values)).rowcount:
        return
    conn.execute(insert(t).values(tenant_id=tenant_id, item_code=p.item, location=p.location, **values))


def _upsert_positions(conn: Connection, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    """Insert these position rows or update their `columns`, 500 a statement."""
    if not rows:
        return
    names = _POSITION_KEYS + columns
    bulk.upsert(conn, inventory_positions, names, [tuple(r[c] for c in names) for r in rows],
                keys=_POSITION_KEYS, updates=columns)  # fmt: skip


def _ledgers(conn: Connection, tenant_id: str, keys: list[Key], *, journal: bool = True) -> dict[Key, Ledger]:
    """Each position's ledger (`domain.stock_ledger`; never reported: an empty one), its row
    locked on PostgreSQL in (item, location) order, as `reserve_order` locks them.

    A position that has no row yet has nothing to lock: two transactions would both merge
    into an empty ledger and the later write would overwrite the other's (an older snapshot
    winning, an adjustment lost). On PostgreSQL such positions are locked by key instead
    (transaction advisory locks, in key order) and read again: whoever created the row
    meanwhile has committed it by the time the lock is granted."""
    rows = _position_rows(conn, tenant_id, keys)
    if conn.dialect.name == "postgresql" and (missing := sorted(set(keys) - set(rows))):
        _lock_keys(conn, tenant_id, missing)
        rows |= _position_rows(conn, tenant_id, missing)
    journals = stock_journal.read_journals(conn, tenant_id, list(rows)) if journal and rows else {}
    ledgers = {}
    for k in keys:
        r = rows.get(k)
        ledgers[k] = (
            Ledger()
            if r is None
            else Ledger(position_from_row(r), r.sequence_source, r.sequence, journals.get(k, ()))
        )
    return ledgers


def _position_rows(conn: Connection, tenant_id: str, keys: list[Key]) -> dict[Key, Any]:
    """The rows of these positions that exist, locked (PostgreSQL) in (item, location) order."""
    t = inventory_positions
    q = (
        select(t)
        .where(
            t.c.tenant_id == tenant_id,
            t.c.item_code.in_(sorted({item for item, _ in keys})),
            t.c.location.in_(sorted({location for _, location in keys})),
        )
        .order_by(t.c.item_code, t.c.location)
    )
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    wanted = set(keys)
    return {k: r for r in conn.execute(q) if (k := (r.item_code, r.location)) in wanted}


_KEY_LOCKS = text(
    "SELECT count(pg_advisory_xact_lock(h)) FROM "
    "(SELECT hashtextextended(k, 0) AS h FROM unnest(CAST(:keys AS text[])) AS k ORDER BY 1) AS ordered"
)


def _lock_keys(conn: Connection, tenant_id: str, keys: list[Key]) -> None:
    """Transaction-scoped advisory locks on these positions' keys (PostgreSQL), in order."""
    conn.execute(
        _KEY_LOCKS, {"keys": [f"stock\x1f{tenant_id}\x1f{item}\x1f{location}" for item, location in keys]}
    )


def apply_snapshot(
    conn: Connection,
    tenant_id: str,
    positions: Iterable[Position],
    source: str | None,
    now: float,
    *,
    sequence: int | None = None,
) -> list[Note]:
    """Set each position to the reported absolute values (a position reported twice takes
    its last values; one upsert per 500 positions).

    With `sequence` (the last stock ledger entry the snapshot includes), each position is
    merged with what it holds instead (`domain.stock_ledger`): a snapshot older than the
    position's is ignored, one older than adjustments it took keeps them. Returns what
    became of each position then (none without a sequence)."""
    latest = {(p.item, p.location): p for p in positions}
    keys = sorted(latest)
    if sequence is None:
        # Straight to driver tuples (`_POSITION_KEYS + _VALUES`): a burst sets 100,000 positions.
        tuples = [
            (tenant_id, p.item, p.location, str(p.on_hand), str(p.allocated), str(p.unavailable),
             stock_journal.inbound_text(p.inbound), source, now)
            for p in (latest[k] for k in keys)
        ]  # fmt: skip
        bulk.upsert(conn, inventory_positions, _POSITION_KEYS + _VALUES, tuples, keys=_POSITION_KEYS,
                    updates=_VALUES)  # fmt: skip
        return []
    notes: list[Note] = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        held = _ledgers(conn, tenant_id, chunk)
        rows = []
        for k in chunk:
            merged = stock_ledger.snapshot(held[k], latest[k], sequence, source)
            notes.append(Note(*k, sequence, merged.verdict, held[k].sequence))
            if not merged.verdict.ignored and merged.ledger.position is not None:
                rows.append(_row(tenant_id, merged.ledger.position, source, now, merged.ledger))
                stock_journal.save_journal(conn, tenant_id, held[k], merged.ledger, now)
        _upsert_positions(conn, rows, _VALUES + _LEDGER)
    return notes


def _row(tenant_id: str, p: Position, source: str | None, now: float, ledger: Ledger | None = None) -> dict:
    return {
        "tenant_id": tenant_id,
        "item_code": p.item,
        "location": p.location,
        **_values(p, source, now, ledger),
    }


def apply_adjustments(
    conn: Connection,
    tenant_id: str,
    adjustments: Iterable[Adjustment],
    source: str | None,
    now: float,
    *,
    sequence: int | None = None,
) -> list[Note]:
    """Add each adjustment's deltas to its position (a missing position starts at 0), one
    position at a time in (item, location) order, under its row lock (PostgreSQL).

    With `sequence` (the stock ledger entry these adjustments are), each is merged with
    what its position holds (`domain.stock_ledger`): an entry the position includes
    already is ignored. Returns what became of each adjustment then (none without)."""
    notes: list[Note] = []
    for adj in stock_ledger.combine(adjustments):
        k = (adj.item, adj.location)
        held = _ledgers(conn, tenant_id, [k], journal=sequence is not None)[k]
        merged = stock_ledger.adjust(held, adj, sequence, source)
        position = merged.ledger.position
        if sequence is not None:
            notes.append(Note(*k, sequence, merged.verdict, held.sequence))
        if merged.verdict.ignored or position is None:
            continue
        ledger = None if sequence is None else merged.ledger
        _write_position(
            conn, tenant_id, position, source, now, exists=held.position is not None, ledger=ledger
        )
        stock_journal.save_journal(conn, tenant_id, held, merged.ledger, now)
    return notes
