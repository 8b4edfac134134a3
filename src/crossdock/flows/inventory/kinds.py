"""Message kinds of the inventory flow. All but `availability.publish` are in the `inventory`
stream, so a backlog of stock changes never delays orders."""

from __future__ import annotations

# From the ERP or WMS (intake or a poll): stock per item × location.
SNAPSHOT = "inventory.snapshot"  # absolute values: {"source", "positions": [{item, location, on_hand, ...}]}
ADJUSTED = "inventory.adjusted"  # signed deltas: {"source", "adjustments": [{item, location, on_hand, ...}]}

# From the order flow (see `reservations.reservation_messages`), ordering key: the order reference.
RESERVE = "inventory.reserve"  # the order holds exactly these lines
RELEASE = "inventory.release"  # cancelled: the lines (or the whole order) no longer hold stock
CONVERT = "inventory.convert"  # the ERP allocated them: its `allocated` counts them from now on
CONSUME = "inventory.consume"  # shipped: they left on hand

# Items' stock or reservations changed: recompute every channel they feed ({"item"} or {"items"};
# ordering key: the items' bucket, see stock.changed).
CHANGED = "inventory.changed"
# The rules of what channels may list changed (`crossdock apply`): every item is recomputed, a
# page at a time ({"after"?: the last item of the previous page}).
RECOMPUTE = "inventory.recompute"
# A held increase may go out now (delayed; no ordering key, so it holds nothing up).
DUE = "inventory.availability.due"

# To the publishing flow (flows.availability): {"connection_id", "item", "quantity", "urgency"},
# or {"connection_id", "updates": [{"item", "quantity", "urgency"}, ...]} for several items.
PUBLISH = "availability.publish"
