"""One message's computations share work between items with the same inputs, and every
item still gets exactly the explanation `compute` gives it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import orjson

from crossdock.domain.availability import Inbound, Position, compute
from crossdock.domain.availability_rules import ChannelRule, SafetyStock
from crossdock.flows.inventory import evaluations
from crossdock.flows.inventory.evaluations import Evaluations

TODAY = datetime(2026, 11, 26, tzinfo=UTC)
SHOP = ChannelRule("shop", frozenset({"WH1"}), SafetyStock(Decimal(2), items={"SPECIAL": Decimal(7)}))
AMZ = ChannelRule("amz", frozenset(), share_percent=Decimal(50), inbound_horizon_days=10)


def expected(item: str, held: list[Position], reserved: Decimal, rule: ChannelRule) -> tuple[Decimal, str]:
    result = compute(item, held, reserved, rule, TODAY)
    return result.quantity, orjson.dumps(result.to_plain()).decode()


def at(item: str, on_hand: str, location: str = "WH1", inbound: tuple[Inbound, ...] = ()) -> Position:
    return Position(item, location, Decimal(on_hand), Decimal(1), Decimal(0), inbound)


CASES = [
    ("A", [at("A", "40")], Decimal(3)),
    ("B", [at("B", "40")], Decimal(3)),  # same inputs as A: shared
    ("C", [at("C", "40.0")], Decimal(3)),  # equal, but explained as 40.0
    ("D", [at("D", "40")], Decimal("3.0")),
    ("SPECIAL", [at("SPECIAL", "40")], Decimal(3)),  # its own safety stock
    ("E", [at("E", "40"), at("E", "9", "WH2", (Inbound(Decimal(5), date(2026, 11, 30)),))], Decimal(0)),
    ("F", [at("F", "40"), at("F", "9", "WH2", (Inbound(Decimal("5.0"), date(2026, 11, 30)),))], Decimal(0)),
    ("G", [at("G", "40"), at("G", "9", "WH2", (Inbound(Decimal(5), date(2026, 12, 30)),))], Decimal(0)),
    ("H", [], Decimal(0)),
]


def test_every_item_gets_the_explanation_compute_gives_it():
    evaluate = Evaluations(TODAY)
    for item, held, reserved in CASES * 2:
        for rule_no, rule in enumerate((SHOP, AMZ)):
            assert evaluate(rule_no, rule, item, held, reserved) == expected(item, held, reserved, rule), item


def test_items_with_the_same_stock_are_computed_once(monkeypatch):
    calls = []

    def counting(item, *args):
        calls.append(item)
        return compute(item, *args)

    monkeypatch.setattr(evaluations, "compute", counting)
    evaluate = Evaluations(TODAY)
    for item in ("A", "B", "C", "SPECIAL", "SPECIAL"):
        evaluate(0, SHOP, item, [at(item, "40")], Decimal(0))
    assert calls == ["A", "SPECIAL", "SPECIAL"]
