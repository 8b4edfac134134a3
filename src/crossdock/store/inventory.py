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
)
from crossdock.domain.availability_rules import ZERO, ChannelRule, ChannelState
from crossdock.store.tables import (
    channel_availability,
    inventory_positions,
    inventory_reservations,
    tenant_rules,
)

RULES_NAME = "availability"  # the tenant_rules document holding the `availability:` section


def availability_rules(conn: Connection, tenant_id: str) -> tuple[ChannelRule, ...]:
    """The tenant's channel rules (none when the tenant has no `availability:` section)."""
    key = (tenant_rules.c.tenant_id == tenant_id, tenant_rules.c.name == RULES_NAME)
    text = conn.execute(select(tenant_rules.c.value).where(*key)).scalar()
    return AvailabilitySection.model_validate_json(text).to_domain() if text else ()


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
    """Set each position to the reported absolute values."""
    for p in positions:
        _write_position(conn, tenant_id, p, source, now, exists=True)


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
