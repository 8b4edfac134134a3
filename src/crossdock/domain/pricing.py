"""Channel prices: what one channel connection lists an item at, at one instant, and why.

    base price (the ERP price list)
    → an effective-dated price entry in force replaces it
    → × exchange rate (when the channel sells in another currency)
    → + markup
    → rounding (to the currency's minor units, or to a price ending such as .99)
    → not below the item's MAP (minimum advertised price)
    → not below cost + the minimum margin over cost
    → rounded up to the ending again when a floor lifted it
    = price

Every step is kept in the explanation with its signed value and the running total, so the
steps add up to the price. Effective-dated entries are in the base currency and replace the
base price (before the channel's rules); an entry for one channel connection wins over an
entry for every channel, then the one that started last. A change of more than the rule's
threshold percent from the published price waits for a person's approval
(`price_approval.decide`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from crossdock.domain.errors import DomainError
from crossdock.domain.money import MINOR_UNITS

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class Direction(StrEnum):
    UP = "up"  # never below the computed price (keeps the margin)
    DOWN = "down"
    NEAREST = "nearest"  # ties go up


@dataclass(frozen=True, slots=True)
class Rounding:
    """`ending` None: to the currency's minor units (half up). `ending` "0.99": the price ends
    in .99 (…, 20.99, 21.99, …); "9.99": in 9.99 (…, 19.99, 29.99, …); "0.00": whole units."""

    ending: Decimal | None = None
    direction: Direction = Direction.UP

    def __post_init__(self) -> None:
        if self.ending is not None and self.ending < ZERO:
            raise ValueError("a price ending is not negative")

    @property
    def step(self) -> Decimal:
        """The distance between two prices with this ending (1 for .99, 10 for 9.99)."""
        whole = int(self.ending or ZERO)
        return Decimal(10 ** len(str(whole))) if whole else Decimal(1)

    def apply(self, value: Decimal, places: int, direction: Direction | None = None) -> Decimal:
        minor = Decimal(1).scaleb(-places)
        if self.ending is None:
            return value.quantize(minor, rounding=ROUND_HALF_UP)
        step, ending = self.step, self.ending
        below = ((value - ending) / step).to_integral_value(rounding=ROUND_FLOOR) * step + ending
        above = below if below == value else below + step
        way = direction or self.direction
        closer = value - below < above - value
        use_below = below > ZERO and (way is Direction.DOWN or (way is Direction.NEAREST and closer))
        chosen = below if use_below else above
        return chosen.quantize(minor, rounding=ROUND_HALF_UP)

    def describe(self, places: int) -> str:
        if self.ending is None:
            return f"to {Decimal(1).scaleb(-places)}"
        return f"to end in {self.ending} ({self.direction.value})"


@dataclass(frozen=True, slots=True)
class ChannelPriceRule:
    """How one channel connection prices items.

    - `currency`: what the channel sells in; `base_currency` is the price list's, and
      `exchange_rate` the channel currency per unit of it (needed when they differ);
    - `markup_percent` on top of the (converted) base price;
    - `map_prices`: per item, the minimum advertised price in the channel's currency;
    - `min_margin_percent`: the price is at least cost × (1 + percent / 100);
    - `approval_threshold_percent`: a change from the published price larger than this
      waits for approval (None: never).
    """

    connection_id: str
    currency: str
    base_currency: str | None = None  # None: the same as `currency`
    exchange_rate: Decimal | None = None
    markup_percent: Decimal = ZERO
    rounding: Rounding = Rounding()
    map_prices: Mapping[str, Decimal] = field(default_factory=dict)
    min_margin_percent: Decimal | None = None
    approval_threshold_percent: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "map_prices", MappingProxyType(dict(self.map_prices)))
        if self.currency not in MINOR_UNITS:
            raise ValueError(f"unknown currency {self.currency!r}")

    @property
    def places(self) -> int:
        return MINOR_UNITS[self.currency]


@dataclass(frozen=True, slots=True)
class BasePrice:
    """An item's price (and cost, when the ERP gives it) on the base price list."""

    item: str
    price: Decimal
    currency: str
    cost: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """A price in force from `starts_at` until `ends_at` (UNIX seconds; None: open-ended), in
    the base currency, for one channel connection or (None) every channel."""

    ref: str
    item: str
    price: Decimal
    starts_at: float
    ends_at: float | None = None
    connection_id: str | None = None

    def __post_init__(self) -> None:
        if self.price < ZERO:
            raise ValueError("a price is not negative")
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("a price entry ends after it starts")

    def in_force(self, at: float) -> bool:
        return self.starts_at <= at and (self.ends_at is None or at < self.ends_at)

    def applies_to(self, item: str, connection_id: str) -> bool:
        return self.item == item and self.connection_id in (None, connection_id)


class StepName(StrEnum):
    BASE = "base"
    ENTRY = "effective_price"
    CURRENCY = "currency"
    MARKUP = "markup"
    ROUNDING = "rounding"
    MAP = "map_floor"
    MARGIN = "margin_floor"
    FLOOR_ROUNDING = "floor_rounding"


@dataclass(frozen=True, slots=True)
class Step:
    """One step: `value` is signed (added to the running total), `rule` says what decided it."""

    name: StepName
    value: Decimal
    total: Decimal
    rule: str = ""

    def to_plain(self) -> dict[str, str]:
        return {
            "step": self.name.value,
            "value": str(self.value),
            "total": str(self.total),
            "rule": self.rule,
        }


@dataclass(frozen=True, slots=True)
class ChannelPrice:
    item: str
    connection_id: str
    currency: str
    price: Decimal
    explanation: tuple[Step, ...]
    entry_ref: str | None = None  # the effective-dated entry in force, if any

    def to_plain(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "connection_id": self.connection_id,
            "currency": self.currency,
            "price": str(self.price),
            "entry": self.entry_ref,
            "explanation": [s.to_plain() for s in self.explanation],
        }

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> ChannelPrice:
        steps = tuple(
            Step(StepName(s["step"]), Decimal(s["value"]), Decimal(s["total"]), s.get("rule", ""))
            for s in data["explanation"]
        )
        return cls(
            data["item"],
            data["connection_id"],
            data["currency"],
            Decimal(data["price"]),
            steps,
            data.get("entry"),
        )


def active_entry(
    entries: Iterable[PriceEntry], item: str, connection_id: str, at: float
) -> PriceEntry | None:
    """The entry in force for the item on the channel: channel-specific before every-channel,
    then the latest start, then the highest ref."""
    found = [e for e in entries if e.applies_to(item, connection_id) and e.in_force(at)]
    if not found:
        return None
    return max(found, key=lambda e: (e.connection_id is not None, e.starts_at, e.ref))


def compute(
    item: str, base: BasePrice | None, entries: Iterable[PriceEntry], rule: ChannelPriceRule, at: float
) -> ChannelPrice:
    """The channel's price for `item` at `at` (see the module docstring)."""
    entry = active_entry(entries, item, rule.connection_id, at)
    if base is None and entry is None:
        raise DomainError(
            "business.no_base_price",
            f"item {item} has no base price and no price entry in force",
            "Add the item to the ERP price list (or a price entry), then recompute.",
        )
    steps: list[Step] = []
    total = ZERO
    if base is not None:
        total = base.price
        steps.append(Step(StepName.BASE, total, total, f"price list, {base.currency}"))
    if entry is not None:
        steps.append(Step(StepName.ENTRY, entry.price - total, entry.price, _entry_rule(entry)))
        total = entry.price
    total = _convert(total, base, rule, steps)
    if rule.markup_percent:
        marked = total * (1 + rule.markup_percent / HUNDRED)
        steps.append(Step(StepName.MARKUP, marked - total, marked, f"{rule.markup_percent}% markup"))
        total = marked
    rounded = rule.rounding.apply(total, rule.places)
    steps.append(Step(StepName.ROUNDING, rounded - total, rounded, rule.rounding.describe(rule.places)))
    total = _floors(item, rounded, base, rule, steps)
    return ChannelPrice(item, rule.connection_id, rule.currency, total, tuple(steps), entry and entry.ref)


def _entry_rule(entry: PriceEntry) -> str:
    until = _iso(entry.ends_at) if entry.ends_at is not None else "open-ended"
    scope = f"for {entry.connection_id}" if entry.connection_id else "for every channel"
    return f"entry {entry.ref} {scope}, {_iso(entry.starts_at)} until {until}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rate(base: BasePrice | None, rule: ChannelPriceRule) -> tuple[Decimal, str]:
    """(channel currency per base currency unit, the base currency)."""
    source = base.currency if base is not None else (rule.base_currency or rule.currency)
    if rule.base_currency is not None and source != rule.base_currency:
        raise DomainError(
            "business.currency_mismatch",
            f"the price list is in {source}, the pricing rules expect {rule.base_currency}",
            "Read the price list in the configured base_currency, or change base_currency.",
        )
    if source == rule.currency:
        return Decimal(1), source
    if rule.exchange_rate is None:
        raise DomainError(
            "business.exchange_rate_missing",
            f"{rule.connection_id} sells in {rule.currency}; no exchange rate from {source}",
            f"Add exchange_rates.{rule.currency} to the tenant's pricing section.",
        )
    return rule.exchange_rate, source


def _convert(total: Decimal, base: BasePrice | None, rule: ChannelPriceRule, steps: list[Step]) -> Decimal:
    rate, source = _rate(base, rule)
    if source == rule.currency:
        return total
    converted = total * rate
    steps.append(
        Step(StepName.CURRENCY, converted - total, converted, f"1 {source} = {rate} {rule.currency}")
    )
    return converted


def _floors(
    item: str, total: Decimal, base: BasePrice | None, rule: ChannelPriceRule, steps: list[Step]
) -> Decimal:
    lifted = False
    minor = Decimal(1).scaleb(-rule.places)
    floor = rule.map_prices.get(item)
    if floor is not None:
        raised = max(total, floor)
        steps.append(Step(StepName.MAP, raised - total, raised, f"not below MAP {floor}"))
        lifted, total = lifted or raised > total, raised
    if rule.min_margin_percent is not None:
        if base is None or base.cost is None:
            steps.append(Step(StepName.MARGIN, ZERO, total, "no cost known: margin not checked"))
        else:
            rate, _ = _rate(base, rule)
            least = (base.cost * rate * (1 + rule.min_margin_percent / HUNDRED)).quantize(
                minor, ROUND_CEILING
            )
            raised = max(total, least)
            why = f"not below cost {base.cost} + {rule.min_margin_percent}% = {least}"
            steps.append(Step(StepName.MARGIN, raised - total, raised, why))
            lifted, total = lifted or raised > total, raised
    if lifted and rule.rounding.ending is not None:
        again = rule.rounding.apply(total, rule.places, Direction.UP)
        if again != total:
            steps.append(Step(StepName.FLOOR_ROUNDING, again - total, again, "rounded up to the ending"))
            total = again
    return total
