"""Channel availability: what each channel connection may list of each item, as last
computed (with the explanation of how) and last handed to publishing; and the read model
behind `GET /api/v1/availability` and the console's explainer."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, and_, insert, select, update

from crossdock.domain.availability import Availability, ReservationState
from crossdock.domain.availability_rules import ChannelState
from crossdock.store import bulk
from crossdock.store.inventory import read_positions
from crossdock.store.publishing import will_show
from crossdock.store.tables import channel_availability, channel_listings, inventory_reservations


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
_AVAILABILITY_VALUES = (
    "computed",
    "computed_at",
    "explanation",
    "published",
    "published_at",
    "pending_since",
)
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
    held = sorted(
        ((Decimal(q) - Decimal(c), ref) for ref, q, c in rows if Decimal(q) > Decimal(c)), reverse=True
    )[:limit]
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
