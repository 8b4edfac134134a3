"""Walmart quantities: the bulk inventory feed (`POST /v3/feeds?feedType=inventory`).

One feed per publish (multipart `file`, the JSON feed of `codec.encode_inventory_feed`),
within Walmart's 10 inventory feeds per hour: a sliding window per connection (and process);
a publish past it raises a local ThrottledError before anything is sent, and a feed refused
with a throttle gives its slot back. `check` pages through the feed's
item details (`includeDetails=true`) and answers each update's outcome, or None while
Walmart is still processing.
"""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import orjson

from crossdock.connectors.inventory_publishing import (
    ItemFailure,
    PendingFeed,
    PublishResult,
    StockUpdate,
    check_batch,
    failures,
)
from crossdock.connectors.quota import QuotaSlot, quota_of
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.walmart.client import WalmartClient
from crossdock.connectors.walmart.codec import (
    FEED_TYPE,
    decode_feed_status,
    encode_inventory_feed,
    items_received,
)
from crossdock.connectors.walmart.config import WalmartConfig
from crossdock.errors import ThrottledError, TransientError

FEED_WINDOW_S = 3600.0
WINDOW_KEY = "walmart.inventory_feed_window"
MAX_STATUS_PAGES = 100


class WalmartInventoryPublisher:
    """`InventoryPublisher` for one Walmart seller (opened config)."""

    channel = "walmart"

    def __init__(self, config: WalmartConfig, ctx: ConnectorContext) -> None:
        self.config, self.ctx = config, ctx
        self.client = WalmartClient(config, ctx)
        self.max_batch = config.max_feed_items

    async def reserve_slot(self) -> QuotaSlot:
        """Take one of the connection's inventory feeds of the hour (for every worker process
        together), or raise a local ThrottledError (Walmart was not asked, nothing is paused)."""
        quota = quota_of(self.ctx)
        return await quota.take(WINDOW_KEY, self.config.feeds_per_hour, FEED_WINDOW_S, "Walmart inventory feeds",
                                self.ctx.clock())  # fmt: skip

    async def publish(self, updates: list[StockUpdate]) -> PublishResult:
        check_batch(updates, self.max_batch, self.channel)
        bad = [u for u in updates if u.quantity < 0]
        result = PublishResult(
            failed=failures(bad, ItemFailure("validation.negative_quantity", "quantity < 0"))
        )
        batch = [u for u in updates if u.quantity >= 0]
        if not batch:
            return result
        slot = await self.reserve_slot()
        document = orjson.dumps(encode_inventory_feed(batch))
        form = aiohttp.FormData()
        form.add_field("file", document, filename="inventory.json", content_type="application/json")
        params = {"feedType": FEED_TYPE}
        if self.config.ship_node:
            params["shipNode"] = self.config.ship_node
        try:
            answer = await self.client.call("updateBulkInventory", "POST", "/v3/feeds", params=params,
                                            data=form, body_text=document)  # fmt: skip
        except ThrottledError:  # refused (Walmart's 429 or the hub's gate): no feed was created
            await slot.give_back()
            raise
        slot.keep()
        feed_id = (answer.body or {}).get("feedId") if isinstance(answer.body, dict) else None
        if not feed_id:
            raise TransientError("Walmart accepted the inventory feed without a feedId", ambiguous=True)
        pending = PendingFeed(str(feed_id), tuple(u.key for u in batch), tuple(u.channel_ref for u in batch))
        return result.merge(PublishResult(pending=pending.encode()))

    async def check(self, pending: str) -> PublishResult | None:
        token = PendingFeed.decode(pending)
        path = f"/v3/feeds/{quote(token.feed_id, safe='')}"
        pages, offset, size = [], 0, self.config.status_page_size
        for _ in range(MAX_STATUS_PAGES):
            params = {"includeDetails": "true", "offset": str(offset), "limit": str(size)}
            body = (await self.client.call("getFeedItemStatus", "GET", path, params=params)).body
            pages.append(body)
            if decode_feed_status(pages[:1], token) is None or not isinstance(body, dict):
                return None  # still processing: item details come later
            offset += size
            if offset >= items_received(body):
                break
        return decode_feed_status(pages, token)
