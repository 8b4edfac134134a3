"""A channel's availability rule, and when a new number goes out to the channel.

`ChannelRule` says how one channel connection turns the stock of its locations into
the quantity it lists (see `availability.compute`). `decide` says whether a freshly
computed quantity is published now, held, or not at all:

- unchanged → nothing;
- a decrease goes at once (overselling costs more than underselling);
- an increase is held for `dampen_increase_seconds` from when it was first seen, so
  stock that flaps (a reservation released, then taken again; an ERP allocation not yet
  in the next snapshot) does not flood the channel — unless the channel shows 0 or was
  never told anything, then it goes at once.

Urgency orders the publisher's work: to_zero > low_stock > decrease > increase.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class SafetyStock:
    """Units kept back from a channel. For an item listed in `items`, that many units;
    otherwise the larger of `units` and `percent` of the pool."""

    units: Decimal = ZERO
    percent: Decimal = ZERO
    items: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", MappingProxyType(dict(self.items)))

    def for_item(self, item: str, pool: Decimal) -> tuple[Decimal, str]:
        """(units held back, which rule decided) for `item` out of `pool`."""
        override = self.items.get(item)
        if override is not None:
            return override, f"item override for {item}"
        by_percent = pool * self.percent / HUNDRED if self.percent and pool > ZERO else ZERO
        if by_percent > self.units:
            return by_percent, f"{self.percent}% of the pool"
        return self.units, "units"


@dataclass(frozen=True, slots=True)
class ChannelRule:
    """How one channel connection lists stock.

    - `locations`: the locations whose stock feeds it (empty: every location);
    - `share_percent` (a share of the pool) or `contract_units` (units kept for contract
      and EDI customers before the channel gets any), not both;
    - `cap`: never list more; `zero_below`: list 0 when fewer than this remain;
    - `inbound_horizon_days`: count inbound stock expected within so many days (None: never);
    - `low_stock`: a decrease to this or fewer is urgent (default: `zero_below`).
    """

    connection_id: str
    locations: frozenset[str] = frozenset()
    safety_stock: SafetyStock = SafetyStock()
    share_percent: Decimal | None = None
    contract_units: Decimal | None = None
    cap: Decimal | None = None
    zero_below: Decimal | None = None
    inbound_horizon_days: int | None = None
    dampen_increase_seconds: float = 0.0
    low_stock: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "locations", frozenset(self.locations))
        if self.share_percent is not None and self.contract_units is not None:
            raise ValueError("a channel rule takes share_percent or contract_units, not both")

    def feeds_from(self, locations: frozenset[str] | set[str]) -> bool:
        """Does any of `locations` feed this channel?"""
        return not self.locations or not self.locations.isdisjoint(locations)

    @property
    def low_stock_at(self) -> Decimal | None:
        return self.low_stock if self.low_stock is not None else self.zero_below


# -- publishing decisions ----------------------------------------------------------------------


class Urgency(StrEnum):
    """How soon a channel must hear a new quantity; the publisher serves higher first."""

    TO_ZERO = "to_zero"  # sold out: the channel must stop selling now
    LOW_STOCK = "low_stock"  # down to the rule's low-stock level or below
    DECREASE = "decrease"  # fewer than listed
    INCREASE = "increase"  # more than listed; safe to be late


URGENCY_ORDER = (Urgency.TO_ZERO, Urgency.LOW_STOCK, Urgency.DECREASE, Urgency.INCREASE)
RANK: dict[str, int] = {u.value: i for i, u in enumerate(URGENCY_ORDER)}  # the outbox's order


def urgency_against(quantity: Decimal, shown: Decimal | None, given: str | None = None) -> Urgency:
    """How urgent `quantity` is for a channel that shows `shown` (None: not known).

    Against a known figure the direction decides (to zero, down, up); a decrease the
    availability rule called low stock stays low stock. Unknown: as a first listing."""
    stated = Urgency(given) if given in RANK else None
    if shown is not None and quantity == shown and stated is not None:
        return stated
    if quantity <= ZERO:
        return Urgency.TO_ZERO
    if shown is not None and quantity > shown:
        return Urgency.INCREASE
    if stated is Urgency.LOW_STOCK:
        return stated
    return Urgency.DECREASE


@dataclass(frozen=True, slots=True)
class ChannelState:
    """What a channel was last told: `published` (None: never) at `published_at`, and since
    when a higher quantity has been held back (`pending_since`, None: nothing held)."""

    published: Decimal | None = None
    published_at: float | None = None
    pending_since: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    publish: bool
    quantity: Decimal
    urgency: Urgency | None  # None when nothing is published
    pending_since: float | None  # to store: since when an increase is held (None: none)
    due_at: float | None  # when a held increase may go out
    reason: str


def decide(new: Decimal, state: ChannelState, rule: ChannelRule, now: float) -> Decision:
    """Whether `new` goes to the channel now (see the module docstring)."""
    last = state.published
    if last is not None and new == last:
        return Decision(False, new, None, None, None, "unchanged")
    if last is None or new < last:
        return Decision(
            True, new, _urgency_down(new, rule), None, None, "first" if last is None else "decrease"
        )
    wait = rule.dampen_increase_seconds
    if last == ZERO or wait <= 0:
        return Decision(True, new, Urgency.INCREASE, None, None, "increase")
    since = state.pending_since if state.pending_since is not None else now
    due = since + wait
    if now >= due:
        return Decision(True, new, Urgency.INCREASE, None, None, "increase held long enough")
    return Decision(False, new, None, since, due, f"increase held until {due:.0f}")


def _urgency_down(new: Decimal, rule: ChannelRule) -> Urgency:
    if new <= ZERO:
        return Urgency.TO_ZERO
    low = rule.low_stock_at
    if low is not None and new <= low:
        return Urgency.LOW_STOCK
    return Urgency.DECREASE
