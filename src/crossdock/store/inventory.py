"""Available-to-promise data: stock positions, order reservations, channel availability.

Handlers read these through `ctx.read` and write them as staged effects, so a change
commits with the message that caused it; a repeated message changes nothing twice
(idempotent consumer: the message's own key). Quantities are stored as decimal text.
Positions are per item × location; a snapshot sets them, an adjustment adds to them
under a row lock (PostgreSQL; SQLite has one writer anyway).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from crossdock.configuration.availability import AvailabilitySection
from crossdock.domain.availability import (
    Adjustment,
    Availability,
    Inbound,
    Position,
    Reservation,
    ReservationState,
    reserve,
    settle,
    shortfalls,
)
from crossdock.domain.availability_rules import ZERO, ChannelRule, ChannelState
from crossdock.errors import PermanentError
from crossdock.store.tables import (
    channel_availability,
    inventory_positions,
    inventory_reservations,
    tenant_rules,
)

RULES_NAME = "availability"  # the tenant_rules document holding the `availability:` section


def availability_section(conn: Connection, tenant_id: str) -> AvailabilitySection | None:
    """The tenant's `availability:` section (None: the tenant keeps no availability)."""
    key = (tenant_rules.c.tenant_id == tenant_id, tenant_rules.c.name == RULES_NAME)
    text = conn.execute(select(tenant_rules.c.value).where(*key)).scalar()
    return AvailabilitySection.model_validate_json(text) if text else None


def availability_rules(conn: Connection, tenant_id: str) -> tuple[ChannelRule, ...]:
    """The tenant's channel rules (none when the tenant has no `availability:` section)."""
    section = availability_section(conn, tenant_id)
    return section.to_domain() if section is not None else ()


# --------------------------------------------------------------------------- positions


def _inbound_json(inbound: Iterable[Inbound]) -> str:
    return orjson.dumps(
        [{"quantity": str(i.quantity), "expected": i.expected.isoformat()} for i in inbound]
    ).decode()


def _position(r: Any) -> Position:
    inbound = tuple(
        Inbound(Decimal(i["quantity"]), date.fromisoformat(i["expected"])) for i in orjson.loads(r.inbound)
    )
    return Position(
        r.item_code, r.location, Decimal(r.on_hand), Decimal(r.allocated), Decimal(r.unavailable), inbound
    )


def read_positions(conn: Connection, tenant_id: str, items: Collection[str]) -> list[Position]:
    t = inventory_positions
    rows = conn.execute(
        select(t)
        .where(t.c.tenant_id == tenant_id, t.c.item_code.in_(sorted(items)))
        .order_by(t.c.item_code, t.c.location)
    )
    return [_position(r) for r in rows]


def _write_position(
    conn: Connection, tenant_id: str, p: Position, source: str | None, now: float, exists: bool
) -> None:
    t = inventory_positions
    values = {
        "on_hand": str(p.on_hand),
        "allocated": str(p.allocated),
        "unavailable": str(p.unavailable),
        "inbound": _inbound_json(p.inbound),
        "source": source,
        "updated_at": now,
    }
    key = (t.c.tenant_id == tenant_id, t.c.item_code == p.item, t.c.location == p.location)
    if exists and conn.execute(update(t).where(*key).values(**values)).rowcount:
        return
    conn.execute(insert(t).values(tenant_id=tenant_id, item_code=p.item, location=p.location, **values))


def apply_snapshot(
    conn: Connection, tenant_id: str, positions: Iterable[Position], source: str | None, now: float
) -> None:
    """Set each position to the reported absolute values (one upsert per 500 positions;
    a position reported twice takes its last values)."""
    from sqlalchemy.dialects import postgresql, sqlite

    t = inventory_positions
    rows = {
        (p.item, p.location): {
            "tenant_id": tenant_id,
            "item_code": p.item,
            "location": p.location,
            "on_hand": str(p.on_hand),
            "allocated": str(p.allocated),
            "unavailable": str(p.unavailable),
            "inbound": _inbound_json(p.inbound),
            "source": source,
            "updated_at": now,
        }
        for p in positions
    }
    if not rows:
        return
    stmt = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(t)
    columns = ("on_hand", "allocated", "unavailable", "inbound", "source", "updated_at")
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "item_code", "location"], set_={k: stmt.excluded[k] for k in columns}
    )
    values = list(rows.values())
    for start in range(0, len(values), 500):
        conn.execute(stmt, values[start : start + 500])


def apply_adjustments(
    conn: Connection, tenant_id: str, adjustments: Iterable[Adjustment], source: str | None, now: float
) -> None:
    """Add each adjustment's deltas to its position (a missing position starts at 0)."""
    t = inventory_positions
    for adj in adjustments:
        key = (t.c.tenant_id == tenant_id, t.c.item_code == adj.item, t.c.location == adj.location)
        q = select(t).where(*key)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = conn.execute(q).first()
        held = _position(row) if row is not None else None
        _write_position(conn, tenant_id, adj.applied_to(held), source, now, exists=row is not None)


# --------------------------------------------------------------------------- reservations


def read_reservations(conn: Connection, tenant_id: str, order_ref: str) -> list[Reservation]:
    t = inventory_reservations
    rows = conn.execute(
        select(t).where(t.c.tenant_id == tenant_id, t.c.order_ref == order_ref).order_by(t.c.item_code)
    )
    return [
        Reservation(r.order_ref, r.item_code, Decimal(r.quantity), ReservationState(r.state)) for r in rows
    ]


def save_reservations(conn: Connection, tenant_id: str, rows: Iterable[Reservation], now: float) -> None:
    t = inventory_reservations
    for r in rows:
        key = (t.c.tenant_id == tenant_id, t.c.order_ref == r.order_ref, t.c.item_code == r.item)
        values = {"quantity": str(r.quantity), "state": r.state.value, "updated_at": now}
        if conn.execute(update(t).where(*key).values(**values)).rowcount == 0:
            conn.execute(
                insert(t).values(tenant_id=tenant_id, order_ref=r.order_ref, item_code=r.item, **values)
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
    rows = reserve(read_reservations(conn, tenant_id, order_ref), order_ref, lines)
    growing = {r.item: r.quantity for r in rows if r.state is ReservationState.RESERVED}
    if within_stock and growing:
        t = inventory_positions
        q = (
            select(t)
            .where(t.c.tenant_id == tenant_id, t.c.item_code.in_(sorted(growing)))
            .order_by(t.c.item_code, t.c.location)
        )
        if conn.dialect.name == "postgresql":
            q = q.with_for_update()
        positions = [_position(r) for r in conn.execute(q)]
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
                context={"items": [{"item": s.item, "wanted": str(s.wanted), "free": str(s.free)} for s in short]},
            )
    save_reservations(conn, tenant_id, rows, now)
    return [r.item for r in rows]


def consume_order(
    conn: Connection, tenant_id: str, order_ref: str, lines: Iterable[tuple[str, Decimal]], now: float
) -> None:
    """The order's units in `lines` left on hand: they no longer hold stock."""
    held = read_reservations(conn, tenant_id, order_ref)
    save_reservations(conn, tenant_id, settle(held, list(lines), ReservationState.CONSUMED), now)


def _reserved_by_others(
    conn: Connection, tenant_id: str, order_ref: str, items: Collection[str]
) -> dict[str, Decimal]:
    t = inventory_reservations
    rows = conn.execute(
        select(t.c.item_code, t.c.quantity).where(
            t.c.tenant_id == tenant_id,
            t.c.item_code.in_(sorted(items)),
            t.c.state == ReservationState.RESERVED.value,
            t.c.order_ref != order_ref,
        )
    )
    totals: dict[str, Decimal] = {}
    for item, qty in rows:
        totals[item] = totals.get(item, ZERO) + Decimal(qty)
    return totals


def reserved_totals(conn: Connection, tenant_id: str, items: Collection[str]) -> dict[str, Decimal]:
    """Open reserved units per item (items without any: absent)."""
    t = inventory_reservations
    rows = conn.execute(
        select(t.c.item_code, t.c.quantity).where(
            t.c.tenant_id == tenant_id,
            t.c.item_code.in_(sorted(items)),
            t.c.state == ReservationState.RESERVED.value,
        )
    )
    totals: dict[str, Decimal] = {}
    for item, qty in rows:
        totals[item] = totals.get(item, ZERO) + Decimal(qty)
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


def channel_states_of(conn: Connection, tenant_id: str, items: Collection[str]) -> dict[str, dict[str, ChannelState]]:
    """Item → connection id → what the channel was last handed, for many items at once (a
    burst of stock changes); the explanations are not read."""
    t = channel_availability.c
    found: dict[str, dict[str, ChannelState]] = {}
    ordered = sorted(set(items))
    for start in range(0, len(ordered), 500):
        rows = conn.execute(
            select(t.item_code, t.connection_id, t.published, t.published_at, t.pending_since).where(
                t.tenant_id == tenant_id, t.item_code.in_(ordered[start : start + 500])
            )
        )
        for r in rows:
            published = Decimal(r.published) if r.published is not None else None
            found.setdefault(r.item_code, {})[r.connection_id] = ChannelState(published, r.published_at, r.pending_since)
    return found


def save_channel_availabilities(conn: Connection, recs: list[ChannelAvailabilityRecord]) -> None:
    """`save_channel_availability` for many rows in one statement per 500."""
    if not recs:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    t = channel_availability
    stmt = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(t)
    columns = ("computed", "computed_at", "explanation", "published", "published_at", "pending_since")
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "connection_id", "item_code"],
        set_={k: stmt.excluded[k] for k in columns},
    )
    rows = [
        {
            "tenant_id": rec.tenant_id,
            "connection_id": rec.connection_id,
            "item_code": rec.item,
            "computed": str(rec.computed),
            "computed_at": rec.computed_at,
            "explanation": orjson.dumps(rec.explanation).decode(),
            "published": str(rec.published) if rec.published is not None else None,
            "published_at": rec.published_at,
            "pending_since": rec.pending_since,
        }
        for rec in recs
    ]
    for start in range(0, len(rows), 500):
        conn.execute(stmt, rows[start : start + 500])


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
            stock[rec.tenant_id] = (_positions_plain(conn, rec.tenant_id, item), _holders(conn, rec.tenant_id, item))
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
        select(t.c.order_ref, t.c.quantity).where(
            t.c.tenant_id == tenant_id, t.c.item_code == item, t.c.state == ReservationState.RESERVED.value
        )
    )
    held = sorted(((Decimal(q), ref) for ref, q in rows), reverse=True)[:limit]
    return [{"order_ref": ref, "quantity": str(q)} for q, ref in held]


def recent_availability(conn: Connection, tenant_id: str, q: str = "", limit: int = 50) -> list[dict[str, Any]]:
    """The tenant's most recently computed item × channel quantities (items containing `q`)."""
    t = channel_availability
    stmt = select(t.c.item_code, t.c.connection_id, t.c.computed, t.c.published, t.c.computed_at).where(
        t.c.tenant_id == tenant_id
    )
    if q:
        stmt = stmt.where(t.c.item_code.contains(q, autoescape=True))
    rows = conn.execute(stmt.order_by(t.c.computed_at.desc(), t.c.item_code, t.c.connection_id).limit(limit))
    return [
        {"item": r.item_code, "channel": r.connection_id, "quantity": r.computed, "published": r.published,
         "computed_at": r.computed_at}
        for r in rows
    ]
