"""Which items of an order the free stock cannot cover (`domain.availability.shortfalls`)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from crossdock.domain.availability import Position, Shortfall, shortfalls

POSITIONS = [
    Position("A", "WH1", on_hand=D(10), allocated=D(2), unavailable=D(1)),
    Position("A", "WH2", on_hand=D(5)),
    Position("B", "WH1", on_hand=D(3), allocated=D(3)),
]


@pytest.mark.parametrize(
    ("wanted", "others", "expected"),
    [
        ({"A": D(12)}, {}, []),  # 10 − 2 − 1 + 5 = 12 free: exactly fits
        ({"A": D(13)}, {}, [Shortfall("A", D(13), D(12))]),
        ({"A": D(5)}, {"A": D(8)}, [Shortfall("A", D(5), D(4))]),  # 12 − 8 = 4 free
        ({"B": D(1)}, {}, [Shortfall("B", D(1), D(0))]),  # everything allocated
        ({"C": D(100)}, {}, []),  # no position: not tracked, never short
        ({"A": D(0)}, {"A": D(50)}, []),  # nothing wanted
        ({"A": D(1), "B": D(1)}, {"A": D(20)}, [Shortfall("A", D(1), D(-8)), Shortfall("B", D(1), D(0))]),
    ],
)
def test_shortfalls(wanted, others, expected):
    assert shortfalls(wanted, POSITIONS, others) == expected
