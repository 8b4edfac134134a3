"""Amazon prices: the listings feed's `purchasable_offer` price attribute (JSON_LISTINGS_FEED
through the Feeds API), the processing report read back per message, and
`patchListingsItem` for one price at once (an operator retrying one item).

Price feeds share the JSON_LISTINGS_FEED allowance (5 feeds per 5 minutes per seller) with
quantity feeds: both take their slot from the same per-connection window before any
effect, so a refused publish changed nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from crossdock.connectors.amazon.client import SpApiClient
from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.amazon.feeds import LISTINGS, ListingsFeeds, failures_by_key
from crossdock.connectors.amazon.listings import DEFAULT_PRODUCT_TYPE, MAX_MESSAGES
from crossdock.connectors.amazon.offers import (
    decode_price_report,
    decode_price_submission,
    encode_patch_price,
    encode_price_feed,
)
from crossdock.connectors.inventory_publishing import ItemFailure, PendingFeed, PublishResult
from crossdock.connectors.price_publishing import PriceUpdate
from crossdock.connectors.registry import ConnectorContext
from crossdock.errors import PermanentError

_WAITING = frozenset({"IN_QUEUE", "IN_PROGRESS"})


class AmazonPricePublisher:
    """`PricePublisher` for one Amazon seller (opened config; `seller_id` required)."""

    channel = "amazon"
    max_batch = MAX_MESSAGES

    def __init__(
        self, config: AmazonConfig, ctx: ConnectorContext, *, product_type: str = DEFAULT_PRODUCT_TYPE
    ) -> None:
        self.config, self.ctx, self.product_type = config, ctx, product_type
        self.feeds = ListingsFeeds(SpApiClient(config, ctx))

    @property
    def seller_id(self) -> str:
        if not self.config.seller_id:
            raise PermanentError(
                "config.seller_id_missing",
                "the Amazon connection has no seller_id; listings feeds and patches need it",
                "Set seller_id (the merchant token, Seller Central → Account Info) on the connection.",
            )
        return self.config.seller_id

    async def publish(self, updates: list[PriceUpdate]) -> PublishResult:
        if len(updates) > self.max_batch:
            raise ValueError(f"amazon: {len(updates)} prices in one publish; at most {self.max_batch}")
        seller = self.seller_id
        bad = [u for u in updates if u.price < 0]
        result = PublishResult(
            failed={u.key: ItemFailure("validation.negative_price", f"price {u.price}") for u in bad}
        )
        batch = [u for u in updates if u.price >= 0]
        if not batch:
            return result
        slot = await self.feeds.reserve_slot()  # before any effect: a refused publish changed nothing
        document = encode_price_feed(
            batch, seller, self.config.marketplace_ids, product_type=self.product_type
        )
        feed_id = await self.feeds.submit(document, self.config.marketplace_ids, slot)
        pending = PendingFeed(feed_id, tuple(u.key for u in batch), tuple(u.channel_ref for u in batch))
        return result.merge(PublishResult(pending=pending.encode()))

    async def check(self, pending: str) -> PublishResult | None:
        token = PendingFeed.decode(pending)
        feed = await self.feeds.feed(token.feed_id)
        status = str(feed.get("processingStatus"))
        if status in _WAITING:
            return None
        if status == "DONE" and feed.get("resultFeedDocumentId"):
            report = await self.feeds.report(str(feed["resultFeedDocumentId"]))
            return decode_price_report(report, token)
        failure = ItemFailure(
            "remote.feed_not_processed",
            f"Amazon price feed {token.feed_id} ended {status} without a processing report",
            "Retry to publish these prices again; if feeds keep failing, check the feed in Seller Central.",
        )
        return PublishResult(failed=failures_by_key(token.keys, failure))

    async def publish_one(self, update: PriceUpdate) -> ItemFailure | None:
        """One price at once through patchListingsItem (5 per second)."""
        path = f"{LISTINGS}/{quote(self.seller_id, safe='')}/{quote(update.channel_ref, safe='')}"
        params = {"marketplaceIds": ",".join(self.config.marketplace_ids), "issueLocale": "en_US"}
        body = encode_patch_price(update, self.config.marketplace_ids, self.product_type)
        try:
            answer = await self.feeds.client.call(
                "patchListingsItem", "PATCH", path, params=params, body=body
            )
        except PermanentError as error:
            if error.category in ("remote.not_found", "remote.rejected"):
                return ItemFailure.of(error)
            raise
        return decode_price_submission(answer.body, update)


def build_price_publisher(config: Any, ctx: ConnectorContext) -> AmazonPricePublisher:
    opened = config if isinstance(config, AmazonConfig) else AmazonConfig.model_validate(config)
    return AmazonPricePublisher(opened, ctx)
