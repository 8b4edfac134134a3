"""Message kinds of the publishing flow, all in the `availability` stream, so a backlog of
stock work (`inventory`) never delays a channel's publishing and orders never wait for either."""

from __future__ import annotations

from crossdock.flows.inventory.kinds import PUBLISH
from crossdock.store.publishing import FLUSH_KIND, ITEM_KIND, RECONCILE_KIND

# Take the connection's most urgent queued values to its bulk API (ordering key: the connection).
FLUSH = FLUSH_KIND
# A submitted feed: ask the channel for its processing report (delayed, no ordering key).
CHECK = "availability.check"
# One item the channel refused: parks as its own exception; a retry re-publishes the item's
# current value (ordering key: `<connection>/<item>`).
ITEM = ITEM_KIND
# Compare what the channel shows with what it should show, one page of items per message.
RECONCILE = RECONCILE_KIND

__all__ = ["CHECK", "FLUSH", "ITEM", "PUBLISH", "RECONCILE"]
