"""Message kinds of the pricing flow, all in the `pricing` stream: a burst of price changes
never delays orders or stock."""

from __future__ import annotations

# The base price list: read from the ERP on a schedule (`pricing.source` of the tenant), or
# pushed by any feed: {"source", "currency", "prices": [{"item", "price", "cost"?}], "entries"?: [...]}.
POLL = "pricing.poll"  # {"connection_id"}: read the ERP's price list, emit what changed
BASE_CHANGED = "pricing.base_changed"

# Effective-dated prices set or cancelled (API, CLI, feeds):
# {"actor", "set": [{"ref", "item", "price", "starts_at", "ends_at"?, "connection_id"?}], "cancel": [refs]}.
ENTRIES = "pricing.entries"

# An item's base price or entries changed: recompute every channel's price (ordering key: item).
CHANGED = "pricing.changed"
# The pricing rules changed (`crossdock apply`): recompute every priced item, a page at a time.
RECOMPUTE = "pricing.recompute"  # {"after"?: the last item of the previous page}
# An entry starts or ends: recompute the item (delayed; no ordering key, so it holds nothing up).
DUE = "pricing.due"

# Publish the connection's queued prices in one batch (ordering key: prices/<connection>).
PUBLISH = "pricing.publish"
# A price feed is processing: read its report (delayed; re-emitted while the channel works).
CHECK = "pricing.publish.check"
# One item the channel refused: its own exception; retrying it publishes the current price.
FAILED = "pricing.publish.failed"
