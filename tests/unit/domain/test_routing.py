"""Routing: which warehouse releases which lines, and what is backordered. Table-driven."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crossdock.domain.errors import DomainError
from crossdock.domain.parties import Address
from crossdock.domain.routing import (
    RouteLine,
    RoutingPolicy,
    RoutingRules,
    ShipCompleteFallback,
    Warehouse,
    WarehouseKind,
    route,
)

WAREHOUSES = (
    Warehouse("DAL", countries=frozenset({"US"})),
    Warehouse("RNO", regions=frozenset({"US-CA", "US-NV"})),
    Warehouse("TOR-3PL", WarehouseKind.THIRD_PARTY, countries=frozenset({"CA"})),
)
PRIORITIES = {"US-CA": ("RNO", "DAL"), "US": ("DAL", "RNO"), "CA": ("DAL", "TOR-3PL"), "*": ("DAL",)}
FRESNO = Address(country="US", region="CA")
AUSTIN = Address(country="US", region="TX")
TORONTO = Address(country="CA", region="ON")


def rules(policy="split", split_lines=False, fallback="backorder") -> RoutingRules:
    return RoutingRules(
        WAREHOUSES, PRIORITIES, RoutingPolicy(policy), split_lines, ShipCompleteFallback(fallback)
    )


def lines(*specs: str) -> list[RouteLine]:
    """ "L1:A:5" → line L1, item A, 5 units."""
    return [RouteLine(lid, item, Decimal(qty)) for lid, item, qty in (s.split(":") for s in specs)]


def stock(**by_warehouse: str) -> dict[tuple[str, str], Decimal]:
    """DAL="A:5 B:1" → 5 of A and 1 of B in DAL."""
    return {
        (wh.replace("_", "-"), item): Decimal(qty)
        for wh, spec in by_warehouse.items()
        for item, qty in (pair.split(":") for pair in spec.split())
    }


def shape(plan) -> tuple[dict[str, list[str]], list[str]]:
    released = {
        r.warehouse: [f"{x.line_id}:{x.item_code}:{x.quantity}" for x in r.lines] for r in plan.releases
    }
    return released, [f"{x.line_id}:{x.item_code}:{x.quantity}" for x in plan.backorders]


CASES = {
    # name: (rules, lines, destination, stock, expected releases, expected backorders)
    "test_first_warehouse_in_the_region_priority_with_stock_serves_the_line": (
        rules(), lines("L1:A:5"), FRESNO, stock(RNO="A:5", DAL="A:9"), {"RNO": ["L1:A:5"]}, [],
    ),
    "test_next_warehouse_in_priority_serves_when_the_first_is_short": (
        rules(), lines("L1:A:5"), FRESNO, stock(RNO="A:4", DAL="A:9"), {"DAL": ["L1:A:5"]}, [],
    ),
    "test_split_sends_each_line_to_its_own_first_warehouse_with_stock": (
        rules(), lines("L1:A:2", "L2:B:3"), FRESNO, stock(RNO="A:2", DAL="B:3"),
        {"RNO": ["L1:A:2"], "DAL": ["L2:B:3"]}, [],
    ),
    "test_a_line_splits_across_warehouses_when_allowed": (
        rules(split_lines=True), lines("L1:A:5"), FRESNO, stock(RNO="A:3", DAL="A:1"),
        {"RNO": ["L1:A:3"], "DAL": ["L1:A:1"]}, ["L1:A:1"],
    ),
    "test_a_line_is_backordered_whole_when_it_may_not_split_and_no_warehouse_has_it_all": (
        rules(), lines("L1:A:5"), FRESNO, stock(RNO="A:3", DAL="A:1"), {}, ["L1:A:5"],
    ),
    "test_two_lines_of_one_item_do_not_count_the_same_stock_twice": (
        rules(), lines("L1:A:3", "L2:A:3"), FRESNO, stock(RNO="A:4", DAL="A:3"),
        {"RNO": ["L1:A:3"], "DAL": ["L2:A:3"]}, [],
    ),
    "test_ship_complete_takes_the_first_warehouse_that_has_everything": (
        rules("ship_complete"), lines("L1:A:2", "L2:B:3"), FRESNO, stock(RNO="A:2", DAL="A:2 B:3"),
        {"DAL": ["L1:A:2", "L2:B:3"]}, [],
    ),
    "test_ship_complete_backorders_when_no_single_warehouse_can_serve": (
        rules("ship_complete"), lines("L1:A:2", "L2:B:3"), FRESNO, stock(RNO="A:2", DAL="B:3"),
        {}, ["L1:A:2", "L2:B:3"],
    ),
    "test_ship_complete_best_single_ships_what_the_best_warehouse_can_and_backorders_the_rest": (
        rules("ship_complete", fallback="best_single"), lines("L1:A:2", "L2:B:3", "L3:C:1"), FRESNO,
        stock(RNO="A:2", DAL="B:3 C:1"), {"DAL": ["L2:B:3", "L3:C:1"]}, ["L1:A:2"],
    ),
    "test_best_single_prefers_more_lines_over_more_units": (
        rules("ship_complete", fallback="best_single"), lines("L1:A:1", "L2:B:1", "L3:C:9"), FRESNO,
        stock(RNO="A:1 B:1", DAL="C:9"), {"RNO": ["L1:A:1", "L2:B:1"]}, ["L3:C:9"],
    ),
    "test_the_country_list_applies_where_no_region_list_exists": (
        rules(), lines("L1:A:1"), AUSTIN, stock(RNO="A:1", DAL="A:1"), {"DAL": ["L1:A:1"]}, [],
    ),
    "test_best_single_ties_go_to_the_warehouse_first_in_priority": (
        rules("ship_complete", fallback="best_single"), lines("L1:A:2", "L2:B:2"), FRESNO,
        stock(RNO="A:2", DAL="B:2"), {"RNO": ["L1:A:2"]}, ["L2:B:2"],
    ),
    "test_warehouses_that_do_not_serve_the_destination_are_skipped": (
        rules(), lines("L1:A:1"), TORONTO, stock(DAL="A:5", **{"TOR_3PL": "A:1"}), {"TOR-3PL": ["L1:A:1"]}, [],
    ),
    "test_a_destination_no_warehouse_serves_is_backordered": (
        rules(), lines("L1:A:1"), Address(country="MX"), stock(DAL="A:5"), {}, ["L1:A:1"],
    ),
    "test_an_order_without_address_backorders_everything_no_warehouse_serves_blindly": (
        rules(), lines("L1:A:1"), None, stock(DAL="A:5"), {}, ["L1:A:1"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_routing_rules(case):
    rule, order_lines, ship_to, on_hand, releases, backorders = case
    plan = route(order_lines, ship_to, rule, on_hand)
    assert shape(plan) == (releases, backorders)
    assert plan.is_complete is (not backorders)


def test_the_same_inputs_always_give_the_same_plan():
    args = (lines("L1:A:5", "L2:B:2"), FRESNO, rules(split_lines=True), stock(RNO="A:3 B:1", DAL="A:3 B:5"))
    assert len({route(*args) for _ in range(5)}) == 1


def test_without_a_priority_list_warehouses_are_tried_in_declared_order():
    plain = RoutingRules(WAREHOUSES)
    plan = route(lines("L1:A:1"), FRESNO, plain, stock(DAL="A:1", RNO="A:1"))
    assert [r.warehouse for r in plan.releases] == ["DAL"]


def test_priorities_naming_an_unknown_warehouse_are_refused():
    with pytest.raises(DomainError, match="PHX"):
        RoutingRules(WAREHOUSES, {"US": ("PHX",)})
