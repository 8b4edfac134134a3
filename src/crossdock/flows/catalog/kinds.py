"""Message kinds of the catalog flow, all in the `catalog` stream (a catalog backlog never
delays orders or stock)."""

from __future__ import annotations

# Pull the item master from the tenant's source, one page per message (scheduled, or
# `crossdock catalog sync`): {"connection_id"?, "after"?}. Ordering key: `sync/<source>`.
SYNC = "catalog.sync"
# Item master records from a pull or from intake: {"source", "items": [record, ...]}.
ITEMS = "catalog.items"
# Bring one item's listing on one channel connection up to date: {"item", "connection_id",
# "rejected_in_feed"?}. Ordering key `<connection>/<item>`. Parks when a required attribute
# is missing or the channel refused the listing: the per-item exception.
PUBLISH_ITEM = "catalog.item.publish"
# Send the connection's queued listings as one Amazon listings feed: {"connection_id"}.
# Ordering key `feed/<connection>`, so one connection's feeds are built one at a time.
FEED_PUBLISH = "catalog.feed.publish"
# Read a submitted feed's processing report: {"connection_id", "feed_id", "round"}.
FEED_CHECK = "catalog.feed.check"
