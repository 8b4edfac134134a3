"""Available-to-promise: each channel rule alone and combined, publishing decisions,
reservations. Table-driven; every row also checks that the explanation adds up."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest

from crossdock.domain.availability import (
    Adjustment,
    Availability,
    Inbound,
    Position,
    Reservation,
    ReservationState,
    StepName,
    compute,
    follow_source,
    open_units,
    reserve,
    settle,
)
from crossdock.domain.availability_rules import (
    URGENCY_ORDER,
    ChannelRule,
    ChannelState,
    SafetyStock,
    Urgency,
    decide,
)

TODAY = date(2026, 12, 1)
ITEM = "CAM-BODY"
POSITIONS = (
    # 100 on hand − 10 allocated − 5 damaged; 20 arriving in 3 days, 30 in 20 days
    Position(
        ITEM,
        "WH1",
        D(100),
        D(10),
        D(5),
        (Inbound(D(20), TODAY + timedelta(3)), Inbound(D(30), TODAY + timedelta(20))),
    ),
    Position(ITEM, "WH2", D(50)),
    Position("OTHER", "WH1", D(999)),  # another item: never counts
)
ALL = 135  # 150 on hand − 10 − 5


def rule(**kw) -> ChannelRule:
    kw.setdefault("connection_id", "shop")
    if "locations" in kw:
        kw["locations"] = frozenset(kw["locations"])
    return ChannelRule(**kw)


CASES = [
    # id, reserved, rule settings, expected quantity
    ("plain: every location", 0, {}, ALL),
    ("reserved units come off", 7, {}, ALL - 7),
    ("one location", 0, {"locations": ["WH1"]}, 85),
    ("other location", 0, {"locations": ["WH2"]}, 50),
    ("unknown location holds nothing", 0, {"locations": ["WH9"]}, 0),
    ("inbound within 7 days", 0, {"inbound_horizon_days": 7}, ALL + 20),
    ("inbound within 30 days", 0, {"inbound_horizon_days": 30}, ALL + 50),
    ("inbound horizon 0: nothing arrives today", 0, {"inbound_horizon_days": 0}, ALL),
    ("inbound on the horizon's last day counts", 0, {"inbound_horizon_days": 3}, ALL + 20),
    ("safety stock units", 0, {"safety_stock": SafetyStock(units=D(10))}, 125),
    ("safety stock percent, rounded down", 0, {"safety_stock": SafetyStock(percent=D(10))}, 121),
    ("safety stock: larger of units and percent", 0, {"safety_stock": SafetyStock(D(20), D(10))}, 115),
    ("safety stock: percent larger than units", 0, {"safety_stock": SafetyStock(D(5), D(10))}, 121),
    ("safety stock: item override wins", 0, {"safety_stock": SafetyStock(D(20), D(10), {ITEM: D(3)})}, 132),
    ("safety stock: override of another item", 0, {"safety_stock": SafetyStock(items={"OTHER": D(99)})}, ALL),
    ("safety stock larger than the pool", 0, {"safety_stock": SafetyStock(units=D(500))}, 0),
    ("share 50%, rounded down", 0, {"share_percent": D(50)}, 67),
    ("share 100%", 0, {"share_percent": D(100)}, ALL),
    ("share of a negative pool is 0", 200, {"share_percent": D(50)}, 0),
    ("contract units first", 0, {"contract_units": D(35)}, 100),
    ("contract units beyond the pool", 0, {"contract_units": D(200)}, 0),
    ("cap", 0, {"cap": D(40)}, 40),
    ("cap above the pool", 0, {"cap": D(500)}, ALL),
    ("cap 0", 0, {"cap": D(0)}, 0),
    ("zero below the threshold", 0, {"zero_below": D(136)}, 0),
    ("at the threshold lists", 0, {"zero_below": D(135)}, ALL),
    ("oversold: never negative", 500, {}, 0),
    ("oversold with cap and threshold", 500, {"cap": D(10), "zero_below": D(2)}, 0),
    (
        "combined with share",
        5,  # WH1: 100 − 10 − 5 − 5 + 20 = 100; − 10% = 90; × 60% = 54; cap 40
        {
            "locations": ["WH1"],
            "inbound_horizon_days": 7,
            "safety_stock": SafetyStock(percent=D(10)),
            "share_percent": D(60),
            "cap": D(40),
            "zero_below": D(5),
        },
        40,
    ),
    (
        "combined with contract units under the threshold",
        5,  # 135 − 5 − 10 − 100 = 20 < 25
        {"safety_stock": SafetyStock(units=D(10)), "contract_units": D(100), "zero_below": D(25)},
        0,
    ),
    (
        "fractions everywhere, rounded down once",
        0,  # 135 − 20.25 = 114.75; × 33% = 37.8675
        {"safety_stock": SafetyStock(percent=D(15)), "share_percent": D(33)},
        37,
    ),
    ("share then threshold", 0, {"share_percent": D(2), "zero_below": D(3)}, 0),  # 2.7 → 2 < 3
]


@pytest.mark.parametrize(
    ("reserved", "settings", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_available_to_promise(reserved, settings, expected):
    result = compute(ITEM, POSITIONS, D(reserved), rule(**settings), datetime(2026, 12, 1, 18, 30))
    assert result.quantity == expected
    assert_explained(result)


def test_an_overdue_arrival_is_not_promised_and_the_explanation_says_so():
    """An arrival whose date has passed is late and may never come: it counted for as long as
    the stock source kept it in the list, whatever the horizon."""
    late = Position(ITEM, "WH3", D(0), inbound=(Inbound(D(40), TODAY - timedelta(1)), Inbound(D(5), TODAY)))
    result = compute(ITEM, (*POSITIONS, late), D(0), rule(inbound_horizon_days=7), datetime(2026, 12, 1, 9, 0))
    assert result.quantity == ALL + 20 + 5  # due today still counts
    step = next(s for s in result.explanation if s.name is StepName.INBOUND)
    assert "40 overdue (expected before 2026-12-01) not counted" in step.rule
    assert_explained(result)


def assert_explained(result: Availability) -> None:
    """Whole units, never negative, and the steps add up, each running total included."""
    assert result.quantity >= 0
    assert result.quantity == result.quantity.to_integral_value()
    running = D(0)
    for step in result.explanation:
        running += step.value
        assert step.total == running, step
    assert running == result.quantity


def test_fractional_stock_rounds_down_to_whole_units():
    result = compute(ITEM, [Position(ITEM, "WH1", D("10.7"))], D(0), rule(), TODAY)
    assert result.quantity == 10
    assert result.explanation[-1].name is StepName.ROUND_DOWN
    assert_explained(result)


def test_quantity_is_plain_whole_units_whatever_the_input_notation():
    result = compute(
        ITEM, [Position(ITEM, "WH1", D("1E+2")), Position(ITEM, "WH2", D("2.50"))], D(0), rule(), TODAY
    )
    assert str(result.quantity) == "102"
    assert_explained(result)


def test_explanation_names_every_configured_step_in_order():
    r = rule(
        inbound_horizon_days=7,
        safety_stock=SafetyStock(units=D(10)),
        share_percent=D(45),  # 138 × 45% = 62.1
        cap=D(40),
        zero_below=D(3),
    )
    result = compute(ITEM, POSITIONS, D(7), r, TODAY)
    names = [s.name for s in result.explanation]
    assert names == [
        StepName.ON_HAND,
        StepName.ALLOCATED,
        StepName.RESERVED,
        StepName.UNAVAILABLE,
        StepName.INBOUND,
        StepName.SAFETY_STOCK,
        StepName.SHARE,
        StepName.ROUND_DOWN,
        StepName.CAP,
        StepName.ZERO_BELOW,
    ]
    assert [str(s.value) for s in result.explanation[:4]] == ["150", "-10", "-7", "-5"]
    assert result.explanation[5].rule == "units"


def test_explanation_says_which_safety_stock_rule_applied():
    r = rule(safety_stock=SafetyStock(D(5), D(10), {ITEM: D(3)}))
    step = next(
        s for s in compute(ITEM, POSITIONS, D(0), r, TODAY).explanation if s.name is StepName.SAFETY_STOCK
    )
    assert step.value == -3 and "override" in step.rule


def test_explanation_round_trips_through_plain_json():
    r = rule(inbound_horizon_days=7, share_percent=D(33))
    result = compute(ITEM, POSITIONS, D(1), r, TODAY)
    assert Availability.from_plain(result.to_plain()) == result


def test_share_and_contract_units_are_exclusive():
    with pytest.raises(ValueError, match="not both"):
        rule(share_percent=D(50), contract_units=D(5))


@pytest.mark.parametrize(
    ("locations", "feeds"),
    [((), True), (("WH1",), True), (("WH9",), False), (("WH9", "WH2"), True)],
)
def test_a_rule_feeds_from_its_locations(locations, feeds):
    assert rule(locations=locations).feeds_from({"WH1", "WH2"}) is feeds


# -- publishing decisions --------------------------------------------------------------------

NOW = 1000.0
DECISIONS = [
    # id, published, pending since, new, rule settings, → publish, urgency, pending since, due at
    ("unchanged", 10, None, 10, {}, False, None, None, None),
    (
        "unchanged clears a held increase",
        10,
        900.0,
        10,
        {"dampen_increase_seconds": 300},
        False,
        None,
        None,
        None,
    ),
    ("never published", None, None, 5, {}, True, Urgency.DECREASE, None, None),
    ("never published, sold out", None, None, 0, {}, True, Urgency.TO_ZERO, None, None),
    ("never published, low", None, None, 2, {"zero_below": D(3)}, True, Urgency.LOW_STOCK, None, None),
    ("decrease", 10, None, 8, {}, True, Urgency.DECREASE, None, None),
    ("decrease to zero", 10, None, 0, {}, True, Urgency.TO_ZERO, None, None),
    ("decrease to low stock", 10, None, 3, {"low_stock": D(5)}, True, Urgency.LOW_STOCK, None, None),
    (
        "low stock defaults to zero_below",
        10,
        None,
        4,
        {"zero_below": D(4)},
        True,
        Urgency.LOW_STOCK,
        None,
        None,
    ),
    (
        "decrease is never dampened",
        10,
        None,
        9,
        {"dampen_increase_seconds": 300},
        True,
        Urgency.DECREASE,
        None,
        None,
    ),
    (
        "decrease drops a held increase",
        10,
        900.0,
        4,
        {"dampen_increase_seconds": 300},
        True,
        Urgency.DECREASE,
        None,
        None,
    ),
    ("increase without dampening", 10, None, 12, {}, True, Urgency.INCREASE, None, None),
    ("increase is held", 10, None, 12, {"dampen_increase_seconds": 300}, False, None, NOW, NOW + 300),
    ("increase still held", 10, 800.0, 15, {"dampen_increase_seconds": 300}, False, None, 800.0, 1100.0),
    (
        "increase held long enough",
        10,
        700.0,
        15,
        {"dampen_increase_seconds": 300},
        True,
        Urgency.INCREASE,
        None,
        None,
    ),
    (
        "increase from zero goes at once",
        0,
        None,
        5,
        {"dampen_increase_seconds": 300},
        True,
        Urgency.INCREASE,
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("published", "pending", "new", "settings", "publish", "urgency", "pending_after", "due_at"),
    [c[1:] for c in DECISIONS],
    ids=[c[0] for c in DECISIONS],
)
def test_publishing_decision(published, pending, new, settings, publish, urgency, pending_after, due_at):
    last = None if published is None else D(published)
    state = ChannelState(last, 500.0 if last is not None else None, pending)
    d = decide(D(new), state, rule(**settings), NOW)
    assert (d.publish, d.urgency, d.pending_since, d.due_at) == (publish, urgency, pending_after, due_at)
    assert d.quantity == new


def test_urgency_order_puts_selling_out_first():
    assert URGENCY_ORDER == (Urgency.TO_ZERO, Urgency.LOW_STOCK, Urgency.DECREASE, Urgency.INCREASE)


# -- reservations -------------------------------------------------------------------------------

R, C, X, S = (
    ReservationState.RESERVED,
    ReservationState.CONVERTED,
    ReservationState.RELEASED,
    ReservationState.CONSUMED,
)


def held(*specs: str) -> list[Reservation]:
    """ "A:3:reserved" → item A, 3 units wanted, reserved; "A:3:reserved:2" → 2 of them converted
    (the stock source allocates them to the order)."""
    rows = []
    for spec in specs:
        i, q, s, *c = spec.split(":")
        rows.append(Reservation("o-1", i, D(q), ReservationState(s), D(c[0]) if c else D(0)))
    return rows


def lines(*specs: str) -> list[tuple[str, D]]:
    return [(i, D(q)) for i, q in (x.split(":") for x in specs)]


RESERVE = [
    ("fresh order", [], lines("A:3", "B:2"), held("A:3:reserved", "B:2:reserved")),
    ("the same lines again change nothing", held("A:3:reserved", "B:2:reserved"), lines("A:3", "B:2"), []),
    (
        "an edit: more of A, no more B",
        held("A:3:reserved", "B:2:reserved"),
        lines("A:5"),
        held("A:5:reserved", "B:0:released"),
    ),
    ("lines of one item add up", [], lines("A:1", "A:2"), held("A:3:reserved")),
    ("converted rows stay settled", held("A:0:converted"), lines("A:3"), []),
    ("released rows are reserved again", held("A:0:released"), lines("A:3"), held("A:3:reserved")),
]


@pytest.mark.parametrize(
    ("before", "wanted", "changed"), [c[1:] for c in RESERVE], ids=[c[0] for c in RESERVE]
)
def test_reserve_holds_exactly_the_order_lines(before, wanted, changed):
    assert reserve(before, "o-1", wanted) == changed


SETTLE = [
    (
        "convert the whole order",
        held("A:3:reserved", "B:2:reserved:1"),
        None,
        C,
        held("A:3:reserved:3", "B:2:reserved:2"),
    ),
    ("convert part of a line", held("A:3:reserved"), lines("A:1"), C, held("A:3:reserved:1")),
    # whether the source had allocated the released units, only its own entries say
    ("release leaves what the source converted", held("A:5:reserved:3"), lines("A:2"), X, held("A:3:reserved:3")),
    ("consume part of a line", held("A:3:reserved"), lines("A:1"), S, held("A:2:reserved")),
    ("consume more than is open", held("A:3:reserved"), lines("A:5"), S, held("A:0:consumed")),
    ("release one line of two", held("A:3:reserved", "B:2:reserved"), lines("B:2"), X, held("B:0:released")),
    ("unknown items are ignored", held("A:3:reserved"), lines("Z:1"), X, []),
    ("settled rows are left alone", held("A:0:converted", "B:2:reserved"), None, X, held("B:0:released")),
    ("twice in a row: nothing the second time", held("A:0:consumed"), lines("A:3"), S, []),
]


@pytest.mark.parametrize(
    ("before", "taken", "state", "changed"), [c[1:] for c in SETTLE], ids=[c[0] for c in SETTLE]
)
def test_settle_takes_units_out_of_the_open_reservation(before, taken, state, changed):
    assert settle(before, taken, state) == changed


def test_only_units_the_orders_hold_themselves_weigh_on_availability():
    rows = held("A:3:reserved", "B:2:converted", "C:4:reserved:1", "D:0:released:2", "E:2:reserved:5", "F:1:reserved:-4")
    assert open_units(rows) == 7  # 3 of A, 3 of C, 1 of F; E's source allocates more than it wants


FOLLOW = [
    # id, rows, per item (allocated change, units that left on hand), changed rows
    ("an allocation converts", held("A:5:reserved"), {"A": (D(5), D(0))}, held("A:5:reserved:5")),
    ("a shipment of allocated units", held("A:5:reserved:5"), {"A": (D(-5), D(5))}, held("A:0:consumed:0")),
    ("a shipment beyond the allocation", held("A:5:reserved:2"), {"A": (D(-2), D(5))}, held("A:0:consumed:0")),
    ("part of it shipped from the allocation", held("A:5:reserved:2"), {"A": (D(-2), D(2))}, held("A:3:reserved:0")),
    ("a deallocation gives the units back", held("A:5:reserved:5"), {"A": (D(-2), D(0))}, held("A:5:reserved:3")),
    ("a released row keeps the sum", held("A:0:released:5"), {"A": (D(-5), D(0))}, held("A:0:released:0")),
    ("a shipment before its allocation", held("A:5:reserved"), {"A": (D(-4), D(4))}, held("A:1:reserved:-4")),
    ("other items are left alone", held("A:5:reserved"), {"B": (D(5), D(0))}, []),
]


@pytest.mark.parametrize(("before", "moves", "changed"), [c[1:] for c in FOLLOW], ids=[c[0] for c in FOLLOW])
def test_an_orders_hold_follows_its_stock_source(before, moves, changed):
    assert follow_source(before, moves) == changed


def test_an_adjustment_adds_to_a_position_and_keeps_inbound_unless_reported():
    arriving = (Inbound(D(5), TODAY),)
    before = Position(ITEM, "WH1", D(10), D(2), D(1), arriving)
    after = Adjustment(ITEM, "WH1", on_hand=D(-3), allocated=D(1)).applied_to(before)
    assert after == Position(ITEM, "WH1", D(7), D(3), D(1), arriving)
    fresh = Adjustment(ITEM, "WH9", on_hand=D(4), inbound=()).applied_to(None)
    assert fresh == Position(ITEM, "WH9", D(4))
