"""An Amazon seller account under `/amazon`: Login with Amazon tokens and the Orders API v0.

HTTP contract (shapes from ordersV0.json)
    POST /amazon/auth/o2/token     form or JSON: grant_type=refresh_token, refresh_token, client_id,
                                   client_secret → {access_token, token_type: bearer, expires_in}
    GET  /amazon/orders/v0/orders?MarketplaceIds=&LastUpdatedAfter=|CreatedAfter=&NextToken=
    GET  /amazon/orders/v0/orders/{orderId}/orderItems
    POST /amazon/tokens/2021-03-01/restrictedDataToken  {restrictedResources: [{method, path}]}
                                   → {restrictedDataToken, expiresIn}
    GET  /amazon/orders/v0/orders/{orderId}/address    (RDT only) {payload: {AmazonOrderId, ShippingAddress}}
    POST /amazon/orders/v0/orders/{orderId}/shipmentConfirmation   ConfirmShipmentRequest → 204
    POST /amazon/_sandbox/orders   {"count": n} or {"lines": [{"sku", "quantity"}]} (Unshipped MFN)
    POST /amazon/_sandbox/orders/{orderId}/cancel

Orders API calls need `x-amz-access-token` (403 `Unauthorized` when missing, unknown or
expired). The buyer's name and street are personal data: getOrders shows only city, region,
postal code and country; getOrderAddress answers the full address only to a Restricted Data
Token issued (to a live access token) for `GET` of that order's address path, and refuses a
plain access token with 403 like Amazon. Addresses stay out of the snapshot. Each operation has its documented usage plan as a token bucket (getOrders
0.0167/s burst 20, getOrderItems 0.5/s burst 30, getOrderAddress 0.5/s burst 30, confirmShipment
2/s burst 10, createRestrictedDataToken 1/s burst 10), rates
multiplied by `SandboxConfig.speed`; answers carry `x-amzn-RateLimit-Limit`, and an empty
bucket answers 429 `QuotaExceeded`. Like the real API, getOrders hides the last two minutes
(`visibility_lag_s / speed`). Every confirmShipment call is recorded.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from crossdock.sandbox.faults import FaultBook
from crossdock.sandbox.state import SandboxContext, TokenBucket
from crossdock.sandbox.traffic import amazon_order, make_catalog, pick_lines

USAGE_PLANS = {"getOrders": (0.0167, 20), "getOrderItems": (0.5, 30), "getOrderAddress": (0.5, 30),
               "confirmShipment": (2.0, 10), "createRestrictedDataToken": (1.0, 10)}  # fmt: skip
# The restricted operations an RDT can be asked for here: getOrderAddress.
_RESTRICTED = re.compile(r"^/orders/v0/orders/[^/]+/address$")
_PACKAGE_FIELDS = ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate", "orderItems")


def error_body(status: int, code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


def _when(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class AmazonSeller:
    name = "amazon"

    def __init__(self, ctx: SandboxContext, faults: FaultBook) -> None:
        self.ctx, self.cfg, self.faults = ctx, ctx.config.amazon, faults
        self.reset()

    def reset(self) -> None:
        self.rng = self.ctx.rng("amazon")
        self.order_rng = self.ctx.rng("amazon.orders")  # orders alone: the seed replays them
        self.catalog = make_catalog(self.ctx.rng("catalog"), self.ctx.config.catalog_size)
        self.orders: dict[str, dict[str, Any]] = {}
        self.items: dict[str, list[dict[str, Any]]] = {}
        self.addresses: dict[str, dict[str, Any]] = {}  # personal data: getOrderAddress with an RDT only
        self.rdts: dict[str, tuple[float, frozenset[tuple[str, str]]]] = {}  # RDT → (expiry, resources)
        self.addresses_served = 0
        self.touched: dict[str, tuple[float, float]] = {}  # id → (created, last updated)
        self.tokens: dict[str, float] = {}
        self.confirmations: list[dict[str, Any]] = []
        self.throttled: Counter[str] = Counter()
        speed = self.ctx.config.speed
        self.buckets = {
            op: TokenBucket(rate * speed, burst, self.ctx.now()) for op, (rate, burst) in USAGE_PLANS.items()
        }

    # -- sandbox control ------------------------------------------------------------------------

    def create_orders(
        self, count: int = 1, lines: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        created = []
        for _ in range(count):
            chosen = pick_lines(self.order_rng, self.catalog, lines)
            order, items, address = amazon_order(
                self.order_rng,
                lines=chosen,
                now=self.ctx.iso(),
                marketplace_id=self.cfg.marketplace_id,
                currency=self.cfg.currency,
            )
            self.orders[order["AmazonOrderId"]] = order
            self.items[order["AmazonOrderId"]] = items
            self.addresses[order["AmazonOrderId"]] = address
            self.touched[order["AmazonOrderId"]] = (self.ctx.now(), self.ctx.now())
            created.append({"order": order, "items": items})
        return created

    def _touch(self, order_id: str) -> None:
        self.orders[order_id]["LastUpdateDate"] = self.ctx.iso()
        self.touched[order_id] = (self.touched[order_id][0], self.ctx.now())

    async def post_orders(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read() or b"{}")
        try:
            return web.json_response(
                {"orders": self.create_orders(int(body.get("count", 1)), body.get("lines"))}
            )
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response(error_body(400, "InvalidInput", str(exc)), status=400)

    async def post_cancel(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        if order_id not in self.orders:
            return web.json_response(error_body(404, "NotFound", "Invalid order id"), status=404)
        self.orders[order_id]["OrderStatus"] = "Canceled"
        self._touch(order_id)
        return web.json_response({"order": self.orders[order_id]})

    # -- Login with Amazon ----------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        form: Any = (
            await request.post() if request.content_type.endswith("urlencoded") else await request.json()
        )
        if form.get("client_id") != self.cfg.client_id or form.get("client_secret") != self.cfg.client_secret:
            return web.json_response(
                {"error": "invalid_client", "error_description": "Client authentication failed"}, status=401
            )
        if form.get("grant_type") != "refresh_token":
            return web.json_response(
                {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"}, status=400
            )
        if form.get("refresh_token") != self.cfg.refresh_token:
            return web.json_response(
                {
                    "error": "invalid_grant",
                    "error_description": "The request has an invalid grant parameter : refresh_token",
                },
                status=400,
            )
        token = f"Atza|sandbox-{len(self.tokens) + 1}-{self.rng.getrandbits(64):016x}"
        self.tokens[token] = self.ctx.now() + self.cfg.token_ttl_s
        return web.json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": self.cfg.token_ttl_s}
        )

    # -- Orders API -------------------------------------------------------------------------------

    def _headers(self, operation: str) -> dict[str, str]:
        return {
            "x-amzn-RequestId": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "x-amzn-RateLimit-Limit": f"{self.buckets[operation].rate:g}",
        }

    def _guard(
        self, request: web.Request, operation: str, restricted: str | None = None
    ) -> web.Response | None:
        """403 without a live access token (for a `restricted` path: a live RDT covering GET of
        it), 429 when the operation's bucket is empty."""
        token = request.headers.get("x-amz-access-token") or ""
        if restricted is None:
            expires = self.tokens.get(token)
        else:
            expires, resources = self.rdts.get(token, (None, frozenset()))
            if expires is not None and ("GET", restricted) not in resources:
                expires = None
        if expires is None or expires <= self.ctx.now():
            details = (
                "The access token you provided has expired."
                if expires
                else "The access token you provided is revoked, malformed or invalid."
                if restricted is None or token not in self.tokens
                else "This operation returns restricted data: it needs a Restricted Data Token."
            )
            body = error_body(403, "Unauthorized", "Access to requested resource is denied.", details)
            return web.json_response(
                body, status=403, headers={"x-amzn-RequestId": self._headers(operation)["x-amzn-RequestId"]}
            )
        if self.buckets[operation].take(self.ctx.now()) > 0:
            self.throttled[operation] += 1
            body = error_body(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")
            return web.json_response(body, status=429, headers=self._headers(operation))
        return None

    def _bad(self, operation: str, message: str, status: int = 400) -> web.Response:
        code = "NotFound" if status == 404 else "InvalidInput"
        return web.json_response(
            error_body(status, code, message), status=status, headers=self._headers(operation)
        )

    async def get_orders(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "getOrders")) is not None:
            return refused
        q = request.query
        if not q.get("MarketplaceIds"):
            return self._bad("getOrders", "MarketplaceIds is required")
        if q.get("NextToken"):
            try:
                query = orjson.loads(base64.urlsafe_b64decode(q["NextToken"]))
            except ValueError:
                return self._bad("getOrders", "Invalid NextToken")
        else:
            query = self._new_query(q)
            if isinstance(query, str):
                return self._bad("getOrders", query)
        rows = self._select(query)
        size = min(int(q.get("MaxResultsPerPage", 100)), 100, self.cfg.page_size)
        page, rest = rows[query["offset"] : query["offset"] + size], rows[query["offset"] + size :]
        payload: dict[str, Any] = {"Orders": page}
        if rest:
            token = orjson.dumps({**query, "offset": query["offset"] + size})
            payload["NextToken"] = base64.urlsafe_b64encode(token).decode()
        payload["LastUpdatedBefore" if query["field"] == "updated" else "CreatedBefore"] = self.ctx.iso(
            query["before"]
        )
        return web.json_response({"payload": payload}, headers=self._headers("getOrders"))

    def _new_query(self, q: Any) -> dict[str, Any] | str:
        if bool(q.get("CreatedAfter")) == bool(q.get("LastUpdatedAfter")):
            return "Exactly one of CreatedAfter and LastUpdatedAfter must be specified"
        field = "updated" if q.get("LastUpdatedAfter") else "created"
        after_key, before_key = (
            ("LastUpdatedAfter", "LastUpdatedBefore")
            if field == "updated"
            else ("CreatedAfter", "CreatedBefore")
        )
        latest = self.ctx.now() - self.cfg.visibility_lag_s / self.ctx.config.speed
        try:
            after = _when(q[after_key])
            before = _when(q[before_key]) if q.get(before_key) else latest
        except ValueError:
            return f"{after_key}/{before_key} must be ISO 8601 dates"
        if before > latest + 1e-6:
            return f"{before_key} must be at least two minutes before the time of the request"
        if after > before:
            return f"{after_key} must be before {before_key}"
        statuses = [s for s in q.get("OrderStatuses", "").split(",") if s]
        return {
            "field": field,
            "after": after,
            "before": before,
            "statuses": statuses,
            "marketplaces": q["MarketplaceIds"].split(","),
            "offset": 0,
        }

    def _select(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        index = 1 if query["field"] == "updated" else 0
        rows = [
            (self.touched[oid][index], n, oid)
            for n, (oid, order) in enumerate(self.orders.items())
            if query["after"] <= self.touched[oid][index] <= query["before"]
            and order["MarketplaceId"] in query["marketplaces"]
            and (not query["statuses"] or order["OrderStatus"] in query["statuses"])
        ]
        return [self.orders[oid] for _, _, oid in sorted(rows)]

    async def get_order_items(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "getOrderItems")) is not None:
            return refused
        order_id = request.match_info["order_id"]
        if order_id not in self.orders:
            return self._bad("getOrderItems", f"Invalid order id {order_id}", 404)
        payload = {"AmazonOrderId": order_id, "OrderItems": self.items[order_id]}
        return web.json_response({"payload": payload}, headers=self._headers("getOrderItems"))

    # -- Tokens API and getOrderAddress ------------------------------------------------------------

    async def restricted_data_token(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "createRestrictedDataToken")) is not None:
            return refused
        try:
            body = orjson.loads(await request.read())
            wanted = body["restrictedResources"]
            resources = frozenset((str(r["method"]), str(r["path"])) for r in wanted)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return self._bad("createRestrictedDataToken", "restrictedResources [{method, path}] is required")
        if not 1 <= len(wanted) <= 50:
            return self._bad("createRestrictedDataToken", "restrictedResources takes 1 to 50 resources")
        if bad := sorted(p for m, p in resources if m != "GET" or not _RESTRICTED.match(p)):
            return self._bad("createRestrictedDataToken", f"Not a restricted resource: {', '.join(bad)}")
        token = f"Atz.sprdt|sandbox-{len(self.rdts) + 1}-{self.rng.getrandbits(64):016x}"
        self.rdts[token] = (self.ctx.now() + self.cfg.rdt_ttl_s, resources)
        answer = {"restrictedDataToken": token, "expiresIn": self.cfg.rdt_ttl_s}
        return web.json_response(answer, headers=self._headers("createRestrictedDataToken"))

    async def get_order_address(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        path = f"/orders/v0/orders/{order_id}/address"
        if (refused := self._guard(request, "getOrderAddress", restricted=path)) is not None:
            return refused
        if order_id not in self.orders:
            return self._bad("getOrderAddress", f"Invalid order id {order_id}", 404)
        payload: dict[str, Any] = {"AmazonOrderId": order_id}
        if self.orders[order_id]["OrderStatus"] != "Pending":  # no address before payment
            payload["ShippingAddress"] = dict(self.addresses[order_id])
        self.addresses_served += 1
        return web.json_response({"payload": payload}, headers=self._headers("getOrderAddress"))

    async def confirm_shipment(self, request: web.Request) -> web.Response:
        if (refused := self._guard(request, "confirmShipment")) is not None:
            return refused
        order_id = request.match_info["order_id"]
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            body = None
        record = {"at": self.ctx.iso(), "order_id": order_id, "body": body, "status": 204}
        self.confirmations.append(record)
        problem, status = self._confirm(order_id, body)
        if problem:
            record["status"] = status
            return self._bad("confirmShipment", problem, status)
        return web.Response(status=204, headers=self._headers("confirmShipment"))

    def _confirm(self, order_id: str, body: Any) -> tuple[str | None, int]:
        if order_id not in self.orders:
            return f"Invalid order id {order_id}", 404
        package = body.get("packageDetail") if isinstance(body, dict) else None
        if not isinstance(package, dict) or not body.get("marketplaceId"):
            return "marketplaceId and packageDetail are required", 400
        if missing := [f for f in _PACKAGE_FIELDS if not package.get(f)]:
            return f"packageDetail is missing {', '.join(missing)}", 400
        if self.orders[order_id]["OrderStatus"] == "Canceled":
            return "The order is canceled", 400
        items = {i["OrderItemId"]: i for i in self.items[order_id]}
        wanted = [
            (items.get(str(line.get("orderItemId"))), int(line.get("quantity") or 0))
            for line in package["orderItems"]
        ]
        if any(item is None or qty <= 0 for item, qty in wanted):
            return "orderItems reference unknown order items or quantities below 1", 400
        for item, qty in wanted:
            item["QuantityShipped"] = min(item["QuantityOrdered"], item["QuantityShipped"] + qty)  # type: ignore[index]
        order = self.orders[order_id]
        shipped = sum(i["QuantityShipped"] for i in self.items[order_id])
        ordered = sum(i["QuantityOrdered"] for i in self.items[order_id])
        order["NumberOfItemsShipped"], order["NumberOfItemsUnshipped"] = shipped, ordered - shipped
        order["OrderStatus"] = "Shipped" if shipped == ordered else "PartiallyShipped"
        self._touch(order_id)
        return None, 204

    # -- wiring ---------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.faults.middleware(self.name, error_body)])
        app.router.add_post("/auth/o2/token", self.token)
        app.router.add_get("/orders/v0/orders", self.get_orders)
        app.router.add_get("/orders/v0/orders/{order_id}/orderItems", self.get_order_items)
        app.router.add_get("/orders/v0/orders/{order_id}/address", self.get_order_address)
        app.router.add_post("/tokens/2021-03-01/restrictedDataToken", self.restricted_data_token)
        app.router.add_post("/orders/v0/orders/{order_id}/shipmentConfirmation", self.confirm_shipment)
        app.router.add_post("/_sandbox/orders", self.post_orders)
        app.router.add_post("/_sandbox/orders/{order_id}/cancel", self.post_cancel)
        return app

    def snapshot(self) -> dict[str, Any]:
        accepted = [c for c in self.confirmations if c["status"] == 204]
        return {
            "orders": {
                oid: {
                    "status": o["OrderStatus"],
                    "last_update": o["LastUpdateDate"],
                    "items": [
                        {
                            "id": i["OrderItemId"],
                            "sku": i["SellerSKU"],
                            "ordered": i["QuantityOrdered"],
                            "shipped": i["QuantityShipped"],
                        }
                        for i in self.items[oid]
                    ],
                }
                for oid, o in self.orders.items()
            },
            "shipment_confirmations": self.confirmations,
            "confirmations_per_order": dict(Counter(c["order_id"] for c in accepted)),
            "tokens_issued": len(self.tokens),
            "rdts_issued": len(self.rdts),
            "addresses_served": self.addresses_served,
            "throttled": dict(self.throttled),
            "rate_limits": {
                op: {"rate": b.rate, "burst": b.burst, "tokens": round(b.tokens, 3)}
                for op, b in self.buckets.items()
            },
        }
