"""One `inventory.changed` message's availability computations, each distinct input once.

The items of one stock report often hold the same stock (a pallet of each colour, a dozen
of each size, the many items at 0), and an item's quantity and explanation steps depend on
the channel rule, its positions' quantities and its open reservations — on the item itself
only through a safety-stock override for it. So items with the same inputs share one
`compute` and one rendering of the steps as JSON; the explanation stored per item is that
rendering with the item's name around it, byte for byte what `Availability.to_plain()`
dumps. The memo lives for one message: rules and the day are fixed within it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import orjson

from crossdock.domain.availability import Availability, Position, compute
from crossdock.domain.availability_rules import ChannelRule


class Evaluations:
    def __init__(self, today: datetime) -> None:
        self._today = today
        self._seen: dict[tuple, tuple[Decimal, orjson.Fragment]] = {}

    def __call__(
        self, rule_no: int, rule: ChannelRule, item: str, held: Sequence[Position], reserved: Decimal
    ) -> tuple[Decimal, str]:
        """The quantity `rule` (the message's `rule_no`-th) allows for `item`, and its
        explanation as the JSON text `channel_availability` stores."""
        if item in rule.safety_stock.items:
            return _rendered(compute(item, held, reserved, rule, self._today))  # the steps name the item
        key = (rule_no, _text_key(reserved), tuple(_position_key(p) for p in held))
        known = self._seen.get(key)
        if known is None:
            result = compute(item, held, reserved, rule, self._today)
            steps = orjson.Fragment(orjson.dumps(result.to_plain()["explanation"]))
            known = self._seen[key] = (result.quantity, steps)
        quantity, steps = known
        explanation = {"item": item, "connection_id": rule.connection_id, "quantity": str(quantity),
                       "explanation": steps}  # fmt: skip
        return quantity, orjson.dumps(explanation).decode()


def _rendered(result: Availability) -> tuple[Decimal, str]:
    return result.quantity, orjson.dumps(result.to_plain()).decode()


def _text_key(value: Decimal) -> str:
    # As text, not as a Decimal: 5 and 5.0 are equal but explained as "5" and "5.0".
    return str(value)


def _position_key(p: Position) -> tuple:
    inbound = tuple((str(i.quantity), i.expected) for i in p.inbound) if p.inbound else ()
    return (p.location, str(p.on_hand), str(p.allocated), str(p.unavailable), inbound)
