"""A Walmart Marketplace seller under `/walmart`: token, orders, bulk inventory feeds, feed status,
inventory reads.

HTTP contract (shapes from Walmart's published inventory and feeds specs)
    POST /walmart/v3/token           Basic client id:secret, headers WM_SVC.NAME and
                                     WM_QOS.CORRELATION_ID, form grant_type=client_credentials
                                     → {access_token, token_type: Bearer, expires_in: 900}
    POST /walmart/v3/feeds?feedType=inventory   multipart `file` (JSON InventoryFeed 1.4),
                                     header WM_SEC.ACCESS_TOKEN → {feedId}; 10 per hour (÷ speed)
                                     beyond: 429
    GET  /walmart/v3/feeds/{feedId}?includeDetails=true&offset=&limit=   feed status; RECEIVED
                                     until `feed_processing_s / speed` passed, then PROCESSED with
                                     per-item SUCCESS, or DATA_ERROR for SKUs the seller does not sell.
                                     Walmart processes feeds whether or not anyone asks: every due
                                     feed is applied, oldest first, before any read of the seller
    GET  /walmart/v3/inventory?sku=&shipNode=   getInventory → {sku, quantity {unit: EACH, amount}}:
                                     the quantity the last processed feed set (0 for a SKU the
                                     seller sells that no feed stocked yet; one node, so shipNode
                                     is accepted and ignored, as feeds ignore it); 404
                                     CONTENT_NOT_FOUND for a SKU the seller does not sell;
                                     `inventory_reads_per_minute` (200, × speed) a token bucket,
                                     beyond: 429 with Retry-After and x-next-replenish-time
    POST /walmart/_sandbox/items     {"skus": [...]}: SKUs the seller sells (besides the catalog)
    /walmart/v3/orders...            the Orders API, and POST /walmart/_sandbox/orders to place
                                     orders: see walmart_orders.py

Calls are counted in `/_sandbox/state` (`walmart.calls`); with a fault book, Walmart's faults
are injectable like the other systems' (`POST /_sandbox/faults {"walmart": {...}}`).
"""

from __future__ import annotations

import base64
import uuid
from collections import deque
from typing import Any

import orjson
from aiohttp import web

from crossdock.sandbox.faults import FaultBook
from crossdock.sandbox.state import SandboxContext, TokenBucket
from crossdock.sandbox.traffic import make_catalog
from crossdock.sandbox.walmart_lines import ms
from crossdock.sandbox.walmart_orders import WalmartOrders

TOKEN_TTL_S = 900
FEED_WINDOW_S = 3600.0


def error_body(code: str, description: str, category: str = "DATA") -> dict[str, Any]:
    error = {"code": code, "field": code.split(".")[0], "description": description, "info": description,
             "severity": "ERROR", "category": category, "causes": [], "errorIdentifiers": {}}  # fmt: skip
    return {"errors": {"error": [error]}}


class WalmartSeller:
    name = "walmart"

    def __init__(self, ctx: SandboxContext, faults: FaultBook | None = None) -> None:
        self.ctx, self.cfg, self.faults = ctx, ctx.config.walmart, faults
        self.desk = WalmartOrders(ctx, error_body, self._guard)
        self.reset()

    def create_orders(self, count: int = 1, lines: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        return self.desk.create_orders(count, lines)

    def reset(self) -> None:
        self.rng = self.ctx.rng("walmart")
        catalog = make_catalog(self.ctx.rng("catalog"), self.ctx.config.catalog_size)
        self.known: set[str] = {c.sku for c in catalog} | set(self.cfg.known_skus)
        self.inventory: dict[str, int] = {}
        self.tokens: dict[str, float] = {}
        self.feeds: dict[str, dict[str, Any]] = {}
        self.window: deque[float] = deque()
        self.throttled = 0
        per_minute = self.cfg.inventory_reads_per_minute
        self.reads = TokenBucket(per_minute / 60 * self.ctx.config.speed, per_minute, self.ctx.now())
        self.reads_throttled = 0
        self.desk.reset()

    # -- auth -------------------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        if not request.headers.get("WM_SVC.NAME") or not request.headers.get("WM_QOS.CORRELATION_ID"):
            return web.json_response(error_body("INVALID_REQUEST_HEADER.GMP_GATEWAY_API",
                                                "WM_SVC.NAME and WM_QOS.CORRELATION_ID are required"), status=400)  # fmt: skip
        expected = base64.b64encode(f"{self.cfg.client_id}:{self.cfg.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.json_response(error_body("UNAUTHORIZED.GMP_GATEWAY_API", "Unauthorized"), status=401)
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response(error_body("INVALID_REQUEST.GMP_GATEWAY_API", "grant_type"), status=400)
        token = f"eyJ.sandbox.{self.rng.getrandbits(96):024x}"
        self.tokens[token] = self.ctx.now() + TOKEN_TTL_S
        return web.json_response({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_S})

    def _guard(self, request: web.Request) -> web.Response | None:
        expires = self.tokens.get(request.headers.get("WM_SEC.ACCESS_TOKEN") or "")
        if expires is None or expires <= self.ctx.now():
            return web.json_response(error_body("UNAUTHORIZED.GMP_GATEWAY_API", "Unauthorized"), status=401)
        if not request.headers.get("WM_SVC.NAME") or not request.headers.get("WM_QOS.CORRELATION_ID"):
            return web.json_response(error_body("INVALID_REQUEST_HEADER.GMP_GATEWAY_API",
                                                "WM_SVC.NAME and WM_QOS.CORRELATION_ID are required"), status=400)  # fmt: skip
        return None

    # -- feeds ------------------------------------------------------------------------------

    async def post_feed(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request)) is not None:
            return refused
        if request.query.get("feedType") != "inventory":
            return web.json_response(
                error_body("INVALID_REQUEST.GMP_GATEWAY_API", "feedType must be inventory"), status=400
            )
        now, span = self.ctx.now(), FEED_WINDOW_S / self.ctx.config.speed
        while self.window and self.window[0] <= now - span:
            self.window.popleft()
        if len(self.window) >= self.cfg.inventory_feeds_per_hour:
            self.throttled += 1
            wait = max(1, int(self.window[0] + span - now + 0.999))
            body = error_body("REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API", "Too many requests", "REQUEST")
            return web.json_response(body, status=429, headers={"Retry-After": str(wait)})
        try:
            form = await request.post()
            upload = form["file"]
            raw = upload.file.read() if hasattr(upload, "file") else str(upload).encode()
            items = orjson.loads(raw)["Inventory"]
        except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
            return web.json_response(
                error_body("INVALID_REQUEST.GMP_GATEWAY_API", "file is not an inventory feed"), status=400
            )
        self.window.append(now)
        feed_id = f"{uuid.UUID(int=self.rng.getrandbits(128)).hex.upper()}@AQMBAQA"
        self.feeds[feed_id] = {"at": now, "items": items, "status": "RECEIVED", "details": []}
        return web.json_response({"feedId": feed_id, "additionalAttributes": None, "errors": None})

    def _settle(self) -> None:
        """Apply every feed whose processing time has passed, in the order they were posted
        (a later feed's quantities win), whether or not its status was asked for."""
        due = self.ctx.now() - self.cfg.feed_processing_s / self.ctx.config.speed
        for feed in self.feeds.values():
            if feed["status"] == "RECEIVED" and feed["at"] <= due:
                self._process(feed)

    def _process(self, feed: dict[str, Any]) -> None:
        for index, item in enumerate(feed["items"]):
            sku = item.get("sku") if isinstance(item, dict) else None
            amount = ((item.get("quantity") or {}) if isinstance(item, dict) else {}).get("amount")
            detail = {"martId": 0, "sku": sku, "wpid": None, "index": index, "itemid": None,
                      "ingestionStatus": "SUCCESS", "ingestionErrors": {"ingestionError": None}}  # fmt: skip
            if sku not in self.known or not isinstance(amount, int | float) or amount < 0:
                error = {"type": "DATA_ERROR", "code": "ERR_EXT_DATA_0101001", "field": "sku",
                         "description": f"The SKU '{sku}' is not set up for this seller, or its quantity is invalid."}  # fmt: skip
                detail.update(ingestionStatus="DATA_ERROR", ingestionErrors={"ingestionError": [error]})
            else:
                self.inventory[sku] = int(amount)
            feed["details"].append(detail)
        feed["status"] = "PROCESSED"

    async def get_feed(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request)) is not None:
            return refused
        self._settle()
        feed_id = request.match_info["feed_id"]
        feed = self.feeds.get(feed_id)
        if feed is None:
            return web.json_response(
                error_body("CONTENT_NOT_FOUND.GMP_GATEWAY_API", "feed not found"), status=404
            )
        offset, limit = int(request.query.get("offset", 0)), min(int(request.query.get("limit", 50)), 1000)
        details = feed["details"]
        failed = sum(1 for d in details if d["ingestionStatus"] != "SUCCESS")
        body = {"feedId": feed_id, "feedStatus": feed["status"], "ingestionErrors": {"ingestionError": None},
                "itemsReceived": len(feed["items"]), "itemsSucceeded": len(details) - failed, "itemsFailed": failed,
                "itemsProcessing": len(feed["items"]) - len(details), "offset": offset, "limit": limit}  # fmt: skip
        if request.query.get("includeDetails") == "true":
            body["itemDetails"] = {"itemIngestionStatus": details[offset : offset + limit]}
        return web.json_response(body)

    # -- inventory reads ----------------------------------------------------------------------

    async def get_inventory(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request)) is not None:
            return refused
        if (wait := self.reads.take(self.ctx.now())) > 0:
            self.reads_throttled += 1
            body = error_body("REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API", "Too many requests", "REQUEST")
            headers = {"Retry-After": str(max(1, int(wait + 0.999))), "x-current-token-count": "0",
                       "x-next-replenish-time": str(ms(self.ctx.now() + wait))}  # fmt: skip
            return web.json_response(body, status=429, headers=headers)
        sku = request.query.get("sku", "")
        if not sku.strip():
            body = error_body("INVALID_REQUEST_PARAM.GMP_INVENTORY_API", "sku is required")
            return web.json_response(body, status=400)
        self._settle()
        if sku not in self.known:
            body = error_body("CONTENT_NOT_FOUND.GMP_INVENTORY_API", f"Inventory not found for sku {sku}")
            return web.json_response(body, status=404)
        answer = {"sku": sku, "quantity": {"unit": "EACH", "amount": self.inventory.get(sku, 0)}}
        return web.json_response(answer, headers={"x-current-token-count": str(int(self.reads.tokens))})

    async def post_items(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read() or b"{}")
        self.known |= {str(s) for s in body.get("skus") or []}
        return web.json_response({"known_skus": len(self.known)})

    # -- wiring -----------------------------------------------------------------------------

    def app(self) -> web.Application:
        @web.middleware
        async def count(request: web.Request, handler: Any) -> web.StreamResponse:
            resource = request.match_info.route.resource
            response = await handler(request)
            if "/_sandbox/" not in request.path:
                name = f"{request.method} {resource.canonical if resource else request.path}"
                self.ctx.stats.record(self.name, name, response.status)
            return response

        if self.faults is not None:
            count = self.faults.middleware(self.name, lambda status, code, message: error_body(code, message))
        app = web.Application(middlewares=[count])
        self.desk.add_routes(app.router)
        app.router.add_post("/v3/token", self.token)
        app.router.add_post("/v3/feeds", self.post_feed)
        app.router.add_get("/v3/feeds/{feed_id}", self.get_feed)
        app.router.add_get("/v3/inventory", self.get_inventory)
        app.router.add_post("/_sandbox/items", self.post_items)
        return app

    def snapshot(self) -> dict[str, Any]:
        self._settle()
        return {
            "inventory": dict(self.inventory),
            "feeds": {
                fid: {
                    "status": f["status"],
                    "items": len(f["items"]),
                    "failed": sum(1 for d in f["details"] if d["ingestionStatus"] != "SUCCESS"),
                }
                for fid, f in self.feeds.items()
            },  # fmt: skip
            "tokens_issued": len(self.tokens),
            "inventory_feeds_in_window": len(self.window),
            "throttled": self.throttled,
            "inventory_reads_throttled": self.reads_throttled,
            **self.desk.snapshot(),
        }
