"""`python -m bench.availability`: available-to-promise evaluations per second (pure domain).

Each evaluation is one item for one channel: the item's positions at four locations
(two with inbound), open reservations, and a channel rule with every step switched on
(safety stock, share or contract units, cap, threshold, inbound horizon), explanation
included. Prints the best of a few runs; the target is ≥ 50,000 evaluations/s."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from crossdock.domain.availability import Inbound, Position, compute
from crossdock.domain.availability_rules import ChannelRule, ChannelState, SafetyStock, decide


def _positions(n_items: int) -> dict[str, list[Position]]:
    today = date(2026, 12, 1)
    out: dict[str, list[Position]] = {}
    for i in range(n_items):
        item = f"ITEM-{i:05d}"
        out[item] = [
            Position(
                item,
                f"WH{w}",
                Decimal(100 + (i * 7 + w) % 50),
                Decimal((i + w) % 9),
                Decimal(w % 2),
                (Inbound(Decimal(24), today + timedelta(days=w * 5)),) if w % 2 == 0 else (),
            )
            for w in range(4)
        ]
    return out


def _rules() -> list[ChannelRule]:
    safety = SafetyStock(Decimal(2), Decimal(10), {"ITEM-00001": Decimal(5)})
    return [
        ChannelRule(
            "shopify-main",
            frozenset({"WH0", "WH1"}),
            safety,
            share_percent=Decimal(60),
            cap=Decimal(50),
            zero_below=Decimal(3),
            inbound_horizon_days=7,
            dampen_increase_seconds=300,
        ),
        ChannelRule(
            "amazon-us",
            frozenset(),
            safety,
            contract_units=Decimal(20),
            cap=Decimal(200),
            zero_below=Decimal(5),
            inbound_horizon_days=14,
            dampen_increase_seconds=600,
        ),
    ]


def run(evaluations: int) -> float:
    items = _positions(1000)
    rules = _rules()
    keys = list(items)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    state = ChannelState(Decimal(10), 0.0, None)
    reserved = Decimal(3)
    n = 0
    start = time.perf_counter()
    while n < evaluations:
        for item in keys:
            positions = items[item]
            for rule in rules:
                result = compute(item, positions, reserved, rule, now)
                decide(result.quantity, state, rule, 1000.0)
                n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    best = max(run(args.evaluations) for _ in range(args.repeat))
    print(f"availability: {best:,.0f} evaluations/s (compute + decide, explanation included)")


if __name__ == "__main__":
    main()
