"""Available-to-promise: how many units of an item one channel may list, and why.

The pool of an item is what its locations feeding the channel hold, less what is spoken
for; the channel's rule then keeps some back and shapes the number:

    on hand − allocated (by the ERP) − reserved (captured orders the ERP has not allocated)
    − unavailable (damaged, quarantine) + inbound within the horizon (not overdue)
    − safety stock → not below 0 → × share | − contract reservation → not below 0
    → round down to whole units → cap → 0 below the threshold = quantity

Every step is kept in the explanation with its signed value and the running total, so
the steps always add up to the quantity. Reservations are per item, not per location:
an order the ERP has not allocated is not routed yet, so it weighs on every channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any

from crossdock.domain.availability_rules import HUNDRED, ZERO, ChannelRule

ONE = Decimal(1)


class StepName(StrEnum):
    ON_HAND = "on_hand"
    ALLOCATED = "allocated"
    RESERVED = "reserved"
    UNAVAILABLE = "unavailable"
    INBOUND = "inbound"
    SAFETY_STOCK = "safety_stock"
    NOT_NEGATIVE = "not_negative"
    SHARE = "share"
    CONTRACT = "contract_reservation"
    ROUND_DOWN = "round_down"
    CAP = "cap"
    ZERO_BELOW = "zero_below"


@dataclass(frozen=True, slots=True)
class Inbound:
    """Units expected at a location (a purchase order, a transfer) on a date."""

    quantity: Decimal
    expected: date


@dataclass(frozen=True, slots=True)
class Position:
    """Stock of one item at one location, as the ERP or WMS last told it."""

    item: str
    location: str
    on_hand: Decimal = ZERO
    allocated: Decimal = ZERO  # promised to orders the ERP knows
    unavailable: Decimal = ZERO  # damaged, in quarantine, on hold
    inbound: tuple[Inbound, ...] = ()


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A change reported by the ERP or WMS: signed deltas, and the inbound list when it is
    reported again (None: unchanged)."""

    item: str
    location: str
    on_hand: Decimal = ZERO
    allocated: Decimal = ZERO
    unavailable: Decimal = ZERO
    inbound: tuple[Inbound, ...] | None = None

    def applied_to(self, position: Position | None) -> Position:
        p = position or Position(self.item, self.location)
        inbound = p.inbound if self.inbound is None else self.inbound
        return Position(
            p.item,
            p.location,
            p.on_hand + self.on_hand,
            p.allocated + self.allocated,
            p.unavailable + self.unavailable,
            inbound,
        )


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the calculation: `value` is signed (added to the running total)."""

    name: StepName
    value: Decimal
    total: Decimal
    rule: str = ""  # which rule or setting decided the value

    def to_plain(self) -> dict[str, str]:
        return {
            "step": self.name.value,
            "value": str(self.value),
            "total": str(self.total),
            "rule": self.rule,
        }


@dataclass(frozen=True, slots=True)
class Availability:
    item: str
    connection_id: str
    quantity: Decimal  # whole units, never negative
    explanation: tuple[Step, ...]

    def to_plain(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "connection_id": self.connection_id,
            "quantity": str(self.quantity),
            "explanation": [s.to_plain() for s in self.explanation],
        }

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> Availability:
        steps = tuple(
            Step(StepName(s["step"]), Decimal(s["value"]), Decimal(s["total"]), s.get("rule", ""))
            for s in data["explanation"]
        )
        return cls(data["item"], data["connection_id"], Decimal(data["quantity"]), steps)


def compute(
    item: str, positions: Iterable[Position], reserved: Decimal, rule: ChannelRule, now: datetime | date
) -> Availability:
    """The quantity `rule`'s channel may list for `item`, with its explanation.

    `positions` may hold other items and locations; only the item's positions at the
    rule's locations count. `reserved` is the item's open reservations (all locations)."""
    locations = rule.locations
    horizon = rule.inbound_horizon_days
    today = _day(now)
    limit = None if horizon is None else today + timedelta(days=horizon)
    on_hand = allocated = unavailable = inbound = overdue = ZERO
    for p in positions:
        if p.item != item or (locations and p.location not in locations):
            continue
        on_hand += p.on_hand
        allocated += p.allocated
        unavailable += p.unavailable
        if limit is not None:
            for arrival in p.inbound:
                if arrival.expected < today:  # late: it may never come, so it is not promised
                    overdue += arrival.quantity
                elif arrival.expected <= limit:
                    inbound += arrival.quantity
    total = on_hand - allocated - reserved - unavailable
    steps = [
        Step(StepName.ON_HAND, on_hand, on_hand),
        Step(StepName.ALLOCATED, -allocated, on_hand - allocated),
        Step(StepName.RESERVED, -reserved, on_hand - allocated - reserved),
        Step(StepName.UNAVAILABLE, -unavailable, total),
    ]
    if limit is not None:
        total += inbound
        note = f"expected by {limit.isoformat()}"
        if overdue:
            note += f"; {overdue} overdue (expected before {today.isoformat()}) not counted"
        steps.append(Step(StepName.INBOUND, inbound, total, note))
    total = _shape(item, total, rule, steps)
    return Availability(item, rule.connection_id, total, tuple(steps))


def _shape(item: str, total: Decimal, rule: ChannelRule, steps: list[Step]) -> Decimal:
    """The channel rule's steps after the pool: buffers, allocation, rounding, cap, threshold."""
    safety, which = rule.safety_stock.for_item(item, total)
    if safety:
        total -= safety
        steps.append(Step(StepName.SAFETY_STOCK, -safety, total, which))
    total = _not_negative(total, steps)
    if rule.share_percent is not None:
        share = total * rule.share_percent / HUNDRED
        steps.append(Step(StepName.SHARE, share - total, share, f"{rule.share_percent}% of the pool"))
        total = share
    elif rule.contract_units is not None:
        total -= rule.contract_units
        steps.append(Step(StepName.CONTRACT, -rule.contract_units, total, "kept for contract customers"))
        total = _not_negative(total, steps)
    whole = total.quantize(ONE, rounding=ROUND_FLOOR)  # exponent 0: '100', never '1E+2'
    if whole != total:
        steps.append(Step(StepName.ROUND_DOWN, whole - total, whole, "whole units"))
    total = whole
    if rule.cap is not None:
        capped = min(total, rule.cap)
        steps.append(Step(StepName.CAP, capped - total, capped, f"at most {rule.cap}"))
        total = capped
    if rule.zero_below is not None:
        below = total < rule.zero_below
        steps.append(
            Step(
                StepName.ZERO_BELOW,
                -total if below else ZERO,
                ZERO if below else total,
                f"0 below {rule.zero_below}",
            )
        )
        if below:
            total = ZERO
    return total


def _not_negative(total: Decimal, steps: list[Step]) -> Decimal:
    if total < ZERO:
        steps.append(Step(StepName.NOT_NEGATIVE, -total, ZERO, "never below 0"))
        return ZERO
    return total


def _day(now: datetime | date) -> date:
    return now.date() if isinstance(now, datetime) else now


# -- reservations ---------------------------------------------------------------------------------


class ReservationState(StrEnum):
    """Where one order's claim on an item stands. Only RESERVED rows weigh on availability."""

    RESERVED = "reserved"  # the order still wants `quantity` units
    CONVERTED = "converted"  # (rows of earlier versions: settled, hold nothing)
    RELEASED = "released"  # cancelled or edited away
    CONSUMED = "consumed"  # shipped: gone from on hand


@dataclass(frozen=True, slots=True)
class Reservation:
    """An order's claim on one item. `quantity`: the units the order still wants (open, not
    shipped); `converted`: those of them a stock source counts as allocated to the order (its
    `allocated` holds them). The order holds the rest itself (`held`), so every unit is
    counted once: as the source's allocation or as the hub's reservation."""

    order_ref: str
    item: str
    quantity: Decimal
    state: ReservationState = ReservationState.RESERVED
    converted: Decimal = ZERO  # the source's signed sum: below 0 while its entries arrive out of order

    @property
    def held(self) -> Decimal:
        """The units this row takes off the free stock (what `compute` calls `reserved`)."""
        if self.state is not ReservationState.RESERVED:
            return ZERO
        return max(ZERO, self.quantity - max(ZERO, self.converted))


_RESETTABLE = (ReservationState.RESERVED, ReservationState.RELEASED)  # converted/consumed rows are settled


def reserve(
    held: Iterable[Reservation], order_ref: str, lines: Iterable[tuple[str, Decimal]]
) -> list[Reservation]:
    """The order's reservations once it wants exactly `lines` (quantities summed per item).

    Open items no longer in the lines are released; released items listed again are
    reserved again; consumed ones stay as they are; what a source converted stays converted.
    Returns only the rows that change."""
    wanted: dict[str, Decimal] = {}
    for item, qty in lines:
        wanted[item] = wanted.get(item, ZERO) + qty
    held_by_item = {r.item: r for r in held}
    changed = []
    for item, qty in wanted.items():
        now = held_by_item.get(item)
        if now is None:
            changed.append(Reservation(order_ref, item, qty))
        elif now.state in _RESETTABLE and (now.quantity, now.state) != (qty, ReservationState.RESERVED):
            changed.append(Reservation(order_ref, item, qty, converted=now.converted))
    for r in held_by_item.values():
        if r.state is ReservationState.RESERVED and r.item not in wanted:
            changed.append(Reservation(order_ref, r.item, ZERO, ReservationState.RELEASED, r.converted))
    return changed


def settle(
    held: Iterable[Reservation], lines: Iterable[tuple[str, Decimal]] | None, state: ReservationState
) -> list[Reservation]:
    """The order no longer wants `lines` (None: everything open): released (cancelled) or
    consumed (shipped) units leave `quantity`; a row reaching 0 takes `state`. With `state`
    CONVERTED, the units become the ERP's allocation instead (`converted`; the order still
    wants them). Returns only the rows that change."""
    open_rows = {r.item: r for r in held if r.state is ReservationState.RESERVED}
    taking = {item: r.quantity for item, r in open_rows.items()} if lines is None else {}
    for item, qty in lines or ():
        taking[item] = taking.get(item, ZERO) + qty
    changed = []
    for item, qty in taking.items():
        r = open_rows.get(item)
        if r is None or qty <= ZERO:
            continue
        if state is ReservationState.CONVERTED:
            converted = max(r.converted, min(r.quantity, max(ZERO, r.converted) + qty))
            if converted != r.converted:
                changed.append(replace(r, converted=converted))
            continue
        # `converted` is the source's to move: whether it had allocated these units, and takes
        # them back, only its own entries say.
        left = max(ZERO, r.quantity - qty)
        changed.append(replace(r, quantity=left, state=state if left == ZERO else ReservationState.RESERVED))
    return changed


def follow_source(
    held: Iterable[Reservation], moves: dict[str, tuple[Decimal, Decimal]]
) -> list[Reservation]:
    """The order's rows after its stock source's entries naming it: per item, (`allocated`, the
    signed change of what the source allocates to the order; `left`, the order's units that left
    on hand). `converted` is the running sum of the source's changes, unclamped, so entries
    delivered in any order end the same (a shipment before the allocation it ships from goes
    below 0 for a while); an allocation converts units, a deallocation gives them back to the
    order's own hold while it still wants them, a shipment takes its units out of what the
    order wants. Rows the order no longer holds keep the sum too (an item listed again).
    Returns only the rows that change."""
    changed = []
    for r in held:
        move = moves.get(r.item)
        if move is None:
            continue
        allocated, left = move
        open_ = r.state is ReservationState.RESERVED
        quantity = max(ZERO, r.quantity - left) if open_ else r.quantity
        converted = r.converted + allocated
        if (quantity, converted) == (r.quantity, r.converted):
            continue
        state = ReservationState.CONSUMED if open_ and quantity == ZERO else r.state
        changed.append(replace(r, quantity=quantity, converted=converted, state=state))
    return changed


def open_units(reservations: Iterable[Reservation]) -> Decimal:
    """Units the orders hold themselves (what `compute` subtracts as `reserved`)."""
    return sum((r.held for r in reservations), ZERO)


@dataclass(frozen=True, slots=True)
class Shortfall:
    """An order wants more of an item than is free for it (`free` may be negative)."""

    item: str
    wanted: Decimal
    free: Decimal


def shortfalls(
    wanted: dict[str, Decimal], positions: Iterable[Position], reserved_by_others: dict[str, Decimal]
) -> list[Shortfall]:
    """The items of `wanted` that the stock cannot cover.

    Free stock is on hand − allocated − unavailable over every location, less what other
    orders hold. Only items with at least one position are checked: an item whose stock
    nobody reports is not tracked, and an untracked item never stops an order."""
    supply: dict[str, Decimal] = {}
    for p in positions:
        supply[p.item] = supply.get(p.item, ZERO) + p.on_hand - p.allocated - p.unavailable
    short = []
    for item, qty in sorted(wanted.items()):
        if item not in supply or qty <= ZERO:
            continue
        free = supply[item] - reserved_by_others.get(item, ZERO)
        if qty > free:
            short.append(Shortfall(item, qty, free))
    return short
