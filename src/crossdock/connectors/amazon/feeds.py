"""Amazon quantities: JSON_LISTINGS_FEED through the Feeds API 2021-06-30, and
`patchListingsItem` for the urgent ones (a listing going to zero must not wait for a feed).

Publishing a feed: createFeedDocument → PUT the document to the presigned URL →
createFeed; the pending token holds the feed id and the update keys by messageId.
`check`: getFeed; while IN_QUEUE/IN_PROGRESS → None; DONE → getFeedDocument → download
the processing report (gzip when Amazon says so) → per-message outcome; CANCELLED/FATAL →
every update failed, to be published again.

Limits: the Feeds and Listings usage plans (rate, burst) are client-side buckets like the
Orders API's, and JSON_LISTINGS_FEED's 5 feeds per 5 minutes is a sliding window per
connection (and process): a publish that would exceed it raises a local ThrottledError before
any effect, and a publish that fails before its feed is created gives its slot back.
"""

from __future__ import annotations

import gzip
import time
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from crossdock.connectors.amazon.client import BUCKETS_KEY, Bucket, SpApiClient
from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.amazon.listings import (
    FEED_CONTENT_TYPE,
    FEED_TYPE,
    MAX_MESSAGES,
    decode_processing_report,
    decode_submission,
    encode_listings_feed,
    encode_patch_listings_item,
)
from crossdock.connectors.http.client import LINEAGE_LIMIT
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
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord

FEEDS = "/feeds/2021-06-30"
LISTINGS = "/listings/2021-08-01/items"
# Usage plans (requests per second, burst) from the published models.
USAGE_PLANS: dict[str, tuple[float, float]] = {
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    "patchListingsItem": (5.0, 5),
}
URGENT_LIMIT = 20  # to-zero updates patched one by one per publish; the rest go in the feed
WINDOW_KEY = "amazon.listings_feed_window"
_WAITING = frozenset({"IN_QUEUE", "IN_PROGRESS"})


class ListingsFeeds:
    """Feeds API calls for listings feeds, over the connection's SP-API client."""

    def __init__(self, client: SpApiClient) -> None:
        self.client, self.ctx = client, client.ctx
        buckets: dict[str, Bucket] = self.ctx.cache.setdefault(BUCKETS_KEY, {})
        for operation, (rate, burst) in USAGE_PLANS.items():
            buckets.setdefault(operation, Bucket(rate, burst, burst, self.ctx.clock()))

    async def reserve_slot(self) -> QuotaSlot:
        """Take one of the feed submissions of the window (Amazon: 5 per 5 minutes, for every
        worker process together), or raise a local ThrottledError."""
        config = self.client.config
        most, span = config.listings_feeds_per_window, config.listings_feed_window_seconds
        return await quota_of(self.ctx).take(WINDOW_KEY, most, span, FEED_TYPE, self.ctx.clock())

    async def submit(self, document: dict[str, Any], marketplace_ids: list[str], slot: QuotaSlot | None = None) -> str:
        """Upload a feed document and create the feed, in `slot` (else one taken now); answers
        the feed id. The slot is given back if the feed was not created: a failure before
        createFeed, or createFeed refused (throttled, nothing created)."""
        slot = slot or await self.reserve_slot()
        creating = False
        try:
            created = await self.client.call(
                "createFeedDocument", "POST", f"{FEEDS}/documents", body={"contentType": FEED_CONTENT_TYPE}
            )
            doc = created.body or {}
            await self._transfer("PUT", str(doc["url"]), orjson.dumps(document))
            spec = {
                "feedType": FEED_TYPE,
                "marketplaceIds": marketplace_ids,
                "inputFeedDocumentId": doc["feedDocumentId"],
            }
            creating = True
            answer = await self.client.call("createFeed", "POST", f"{FEEDS}/feeds", body=spec)
        except ThrottledError:
            await slot.give_back()
            raise
        except BaseException:
            if not creating:
                await slot.give_back()
            raise
        slot.keep()
        return str((answer.body or {})["feedId"])

    async def feed(self, feed_id: str) -> dict[str, Any]:
        answer = await self.client.call("getFeed", "GET", f"{FEEDS}/feeds/{quote(feed_id, safe='')}")
        return answer.body or {}

    async def report(self, document_id: str) -> Any:
        """The processing report behind a result feed document, parsed."""
        path = f"{FEEDS}/documents/{quote(document_id, safe='')}"
        doc = (await self.client.call("getFeedDocument", "GET", path)).body or {}
        raw = await self._transfer("GET", str(doc["url"]), None)
        if doc.get("compressionAlgorithm") == "GZIP":
            raw = gzip.decompress(raw)
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise TransientError(f"processing report {document_id} is not JSON") from exc

    async def _transfer(self, method: str, url: str, data: bytes | None) -> bytes:
        """A presigned-URL upload or download: no SP-API token, the signature is in the URL."""
        shown = str(URL(url).with_query(None))  # the query holds the signature: never recorded
        headers = {"Content-Type": FEED_CONTENT_TYPE} if data is not None else {}
        started = time.perf_counter()
        record: dict[str, Any] = {"direction": "out", "connection_id": self.ctx.connection_id,
                                  "method": method, "url": shown, "request_headers": headers,
                                  "request_body": _excerpt(data)}  # fmt: skip
        try:
            timeout = aiohttp.ClientTimeout(total=self.client.config.timeout_seconds)
            async with self.ctx.session.request(
                method, URL(url, encoded=True), data=data, headers=headers, timeout=timeout
            ) as resp:
                status, raw = resp.status, await resp.read()
            record.update(status_code=status, response_body=_excerpt(raw) if method == "GET" else None)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            raise TransientError(f"{method} {shown}: {type(exc).__name__}") from exc
        finally:
            self.ctx.record(LineageRecord(**record, duration_ms=(time.perf_counter() - started) * 1000))
        if status >= 300:
            # An expired presigned URL (403) or a storage hiccup: start again from the document.
            raise TransientError(f"{method} {shown} answered {status}")
        return raw

    async def patch_listing(self, seller_id: str, update: StockUpdate, marketplace_ids: list[str],
                            product_type: str) -> ItemFailure | None:  # fmt: skip
        path = f"{LISTINGS}/{quote(seller_id, safe='')}/{quote(update.channel_ref, safe='')}"
        params = {"marketplaceIds": ",".join(marketplace_ids), "issueLocale": "en_US"}
        body = encode_patch_listings_item(update.quantity, product_type)
        try:
            answer = await self.client.call("patchListingsItem", "PATCH", path, params=params, body=body)
        except PermanentError as error:
            if error.category in ("remote.not_found", "remote.rejected"):
                return ItemFailure.of(error)
            raise
        return decode_submission(answer.body, update)


class AmazonInventoryPublisher:
    """`InventoryPublisher` for one Amazon seller (opened config; `seller_id` required)."""

    channel = "amazon"
    max_batch = MAX_MESSAGES

    def __init__(self, config: AmazonConfig, ctx: ConnectorContext, *, product_type: str = "PRODUCT") -> None:
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

    async def publish(self, updates: list[StockUpdate]) -> PublishResult:
        check_batch(updates, self.max_batch, self.channel)
        seller = self.seller_id
        bad = [u for u in updates if u.quantity < 0]
        result = PublishResult(
            failed=failures(bad, ItemFailure("validation.negative_quantity", "quantity < 0"))
        )
        valid = [u for u in updates if u.quantity >= 0]
        urgent = [u for u in valid if u.quantity == 0 and u.previous != 0][:URGENT_LIMIT]
        batch = [u for u in valid if u not in urgent]
        slot = await self.feeds.reserve_slot() if batch else None  # before any effect: a refusal changed nothing
        try:
            for update in urgent:
                failure = await self.patch(update, seller)
                result = result.merge(PublishResult([update.key] if failure is None else [],
                                                    {update.key: failure} if failure else {}))  # fmt: skip
        except BaseException:
            if slot:
                await slot.give_back()
            raise
        if batch and slot:
            document = encode_listings_feed(batch, seller, product_type=self.product_type)
            feed_id = await self.feeds.submit(document, self.config.marketplace_ids, slot)
            pending = PendingFeed(feed_id, tuple(u.key for u in batch), tuple(u.channel_ref for u in batch))
            result = result.merge(PublishResult(pending=pending.encode()))
        return result

    async def patch(self, update: StockUpdate, seller_id: str | None = None) -> ItemFailure | None:
        """One quantity at once through patchListingsItem (5 per second)."""
        seller = seller_id or self.seller_id
        return await self.feeds.patch_listing(seller, update, self.config.marketplace_ids, self.product_type)

    async def check(self, pending: str) -> PublishResult | None:
        token = PendingFeed.decode(pending)
        feed = await self.feeds.feed(token.feed_id)
        status = str(feed.get("processingStatus"))
        if status in _WAITING:
            return None
        if status == "DONE" and feed.get("resultFeedDocumentId"):
            report = await self.feeds.report(str(feed["resultFeedDocumentId"]))
            return decode_processing_report(report, token)
        failure = ItemFailure(
            "remote.feed_not_processed",
            f"Amazon feed {token.feed_id} ended {status} without a processing report",
            "Publish these quantities again; if feeds keep failing, check the feed in Seller Central.",
        )
        return PublishResult(failed=failures_by_key(token.keys, failure))


def failures_by_key(keys: tuple[str, ...], failure: ItemFailure) -> dict[str, ItemFailure]:
    return dict.fromkeys(keys, failure)


def _excerpt(body: bytes | None) -> str | None:
    if body is None:
        return None
    if b"\x00" in body[:LINEAGE_LIMIT]:  # a gzip report: binary, and text columns refuse NUL
        return f"<{len(body)} bytes of binary content>"
    text = body[:LINEAGE_LIMIT].decode("utf-8", errors="replace")
    return text + "…[truncated]" if len(body) > LINEAGE_LIMIT else text
