"""Routing: which warehouse releases which order lines, and what waits as a backorder.

Candidates for a destination come from the tenant's region priority list (the most
specific of ``US-CA``, ``US``, ``*``), or else every warehouse in declared order; only
warehouses that serve the destination stay. Then, by policy:

- `SPLIT`: each line goes to the first candidate with stock for all of it; with
  `split_lines`, a line takes what each candidate has, in priority order.
- `SHIP_COMPLETE`: the first candidate with stock for the whole order takes it all.
  If none can, `fallback` decides: backorder everything, or send what the best single
  warehouse can serve (most lines, then most units, then priority) and backorder the rest.

Whatever no candidate can serve is backordered. The plan is deterministic: the same
order, rules and stock always give the same plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from crossdock.domain.errors import DomainError
from crossdock.domain.mapping_rules import MappedOrder, upper
from crossdock.domain.parties import Address

Stock = Mapping[tuple[str, str], Decimal]  # (warehouse code, item code) → units on hand
ZERO = Decimal(0)


class WarehouseKind(StrEnum):
    INTERNAL = "internal"  # the distributor's own warehouse
    THIRD_PARTY = "3pl"  # a third-party logistics provider


class RoutingPolicy(StrEnum):
    SHIP_COMPLETE = "ship_complete"  # one warehouse ships the whole order
    SPLIT = "split"  # lines may ship from different warehouses


class ShipCompleteFallback(StrEnum):
    BACKORDER = "backorder"  # no single warehouse can ship it all: hold everything
    BEST_SINGLE = "best_single"  # ship what the best single warehouse can, hold the rest


@dataclass(frozen=True, slots=True)
class Warehouse:
    """A place stock ships from. Serves `countries` and `regions` (``US-CA``); with
    neither, it serves everywhere."""

    code: str
    kind: WarehouseKind = WarehouseKind.INTERNAL
    countries: frozenset[str] = field(default_factory=frozenset)
    regions: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", WarehouseKind(self.kind))
        object.__setattr__(self, "countries", frozenset(c.upper() for c in self.countries))
        object.__setattr__(self, "regions", frozenset(r.upper() for r in self.regions))

    def serves(self, country: str | None, region: str | None) -> bool:
        if not self.countries and not self.regions:
            return True
        return country in self.countries or f"{country}-{region}" in self.regions


@dataclass(frozen=True)
class RoutingRules:
    warehouses: tuple[Warehouse, ...]
    priorities: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # US-CA | US | *
    policy: RoutingPolicy = RoutingPolicy.SPLIT
    split_lines: bool = False
    fallback: ShipCompleteFallback = ShipCompleteFallback.BACKORDER

    def __post_init__(self) -> None:
        object.__setattr__(self, "warehouses", tuple(self.warehouses))
        object.__setattr__(self, "policy", RoutingPolicy(self.policy))
        object.__setattr__(self, "fallback", ShipCompleteFallback(self.fallback))
        known = {w.code for w in self.warehouses}
        priorities = {k.upper(): tuple(v) for k, v in sorted(self.priorities.items())}
        unknown = sorted({c for codes in priorities.values() for c in codes} - known)
        if len(known) != len(self.warehouses) or unknown:
            raise DomainError(
                "validation.invalid_rule", f"routing: duplicate or unknown warehouses {unknown}"
            )
        object.__setattr__(self, "priorities", MappingProxyType(priorities))

    def candidates(self, country: str | None, region: str | None) -> tuple[str, ...]:
        """Warehouses that may ship to the destination, best first."""
        keys = [f"{country}-{region}" if country and region else None, country, "*"]
        listed = next((self.priorities[k] for k in keys if k in self.priorities), None)
        codes = listed if listed is not None else tuple(w.code for w in self.warehouses)
        by_code = {w.code: w for w in self.warehouses}
        return tuple(c for c in codes if by_code[c].serves(country, region))


@dataclass(frozen=True, slots=True)
class RouteLine:
    """Units of one order line: `quantity` of `item_code`, in the item's ERP unit."""

    line_id: str
    item_code: str
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Release:
    """Lines one warehouse is asked to ship."""

    warehouse: str
    lines: tuple[RouteLine, ...]


@dataclass(frozen=True, slots=True)
class RoutingPlan:
    releases: tuple[Release, ...]  # in candidate priority order
    backorders: tuple[RouteLine, ...]

    @property
    def is_complete(self) -> bool:
        return not self.backorders

    def released_to(self, warehouse: str) -> tuple[RouteLine, ...]:
        return next((r.lines for r in self.releases if r.warehouse == warehouse), ())


def lines_of(mapped: MappedOrder) -> list[RouteLine]:
    """The lines of a mapped order, in ERP units, ready to route."""
    return [RouteLine(line.line_id, line.item_code, line.quantity.value) for line in mapped.lines]


def route(
    lines: Sequence[RouteLine], ship_to: Address | None, rules: RoutingRules, stock: Stock
) -> RoutingPlan:
    """The routing plan for `lines` going to `ship_to`, given stock on hand."""
    country = upper(ship_to.country) if ship_to else None
    region = upper(ship_to.region) if ship_to else None
    candidates = rules.candidates(country, region)
    if rules.policy is RoutingPolicy.SPLIT:
        return _plan(lines, candidates, _split(lines, candidates, stock, rules.split_lines))
    single = next((w for w in candidates if _serves_all(w, lines, stock)), None)
    if single is not None:
        return RoutingPlan((Release(single, tuple(lines)),), ())
    if rules.fallback is ShipCompleteFallback.BACKORDER or not candidates:
        return RoutingPlan((), tuple(lines))
    best = max(candidates, key=lambda w: _score(lines, w, stock, rules.split_lines, candidates))
    return _plan(lines, candidates, _split(lines, (best,), stock, rules.split_lines))


def _serves_all(warehouse: str, lines: Iterable[RouteLine], stock: Stock) -> bool:
    demand: dict[str, Decimal] = {}
    for line in lines:
        demand[line.item_code] = demand.get(line.item_code, ZERO) + line.quantity
    return all(stock.get((warehouse, item), ZERO) >= qty for item, qty in demand.items())


def _score(lines, warehouse: str, stock: Stock, split_lines: bool, order: tuple[str, ...]):
    taken = _split(lines, (warehouse,), stock, split_lines)
    full = sum(1 for line in lines if taken.get((line.line_id, warehouse), ZERO) == line.quantity)
    units = sum(taken.values(), ZERO)
    return (full, units, -order.index(warehouse))


def _split(
    lines: Sequence[RouteLine], candidates: Sequence[str], stock: Stock, split_lines: bool
) -> dict[tuple[str, str], Decimal]:
    """Units taken per (line id, warehouse), consuming a copy of `stock` line by line."""
    left = {key: max(qty, ZERO) for key, qty in stock.items()}
    taken: dict[tuple[str, str], Decimal] = {}
    for line in lines:
        need = line.quantity
        for warehouse in candidates:
            have = left.get((warehouse, line.item_code), ZERO)
            qty = min(have, need) if split_lines else (need if have >= need else ZERO)
            if qty > 0:
                taken[(line.line_id, warehouse)] = qty
                left[(warehouse, line.item_code)] = have - qty
                need -= qty
            if need == 0:
                break
    return taken


def _plan(
    lines: Sequence[RouteLine], candidates: Sequence[str], taken: Mapping[tuple[str, str], Decimal]
) -> RoutingPlan:
    releases = []
    for warehouse in candidates:
        picked = tuple(
            RouteLine(line.line_id, line.item_code, taken[(line.line_id, warehouse)])
            for line in lines
            if (line.line_id, warehouse) in taken
        )
        if picked:
            releases.append(Release(warehouse, picked))
    backorders = []
    for line in lines:
        served = sum((q for (lid, _), q in taken.items() if lid == line.line_id), ZERO)
        if served < line.quantity:
            backorders.append(RouteLine(line.line_id, line.item_code, line.quantity - served))
    return RoutingPlan(tuple(releases), tuple(backorders))
