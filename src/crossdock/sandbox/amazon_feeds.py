"""The Amazon seller's listings: Feeds API 2021-06-30 and Listings Items API 2021-08-01.

HTTP contract (shapes from feeds_2021-06-30.json, listingsItems_2021-08-01.json and the
listings feed / processing report schemas)
    POST /amazon/feeds/2021-06-30/documents         {contentType} → 201 {feedDocumentId, url}
    PUT  {url}                                       the document (presigned: signature in the query)
    POST /amazon/feeds/2021-06-30/feeds              {feedType, marketplaceIds, inputFeedDocumentId} → 202 {feedId}
    GET  /amazon/feeds/2021-06-30/feeds/{feedId}     Feed (IN_QUEUE until `feed_processing_s / speed`
                                                     have passed, then DONE with resultFeedDocumentId;
                                                     Amazon processes feeds whether or not anyone
                                                     asks: every due feed is applied, oldest first,
                                                     before any read or patch of the listings)
    GET  /amazon/feeds/2021-06-30/documents/{id}     {feedDocumentId, url, compressionAlgorithm: GZIP}
    GET  {url}                                       the processing report (gzip)
    PATCH /amazon/listings/2021-08-01/items/{sellerId}/{sku}?marketplaceIds=   ListingsItemSubmissionResponse
    GET  /amazon/listings/2021-08-01/items/{sellerId}?marketplaceIds=&identifiers=A,B&identifiersType=SKU
                                                     searchListingsItems: ≤ 20 SKUs, each listing's
                                                     fulfillmentAvailability (SKUs never listed: absent)
    POST /amazon/listings/_sandbox/invalid_skus      {"skus": [...]}: messages/patches for them get ERROR issues
    UPDATE / PARTIAL_UPDATE feed messages            whole listings, checked and kept (see amazon_catalog)

Calls need a live LWA token of the Amazon seller. Usage plans as token buckets (× speed),
JSON_LISTINGS_FEED at most 5 feeds per 5 minutes (÷ speed): 429 QuotaExceeded beyond.
Listings quantities (`fulfillment_availability` DEFAULT) and prices (`purchasable_offer`
`our_price`) are kept per SKU for the snapshot (`listings`, `prices`).
"""

from __future__ import annotations

import gzip
import hmac
from collections import Counter, deque
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from crossdock.sandbox.amazon import error_body
from crossdock.sandbox.amazon_catalog import apply_listing, is_listing
from crossdock.sandbox.faults import FaultBook
from crossdock.sandbox.state import SandboxContext, TokenBucket

if TYPE_CHECKING:
    from crossdock.sandbox.amazon import AmazonSeller

USAGE_PLANS = {"createFeedDocument": (0.5, 15), "createFeed": (0.0083, 15), "getFeed": (2.0, 15),
               "getFeedDocument": (0.0222, 10), "patchListingsItem": (5.0, 5),
               "searchListingsItems": (5.0, 5)}  # fmt: skip
MAX_MESSAGES = 25_000
INVALID_CODE = "90000900"  # the code of Amazon's own invalid-listing sandbox example


class AmazonListings:
    name = "amazon_feeds"

    def __init__(self, ctx: SandboxContext, faults: FaultBook, seller: AmazonSeller) -> None:
        self.ctx, self.cfg, self.faults, self.seller = ctx, ctx.config.amazon_feeds, faults, seller
        self.reset()

    def reset(self) -> None:
        speed = self.ctx.config.speed
        self.buckets = {op: TokenBucket(r * speed, b, self.ctx.now()) for op, (r, b) in USAGE_PLANS.items()}
        self.documents: dict[str, dict[str, Any]] = {}  # id → {content, signature, compressed}
        self.feeds: dict[str, dict[str, Any]] = {}
        self.window: deque[float] = deque()
        self.listings: dict[str, int] = {}
        self.listed: dict[str, tuple[str, str, str]] = {}  # sku → (productType, createdDate, lastUpdatedDate)
        self.catalog: dict[str, dict[str, Any]] = {}  # sku → {productType, attributes} (UPDATE messages)
        self.prices: dict[str, dict[str, Any]] = {}  # sku → {amount, currency} (purchasable_offer)
        self.invalid_skus: set[str] = set(self.cfg.invalid_skus)
        self.patches: list[dict[str, Any]] = []
        self.throttled: Counter[str] = Counter()
        self.seq = 0

    def _next(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}{self.seq:010d}"

    # -- guard ------------------------------------------------------------------------------

    def _guard(self, request: web.Request, operation: str) -> web.Response | None:
        expires = self.seller.tokens.get(request.headers.get("x-amz-access-token") or "")
        if expires is None or expires <= self.ctx.now():
            body = error_body(403, "Unauthorized", "Access to requested resource is denied.")
            return web.json_response(body, status=403)
        if self.buckets[operation].take(self.ctx.now()) > 0:
            return self._quota(operation)
        return None

    def _quota(self, operation: str) -> web.Response:
        self.throttled[operation] += 1
        body = error_body(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")
        return web.json_response(body, status=429, headers=self._headers(operation))

    def _headers(self, operation: str) -> dict[str, str]:
        return {"x-amzn-RateLimit-Limit": f"{self.buckets[operation].rate:g}"}

    def _bad(self, operation: str, message: str, status: int = 400) -> web.Response:
        code = "NotFound" if status == 404 else "InvalidInput"
        return web.json_response(
            error_body(status, code, message), status=status, headers=self._headers(operation)
        )

    def _url(self, request: web.Request, doc_id: str) -> str:
        doc = self.documents[doc_id]
        prefix = request.path.split("/amazon/", 1)[0]  # a tenant's seller is under /t/{tenant}
        return f"{request.scheme}://{request.host}{prefix}/amazon/feeds/_documents/{doc_id}?X-Amz-Signature={doc['signature']}"

    # -- feed documents ---------------------------------------------------------------------

    async def create_document(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "createFeedDocument")) is not None:
            return refused
        body = orjson.loads(await request.read() or b"{}")
        if not isinstance(body, dict) or not body.get("contentType"):
            return self._bad("createFeedDocument", "contentType is required")
        doc_id = self._next("amzn1.tortuga.4.na.")
        signature = f"{self.seller.rng.getrandbits(64):016x}"
        self.documents[doc_id] = {"content": None, "signature": signature, "compressed": False}
        answer = {"feedDocumentId": doc_id, "url": self._url(request, doc_id)}
        return web.json_response(answer, status=201, headers=self._headers("createFeedDocument"))

    def _signed(self, request: web.Request) -> dict[str, Any] | None:
        doc = self.documents.get(request.match_info["doc_id"])
        given = request.query.get("X-Amz-Signature", "")
        return doc if doc and hmac.compare_digest(given, doc["signature"]) else None

    async def put_document(self, request: web.Request) -> web.Response:
        doc = self._signed(request)
        if doc is None:
            return web.Response(status=403, text="<Error><Code>SignatureDoesNotMatch</Code></Error>")
        doc["content"] = await request.read()
        return web.Response(status=200)

    async def fetch_document(self, request: web.Request) -> web.Response:
        doc = self._signed(request)
        if doc is None or doc["content"] is None:
            return web.Response(status=403, text="<Error><Code>AccessDenied</Code></Error>")
        return web.Response(body=doc["content"], content_type="application/octet-stream")

    async def get_document(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "getFeedDocument")) is not None:
            return refused
        doc_id = request.match_info["doc_id"]
        if doc_id not in self.documents:
            return self._bad("getFeedDocument", f"Invalid feedDocumentId {doc_id}", 404)
        answer = {"feedDocumentId": doc_id, "url": self._url(request, doc_id)}
        if self.documents[doc_id]["compressed"]:
            answer["compressionAlgorithm"] = "GZIP"
        return web.json_response(answer, headers=self._headers("getFeedDocument"))

    # -- feeds ------------------------------------------------------------------------------

    async def create_feed(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "createFeed")) is not None:
            return refused
        spec = orjson.loads(await request.read() or b"{}")
        doc = self.documents.get(str(spec.get("inputFeedDocumentId")))
        if not spec.get("feedType") or not spec.get("marketplaceIds") or doc is None:
            return self._bad(
                "createFeed", "feedType, marketplaceIds and a known inputFeedDocumentId are required"
            )
        if spec["feedType"] == "JSON_LISTINGS_FEED":
            now, span = self.ctx.now(), 300.0 / self.ctx.config.speed
            while self.window and self.window[0] <= now - span:
                self.window.popleft()
            if len(self.window) >= 5:
                return self._quota("createFeed")
            self.window.append(now)
        feed_id = str(50_000_000_000 + self.seq + 1)
        self.seq += 1
        self.feeds[feed_id] = {"feedId": feed_id, "feedType": spec["feedType"], "marketplaceIds": spec["marketplaceIds"],
                               "createdTime": self.ctx.iso(), "processingStatus": "IN_QUEUE",
                               "input": spec["inputFeedDocumentId"], "at": self.ctx.now(), "summary": None}  # fmt: skip
        return web.json_response({"feedId": feed_id}, status=202, headers=self._headers("createFeed"))

    async def get_feed(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "getFeed")) is not None:
            return refused
        self._settle()
        feed = self.feeds.get(request.match_info["feed_id"])
        if feed is None:
            return self._bad("getFeed", "Invalid feedId", 404)
        shown = {k: v for k, v in feed.items() if k not in ("input", "at", "summary")}
        return web.json_response(shown, headers=self._headers("getFeed"))

    def _settle(self) -> None:
        """Process every feed whose processing time has passed, in the order they were
        created (a later feed's values win), whether or not its status was asked for."""
        due = self.ctx.now() - self.cfg.feed_processing_s / self.ctx.config.speed
        for feed in self.feeds.values():
            if feed["processingStatus"] == "IN_QUEUE" and feed["at"] <= due:
                self._process(feed)

    def _process(self, feed: dict[str, Any]) -> None:
        try:
            document = orjson.loads(self.documents[feed["input"]]["content"] or b"")
            messages = document["messages"]
            if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
                raise ValueError("messages")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            feed.update(processingStatus="FATAL", processingEndTime=self.ctx.iso())
            return
        issues = [issue for m in messages for issue in self._apply(m)]
        invalid = len({i["messageId"] for i in issues})
        summary = {"errors": len(issues), "warnings": 0, "messagesProcessed": len(messages),
                   "messagesAccepted": len(messages) - invalid, "messagesInvalid": invalid}  # fmt: skip
        report = {"header": {"sellerId": document.get("header", {}).get("sellerId"), "version": "2.0",
                             "feedId": feed["feedId"]}, "issues": issues, "summary": summary}  # fmt: skip
        doc_id = self._next("amzn1.tortuga.4.na.")
        self.documents[doc_id] = {"content": gzip.compress(orjson.dumps(report)), "compressed": True,
                                  "signature": f"{self.seller.rng.getrandbits(64):016x}"}  # fmt: skip
        feed.update(processingStatus="DONE", resultFeedDocumentId=doc_id, summary=summary,
                    processingStartTime=self.ctx.iso(), processingEndTime=self.ctx.iso())  # fmt: skip

    def _apply(self, message: Any) -> list[dict[str, Any]]:
        """Issues of one message (none when it was applied)."""
        if is_listing(message):  # a whole listing (the catalog), not a quantity or price patch
            return apply_listing(self.catalog, message, self.cfg.required_attributes, self.invalid_skus)
        number = message.get("messageId") if isinstance(message, dict) else None
        sku = message.get("sku") if isinstance(message, dict) else None
        quantity = _quantity(message) if isinstance(message, dict) else None
        price, bad_price = _price(message) if isinstance(message, dict) else (None, None)
        if bad_price:
            return [{**_issue(number, sku, "99022", bad_price), "attributeName": "purchasable_offer.our_price"}]
        if not isinstance(number, int) or not sku or (quantity is None and price is None):
            message_text = "The message is not a PATCH of fulfillment_availability or purchasable_offer."
            return [_issue(number, sku, "4000001", message_text)]
        if sku in self.invalid_skus:
            return [
                _issue(
                    number,
                    sku,
                    INVALID_CODE,
                    f"SKU '{sku}' is invalid for this seller: the listing cannot be updated.",
                )
            ]
        if quantity is not None:
            self.listings[sku] = quantity
        if price is not None:
            self.prices[sku] = price
        product_type = message.get("productType") or (self.listed.get(sku) or ("PRODUCT",))[0]
        created = self.listed[sku][1] if sku in self.listed else self.ctx.iso()
        self.listed[sku] = (str(product_type), created, self.ctx.iso())
        return []

    # -- listings items -----------------------------------------------------------------------

    async def patch_item(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "patchListingsItem")) is not None:
            return refused
        if not request.query.get("marketplaceIds"):
            return self._bad("patchListingsItem", "marketplaceIds is required")
        body = orjson.loads(await request.read() or b"{}")
        self._settle()
        sku = request.match_info["sku"]
        message = {
            "messageId": 1,
            "sku": sku,
            "operationType": "PATCH",
            **(body if isinstance(body, dict) else {}),
        }
        issues = [] if body.get("productType") else [_issue(1, sku, "4000001", "productType is required.")]
        issues = issues or self._apply(message)
        for issue in issues:
            issue.pop("messageId", None)
        self.patches.append(
            {"at": self.ctx.iso(), "sku": sku, "quantity": _quantity(message), "price": _price(message)[0],
             "issues": issues}  # fmt: skip
        )
        answer = {"sku": sku, "status": "INVALID" if issues else "ACCEPTED",
                  "submissionId": f"{self.seller.rng.getrandbits(128):032x}", "issues": issues}  # fmt: skip
        return web.json_response(answer, headers=self._headers("patchListingsItem"))

    async def search_items(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "searchListingsItems")) is not None:
            return refused
        query = request.query
        skus = [s for s in (query.get("identifiers") or "").split(",") if s]
        if not query.get("marketplaceIds") or query.get("identifiersType") != "SKU" or not skus:
            return self._bad("searchListingsItems", "marketplaceIds, identifiers and identifiersType=SKU are required")
        if len(skus) > 20:
            return self._bad("searchListingsItems", "identifiers takes at most 20 values")
        answer = self.search_answer(skus, query["marketplaceIds"].split(",")[0])
        return web.json_response(answer, headers=self._headers("searchListingsItems"))

    def search_answer(self, skus: list[str], marketplace: str) -> dict[str, Any]:
        """searchListingsItems' ItemSearchResults for `skus` (those never listed are absent)."""
        self._settle()
        items = [
            {
                "sku": sku,
                "summaries": [self._summary(sku, marketplace)],
                "fulfillmentAvailability": [{"fulfillmentChannelCode": "DEFAULT", "quantity": self.listings[sku]}],
            }
            for sku in skus
            if sku in self.listings
        ]
        return {"numberOfResults": len(items), "pagination": {}, "items": items}

    def _summary(self, sku: str, marketplace: str) -> dict[str, Any]:
        """ItemSummaryByMarketplace with the fields Amazon's schema requires."""
        product_type, created, updated = self.listed.get(sku) or ("PRODUCT", self.ctx.iso(), self.ctx.iso())
        return {"marketplaceId": marketplace, "productType": product_type, "status": ["BUYABLE", "DISCOVERABLE"],
                "createdDate": created, "lastUpdatedDate": updated}  # fmt: skip

    async def post_invalid(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read() or b"{}")
        self.invalid_skus = {str(s) for s in body.get("skus") or []}
        return web.json_response({"invalid_skus": sorted(self.invalid_skus)})

    # -- wiring -----------------------------------------------------------------------------

    def apps(self) -> dict[str, web.Application]:
        feeds = web.Application(middlewares=[self.faults.middleware("amazon", error_body)])
        feeds.router.add_post("/2021-06-30/documents", self.create_document)
        feeds.router.add_get("/2021-06-30/documents/{doc_id}", self.get_document)
        feeds.router.add_post("/2021-06-30/feeds", self.create_feed)
        feeds.router.add_get("/2021-06-30/feeds/{feed_id}", self.get_feed)
        feeds.router.add_put("/_documents/{doc_id}", self.put_document)
        feeds.router.add_get("/_documents/{doc_id}", self.fetch_document)
        listings = web.Application(middlewares=[self.faults.middleware("amazon", error_body)])
        listings.router.add_patch("/2021-08-01/items/{seller_id}/{sku}", self.patch_item)
        listings.router.add_get("/2021-08-01/items/{seller_id}", self.search_items)
        listings.router.add_post("/_sandbox/invalid_skus", self.post_invalid)
        return {"/amazon/feeds": feeds, "/amazon/listings": listings}

    def snapshot(self) -> dict[str, Any]:
        self._settle()
        return {
            "feeds": {
                fid: {"type": f["feedType"], "status": f["processingStatus"], "summary": f["summary"]}
                for fid, f in self.feeds.items()
            },  # fmt: skip
            "listings": dict(self.listings),
            "catalog": dict(self.catalog),
            "prices": dict(self.prices),
            "invalid_skus": sorted(self.invalid_skus),
            "listings_patches": self.patches,
            "throttled": dict(self.throttled),
            "listings_feeds_in_window": len(self.window),
        }


def _quantity(message: dict[str, Any]) -> int | None:
    for patch in message.get("patches") or ():
        if isinstance(patch, dict) and patch.get("path") == "/attributes/fulfillment_availability":
            for entry in patch.get("value") or ():
                if isinstance(entry, dict) and entry.get("fulfillment_channel_code") == "DEFAULT":
                    quantity = entry.get("quantity")
                    return quantity if isinstance(quantity, int) and quantity >= 0 else None
    return None


def _price(message: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The `purchasable_offer` price a message patches ({amount, currency}), or why it is invalid."""
    for patch in message.get("patches") or ():
        if not isinstance(patch, dict) or patch.get("path") != "/attributes/purchasable_offer":
            continue
        for offer in patch.get("value") or ():
            try:
                amount = offer["our_price"][0]["schedule"][0]["value_with_tax"]
                if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
                    raise TypeError(amount)
                return {"amount": str(Decimal(str(amount))), "currency": str(offer["currency"])}, None
            except (KeyError, IndexError, TypeError):
                break
        return None, "The field 'our_price' for the attribute 'purchasable_offer.our_price' is not valid."
    return None, None


def _issue(number: Any, sku: Any, code: str, message: str) -> dict[str, Any]:
    return {"messageId": number, "sku": sku, "code": code, "severity": "ERROR", "message": message}
