"""Publishing whole listings to Amazon through JSON_LISTINGS_FEED (Feeds API 2021-06-30).

`submit(messages)`: one feed of up to 25,000 `UPDATE` messages (`catalog_feed`), after
taking one of the seller's 5 listings feeds per 5 minutes (shared with the quantity feeds of
the same connection in this process; Amazon's own 429 covers the other processes). A feed
that would exceed the window raises a *local* ThrottledError before any request: the caller
waits, other work on the connection (orders) goes on.
`outcome(feed_id)`: None while Amazon processes the feed; then each refused message's
problem by message number, or the whole feed's failure when Amazon gave up on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crossdock.connectors.amazon.catalog_feed import (
    MAX_MESSAGES,
    ListingProblem,
    encode_catalog_feed,
    encode_listing_message,
    report_problems,
)
from crossdock.connectors.amazon.client import SpApiClient
from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.amazon.feeds import ListingsFeeds
from crossdock.connectors.registry import ConnectorContext
from crossdock.domain.catalog import Listing
from crossdock.errors import PermanentError

_WAITING = frozenset({"IN_QUEUE", "IN_PROGRESS"})


@dataclass(frozen=True)
class FeedOutcome:
    """A processed feed: the problems of refused messages, or why none was processed."""

    problems: dict[int, ListingProblem] = field(default_factory=dict)
    failed: str | None = None  # the feed's status when Amazon processed none of it (FATAL, CANCELLED)


class AmazonCatalogPublisher:
    channel = "amazon"
    max_batch = MAX_MESSAGES

    def __init__(self, config: AmazonConfig, ctx: ConnectorContext, *, language_tag: str = "en_US") -> None:
        self.config, self.ctx, self.language_tag = config, ctx, language_tag
        self.feeds = ListingsFeeds(SpApiClient(config, ctx))

    def encode(self, listing: Listing) -> dict[str, Any]:
        """The listing's feed message (AttributeValueError for a value Amazon cannot take)."""
        return encode_listing_message(
            listing, marketplace_id=self.config.marketplace_ids[0], language_tag=self.language_tag
        )

    @property
    def seller_id(self) -> str:
        if not self.config.seller_id:
            raise PermanentError(
                "config.seller_id_missing",
                "the Amazon connection has no seller_id; listings feeds need it",
                "Set seller_id (the merchant token, Seller Central → Account Info) on the connection.",
            )
        return self.config.seller_id

    async def submit(self, messages: list[dict[str, Any]]) -> str:
        """Send one feed; answers its feed id. Message i+1 of the feed is messages[i]."""
        document = encode_catalog_feed(messages, self.seller_id, self.language_tag)
        return await self.feeds.submit(document, self.config.marketplace_ids)  # takes a slot of the window

    async def outcome(self, feed_id: str) -> FeedOutcome | None:
        feed = await self.feeds.feed(feed_id)
        status = str(feed.get("processingStatus"))
        if status in _WAITING:
            return None
        if status == "DONE" and feed.get("resultFeedDocumentId"):
            report = await self.feeds.report(str(feed["resultFeedDocumentId"]))
            return FeedOutcome(report_problems(report))
        return FeedOutcome(failed=status)
