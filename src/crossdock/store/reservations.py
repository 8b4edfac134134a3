"""Order reservations: what each order captured by Crossdock holds of each item, from
capture until the stock source allocates it, the order ships or the order lets it go.

A row keeps `quantity` (what the order still wants, moved by the order flow) and
`converted` (the stock source's running sum of what it allocates to the order, moved by
its entries naming the order); the order holds the difference itself
(`domain.availability.Reservation`). Positions are locked before an order's rows on every
path (PostgreSQL), so a stock report and an order's own step never deadlock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from crossdock.domain.availability import (
    Position,
    Reservation,
    ReservationState,
    follow_source,
    reserve,
    shortfalls,
)
from crossdock.domain.availability_rules import ZERO
from crossdock.errors import PermanentError
from crossdock.store.db import insert_into
from crossdock.store.inventory import position_from_row
from crossdock.store.tables import inventory_positions, inventory_reservations, reservation_shipments


def read_reservations(
    conn: Connection, tenant_id: str, order_ref: str, *, lock: bool = False
) -> list[Reservation]:
    """The order's rows; `lock`: for update (PostgreSQL), so two writers of one order's hold
    (two warehouses' stock lanes, the order's own steps) run one after the other."""
    t = inventory_reservations
    q = select(t).where(t.c.tenant_id == tenant_id, t.c.order_ref == order_ref).order_by(t.c.item_code)
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return [_reservation(r) for r in conn.execute(q)]


def _reservation(r: Any) -> Reservation:
    return Reservation(
        r.order_ref, r.item_code, Decimal(r.quantity), ReservationState(r.state), Decimal(r.converted)
    )


def save_reservations(conn: Connection, tenant_id: str, rows: Iterable[Reservation], now: float) -> None:
    """Write these reservation rows; a hold that ends (released, consumed) takes
    its record of stock entries with it (`settle_from_stock`): nothing is left to end twice."""
    t = inventory_reservations
    ended: dict[str, list[str]] = {}
    for r in rows:
        key = (t.c.tenant_id == tenant_id, t.c.order_ref == r.order_ref, t.c.item_code == r.item)
        values = {
            "quantity": str(r.quantity),
            "converted": str(r.converted),
            "state": r.state.value,
            "updated_at": now,
        }
        if conn.execute(update(t).where(*key).values(**values)).rowcount == 0:
            conn.execute(
                insert(t).values(tenant_id=tenant_id, order_ref=r.order_ref, item_code=r.item, **values)
            )
        if r.state is not ReservationState.RESERVED:
            ended.setdefault(r.order_ref, []).append(r.item)
    s = reservation_shipments.c
    for order_ref, items in ended.items():
        conn.execute(
            delete(reservation_shipments).where(
                s.tenant_id == tenant_id, s.order_ref == order_ref, s.item_code.in_(items)
            )
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
        positions = [position_from_row(r) for r in conn.execute(q)]
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
    conn: Connection,
    tenant_id: str,
    order_ref: str,
    entries: Iterable[HoldEntry],
    source: str | None,
    now: float,
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
