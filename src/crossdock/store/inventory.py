"""Available-to-promise data: stock positions, order reservations, channel availability.

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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, insert, select, text, update

from crossdock.configuration.availability import AvailabilitySection
from crossdock.domain import stock_ledger
from crossdock.domain.availability import (
    Adjustment,
    Availability,
    Position,
    Reservation,
    ReservationState,
    follow_source,
    reserve,
    shortfalls,
)
from crossdock.domain.availability_rules import ZERO, ChannelRule, ChannelState
from crossdock.domain.stock_ledger import Ledger, Note
from crossdock.errors import PermanentError
from crossdock.records import NewMessage
from crossdock.store import bulk, stock_journal
from crossdock.store import messages as message_store
from crossdock.store.db import insert_into
from crossdock.store.publishing import will_show
from crossdock.store.schedules import upsert_schedule
from crossdock.store.tables import (
    channel_availability,
    channel_listings,
    inventory_positions,
    inventory_reservations,
    reservation_shipments,
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


def _position(r: Any) -> Position:
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
    # Tuples, not `_position(row)`: a stock burst reads 100,000 of these.
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
            else Ledger(_position(r), r.sequence_source, r.sequence, journals.get(k, ()))
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
    conn.execute(_KEY_LOCKS, {"keys": [f"stock\x1f{tenant_id}\x1f{item}\x1f{location}" for item, location in keys]})


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


# --------------------------------------------------------------------------- reservations


def read_reservations(conn: Connection, tenant_id: str, order_ref: str, *, lock: bool = False) -> list[Reservation]:
    """The order's rows; `lock`: for update (PostgreSQL), so two writers of one order's hold
    (two warehouses' stock lanes, the order's own steps) run one after the other."""
    t = inventory_reservations
    q = select(t).where(t.c.tenant_id == tenant_id, t.c.order_ref == order_ref).order_by(t.c.item_code)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return [_reservation(r) for r in conn.execute(q)]


def _reservation(r: Any) -> Reservation:
    return Reservation(r.order_ref, r.item_code, Decimal(r.quantity), ReservationState(r.state), Decimal(r.converted))


def save_reservations(conn: Connection, tenant_id: str, rows: Iterable[Reservation], now: float) -> None:
    """Write these reservation rows; a hold that ends (released, consumed) takes
    its record of stock entries with it (`settle_from_stock`): nothing is left to end twice."""
    t = inventory_reservations
    ended: dict[str, list[str]] = {}
    for r in rows:
        key = (t.c.tenant_id == tenant_id, t.c.order_ref == r.order_ref, t.c.item_code == r.item)
        values = {"quantity": str(r.quantity), "converted": str(r.converted), "state": r.state.value, "updated_at": now}
        if conn.execute(update(t).where(*key).values(**values)).rowcount == 0:
            conn.execute(
                insert(t).values(tenant_id=tenant_id, order_ref=r.order_ref, item_code=r.item, **values)
            )
        if r.state is not ReservationState.RESERVED:
            ended.setdefault(r.order_ref, []).append(r.item)
    s = reservation_shipments.c
    for order_ref, items in ended.items():
        conn.execute(
            delete(reservation_shipments).where(s.tenant_id == tenant_id, s.order_ref == order_ref, s.item_code.in_(items))
        )


def reserve_order(
    conn: Connection,
    tenant_id: str,
    order_ref: str,
    lines: Iterable[tuple[str, Decimal]],
    now: float,
    *,
    within_stock: bool,
) -> list[str]:
    """Make the order hold exactly `lines`; returns the items whose reservation changed.

    With `within_stock`, an order may only hold what is free: on hand − allocated −
    unavailable over all locations, less what other orders hold. The item's positions are
    locked first (PostgreSQL), so two orders reserving the last unit run one after the
    other and the second sees the first's reservation; SQLite has one writer anyway.
    An order that does not fit raises `business.insufficient_stock` and holds nothing new."""
    lines = list(lines)
    positions: list[Position] = []
    if within_stock and lines:
        # Positions before the order's rows, the order a stock report naming the order takes
        # them in too (its positions, then `settle_from_stock`): no deadlock between the two.
        t = inventory_positions
        q = (
            select(t)
            .where(t.c.tenant_id == tenant_id, t.c.item_code.in_(sorted({item for item, _ in lines})))
            .order_by(t.c.item_code, t.c.location)
        )
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        positions = [_position(r) for r in conn.execute(q)]
    rows = reserve(read_reservations(conn, tenant_id, order_ref, lock=True), order_ref, lines)
    growing = {r.item: r.held for r in rows if r.held > ZERO}
    if within_stock and growing:
        others = _reserved_by_others(conn, tenant_id, order_ref, growing)
        short = shortfalls(growing, positions, others)
        if short:
            detail = "; ".join(f"{s.item}: wants {s.wanted}, {max(s.free, ZERO)} free" for s in short)
            raise PermanentError(
                "business.insufficient_stock",
                f"order {order_ref} cannot be reserved: {detail}",
                "Stock ran out before this order was accepted (the channel sold beyond what "
                "Crossdock had published). Retry when stock arrives, or cancel the order on the "
                "channel and resolve this exception.",
                context={
                    "items": [{"item": s.item, "wanted": str(s.wanted), "free": str(s.free)} for s in short]
                },
            )
    save_reservations(conn, tenant_id, rows, now)
    return [r.item for r in rows]


@dataclass(frozen=True, slots=True)
class HoldEntry:
    """What one stock ledger entry naming an order says about the order's units of an item at
    `location` (`sequence` None: a report its source does not number): `allocated`, the signed
    change of what the source allocates to the order; `on_hand`, the signed change of on hand
    (a shipment takes the order's units off)."""

    item: str
    location: str
    sequence: int | None
    allocated: Decimal = ZERO
    on_hand: Decimal = ZERO  # signed: below 0, the order's units left on hand


ORDER_REF_WIDTH = inventory_reservations.c.order_ref.type.length  # longer: no order of the hub


def settle_from_stock(
    conn: Connection, tenant_id: str, order_ref: str, entries: Iterable[HoldEntry], source: str | None, now: float
) -> None:
    """The order's hold follows its stock source (`domain.availability.follow_source`), each
    sequenced entry at most once: it is recorded (`reservation_shipments`) as it moves the
    hold, and an entry recorded already (delivered again, under another webhook id or after a
    snapshot counted it) moves nothing. Lines of one entry for one position count together.
    Entries about items the order never held are ignored (and not recorded). The order's
    rows are locked first, and the records of an item go once the order's hold on it ends
    (`save_reservations`)."""
    if len(order_ref) > ORDER_REF_WIDTH:
        return
    combined: dict[tuple[str, str, int | None], list[Decimal]] = {}
    for e in entries:
        total = combined.setdefault((e.item, e.location, e.sequence), [ZERO, ZERO])
        total[0] += e.allocated
        total[1] += e.on_hand
    combined = {k: v for k, v in combined.items() if v[0] or v[1] < ZERO}
    if not combined:
        return
    held = read_reservations(conn, tenant_id, order_ref, lock=True)
    known = {r.item for r in held}
    t = reservation_shipments
    moves: dict[str, tuple[Decimal, Decimal]] = {}
    for (item, location, sequence), (allocated, on_hand) in combined.items():
        if item not in known:
            continue
        left = max(-on_hand, ZERO)
        if sequence is not None:
            row = {"tenant_id": tenant_id, "order_ref": order_ref, "item_code": item, "source": source or "",
                   "location": location, "sequence": sequence, "applied_at": now}  # fmt: skip
            stmt = insert_into(conn, t).values(**row).on_conflict_do_nothing()
            if conn.execute(stmt.returning(t.c.sequence)).first() is None:
                continue  # this entry moved the hold already
        before = moves.get(item, (ZERO, ZERO))
        moves[item] = (before[0] + allocated, before[1] + left)
    save_reservations(conn, tenant_id, follow_source(held, moves), now)


def _reserved_by_others(
    conn: Connection, tenant_id: str, order_ref: str, items: Collection[str]
) -> dict[str, Decimal]:
    return _held_totals(conn, tenant_id, items, inventory_reservations.c.order_ref != order_ref)


def reserved_totals(conn: Connection, tenant_id: str, items: Collection[str]) -> dict[str, Decimal]:
    """Units the orders hold themselves per item (items without any: absent)."""
    return _held_totals(conn, tenant_id, items)


def _held_totals(conn: Connection, tenant_id: str, items: Collection[str], *where: Any) -> dict[str, Decimal]:
    t = inventory_reservations
    rows = conn.execute(
        select(t.c.item_code, t.c.quantity, t.c.converted).where(
            t.c.tenant_id == tenant_id,
            t.c.item_code.in_(sorted(items)),
            t.c.state == ReservationState.RESERVED.value,
            *where,
        )
    )
    totals: dict[str, Decimal] = {}
    for item, qty, converted in rows:
        held = Decimal(qty) - Decimal(converted)
        if held > ZERO:
            totals[item] = totals.get(item, ZERO) + held
    return totals


# --------------------------------------------------------------------------- channel availability


@dataclass(frozen=True, slots=True)
class ChannelAvailabilityRecord:
    """One channel connection's availability of one item: computed, and last handed to publishing."""

    tenant_id: str
    connection_id: str
    item: str
    computed: Decimal
    computed_at: float
    explanation: dict  # Availability.to_plain(): quantity and its steps
    published: Decimal | None = None
    published_at: float | None = None
    pending_since: float | None = None

    @property
    def state(self) -> ChannelState:
        return ChannelState(self.published, self.published_at, self.pending_since)

    @property
    def availability(self) -> Availability:
        return Availability.from_plain(self.explanation)


def _channel_record(r: Any) -> ChannelAvailabilityRecord:
    return ChannelAvailabilityRecord(
        r.tenant_id,
        r.connection_id,
        r.item_code,
        Decimal(r.computed),
        r.computed_at,
        orjson.loads(r.explanation),
        Decimal(r.published) if r.published is not None else None,
        r.published_at,
        r.pending_since,
    )


def channel_rows(conn: Connection, tenant_id: str, item: str) -> dict[str, ChannelAvailabilityRecord]:
    """Every channel connection's row for `item`, by connection id."""
    t = channel_availability
    rows = conn.execute(select(t).where(t.c.tenant_id == tenant_id, t.c.item_code == item))
    return {r.connection_id: _channel_record(r) for r in rows}


def get_channel_availability(
    conn: Connection, tenant_id: str, connection_id: str, item: str
) -> ChannelAvailabilityRecord | None:
    """The read model behind `GET /api/v1/availability?item=&channel=`."""
    t = channel_availability
    key = (t.c.tenant_id == tenant_id, t.c.connection_id == connection_id, t.c.item_code == item)
    r = conn.execute(select(t).where(*key)).first()
    return _channel_record(r) if r is not None else None


def save_channel_availability(conn: Connection, rec: ChannelAvailabilityRecord) -> None:
    t = channel_availability
    key = (t.c.tenant_id == rec.tenant_id, t.c.connection_id == rec.connection_id, t.c.item_code == rec.item)
    values = {
        "computed": str(rec.computed),
        "computed_at": rec.computed_at,
        "explanation": orjson.dumps(rec.explanation).decode(),
        "published": str(rec.published) if rec.published is not None else None,
        "published_at": rec.published_at,
        "pending_since": rec.pending_since,
    }
    if conn.execute(update(t).where(*key).values(**values)).rowcount == 0:
        conn.execute(
            insert(t).values(
                tenant_id=rec.tenant_id, connection_id=rec.connection_id, item_code=rec.item, **values
            )
        )


# What availability needs of one item on one channel, as read in bulk: the decision state
# (published, published_at, pending_since) and what the channel shows once the work in flight
# is done (None: not known), to judge urgency. Plain tuples: a burst reads 200,000 of them.
ChannelView = tuple[Decimal | None, float | None, float | None, Decimal | None]


def channel_views(
    conn: Connection, tenant_id: str, items: Collection[str]
) -> dict[str, dict[str, ChannelView]]:
    """Item → connection id → `ChannelView`, for many items at once (a burst of stock
    changes): the channel-availability rows joined with their listings, one query per 500
    items; the explanations are not read."""
    a, li = channel_availability.c, channel_listings.c
    joined = channel_availability.outerjoin(
        channel_listings,
        and_(li.tenant_id == a.tenant_id, li.connection_id == a.connection_id, li.item_code == a.item_code),
    )
    columns = (a.item_code, a.connection_id, a.published, a.published_at, a.pending_since,
               li.confirmed, li.confirmed_seq, li.sent, li.sent_seq)  # fmt: skip
    found: dict[str, dict[str, ChannelView]] = {}
    ordered = sorted(set(items))
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        q = select(*columns).select_from(joined).where(a.tenant_id == tenant_id, a.item_code.in_(chunk))
        for item, cid, published, at, pending, confirmed, confirmed_seq, sent, sent_seq in conn.execute(q):
            shows = will_show(confirmed, confirmed_seq, sent, sent_seq)
            view = (Decimal(published) if published is not None else None, at, pending, shows)
            found.setdefault(item, {})[cid] = view
    return found


_AVAILABILITY_KEYS = ("tenant_id", "connection_id", "item_code")
_AVAILABILITY_VALUES = ("computed", "computed_at", "explanation", "published", "published_at", "pending_since")
_AVAILABILITY_COLUMNS = _AVAILABILITY_KEYS + _AVAILABILITY_VALUES


def save_channel_availabilities(conn: Connection, rows: list[tuple]) -> None:
    """Upsert channel-availability rows given as tuples in `_AVAILABILITY_COLUMNS` order
    (quantities as decimal text, the explanation as JSON text), one statement per 500."""
    bulk.upsert(conn, channel_availability, _AVAILABILITY_COLUMNS, rows,
                keys=_AVAILABILITY_KEYS, updates=_AVAILABILITY_VALUES)  # fmt: skip


# --------------------------------------------------------------------------- read model


def availability_view(
    conn: Connection, tenant_ids: tuple[str, ...] | None, item: str, connection_id: str | None
) -> list[dict[str, Any]]:
    """What each channel (or the one asked) may list of `item`, and how it was computed:
    the stored explanation, what was last handed to publishing, the item's positions per
    location and the orders holding it. `tenant_ids` None: every tenant."""
    t = channel_availability
    q = select(t).where(t.c.item_code == item)
    if tenant_ids is not None:
        q = q.where(t.c.tenant_id.in_(tenant_ids))
    if connection_id is not None:
        q = q.where(t.c.connection_id == connection_id)
    records = [_channel_record(r) for r in conn.execute(q.order_by(t.c.tenant_id, t.c.connection_id))]
    out = []
    stock: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for rec in records:
        if rec.tenant_id not in stock:
            stock[rec.tenant_id] = (
                _positions_plain(conn, rec.tenant_id, item),
                _holders(conn, rec.tenant_id, item),
            )
        positions, holders = stock[rec.tenant_id]
        out.append(
            {
                "tenant_id": rec.tenant_id,
                "channel": rec.connection_id,
                "item": rec.item,
                "quantity": str(rec.computed),
                "computed_at": rec.computed_at,
                "explanation": rec.explanation.get("explanation", []),
                "published": None if rec.published is None else str(rec.published),
                "published_at": rec.published_at,
                "increase_held_since": rec.pending_since,
                "positions": positions,
                "reserved_by": holders,
            }
        )
    return out


def _positions_plain(conn: Connection, tenant_id: str, item: str) -> list[dict[str, Any]]:
    return [
        {
            "location": p.location,
            "on_hand": str(p.on_hand),
            "allocated": str(p.allocated),
            "unavailable": str(p.unavailable),
            "inbound": [{"quantity": str(i.quantity), "expected": i.expected.isoformat()} for i in p.inbound],
        }
        for p in read_positions(conn, tenant_id, [item])
    ]


def _holders(conn: Connection, tenant_id: str, item: str, limit: int = 50) -> list[dict[str, str]]:
    """The orders holding the item (at most `limit`, largest first)."""
    t = inventory_reservations
    rows = conn.execute(
        select(t.c.order_ref, t.c.quantity, t.c.converted).where(
            t.c.tenant_id == tenant_id, t.c.item_code == item, t.c.state == ReservationState.RESERVED.value
        )
    )
    held = sorted(((Decimal(q) - Decimal(c), ref) for ref, q, c in rows if Decimal(q) > Decimal(c)), reverse=True)[:limit]
    return [{"order_ref": ref, "quantity": str(q)} for q, ref in held]


def recent_availability(
    conn: Connection, tenant_id: str, q: str = "", limit: int = 50
) -> list[dict[str, Any]]:
    """The tenant's most recently computed item × channel quantities (items containing `q`)."""
    t = channel_availability
    stmt = select(t.c.item_code, t.c.connection_id, t.c.computed, t.c.published, t.c.computed_at).where(
        t.c.tenant_id == tenant_id
    )
    if q:
        stmt = stmt.where(t.c.item_code.contains(q, autoescape=True))
    rows = conn.execute(stmt.order_by(t.c.computed_at.desc(), t.c.item_code, t.c.connection_id).limit(limit))
    return [
        {
            "item": r.item_code,
            "channel": r.connection_id,
            "quantity": r.computed,
            "published": r.published,
            "computed_at": r.computed_at,
        }
        for r in rows
    ]
