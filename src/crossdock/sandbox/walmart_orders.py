"""The Walmart seller's orders under `/walmart` (shapes from Walmart's published Orders API).

HTTP contract
    GET  /walmart/v3/orders?createdStartDate=&createdEndDate=&lastModifiedStartDate=
         &lastModifiedEndDate=&status=&limit=      → {"list": {"meta": {totalCount, limit,
         nextCursor}, "elements": {"order": [...]}}}, oldest change first; `nextCursor` is the
         query string of the next page (`?limit=&hasMoreElements=true&soIndex=&poIndex=&...`,
         the listing's filters included); 404 when nothing matches. Without createdStartDate
         only the last 7 days are listed.
    GET  /walmart/v3/orders/{purchaseOrderId}                 → {"order": {...}}
    POST /walmart/v3/orders/{purchaseOrderId}/acknowledge     → {"order": ...}; every
         `Created` unit becomes `Acknowledged`; 400 when no line is `Created` any more
    POST /walmart/v3/orders/{purchaseOrderId}/shipping        OrderShipment → {"order": ...};
         acknowledged units become `Shipped` with their trackingInfo (partial quantities
         allowed); 400 for a `Created` line (acknowledge first), unknown lines, more units
         than are open, or trackingInfo without carrier, methodCode, trackingNumber or time
    POST /walmart/v3/orders/{purchaseOrderId}/cancel          OrderCancellation → {"order": ...}
    POST /walmart/_sandbox/orders   {"count": n} or {"lines": [{"sku", "quantity", "price"?}]}
    POST /walmart/_sandbox/orders/{purchaseOrderId}/cancel    the customer cancels open units

Every change sets the line's `statusDate` and the order's last modification time (what
`lastModified...` filters read). Limits per operation (requests per minute, × `speed`):
getAllOrders and getAnOrder 5000, acknowledgeOrders, shippingUpdates and cancelOrderLines
60; an empty bucket answers 429 with `Retry-After` and `x-next-replenish-time`, every answer
carries `x-current-token-count`. Acknowledgements (with their time), shipping updates (with
carrier and tracking per line) and cancellations are recorded for `/_sandbox/state`.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from crossdock.sandbox.state import SandboxContext, TokenBucket
from crossdock.sandbox.traffic import make_catalog, pick_lines
from crossdock.sandbox.walmart_lines import (
    OPEN,
    Refused,
    amount,
    changes,
    line_state,
    lines_of,
    move,
    ms,
    recorded,
    sources,
    walmart_order,
)

ORDER_LIMITS = {"getAllOrders": 5000, "getAnOrder": 5000, "acknowledgeOrders": 60,
                "shippingUpdates": 60, "cancelOrderLines": 60}  # fmt: skip  # per minute
DEFAULT_WINDOW_S = 7 * 86_400


def _when(text: str) -> float:
    """Walmart's dates: `2020-03-16` or `2020-03-16T10:30:15Z` (UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class WalmartOrders:
    """The seller's orders: created through the control route, served by the Orders API."""

    def __init__(self, ctx: SandboxContext, error_body: Any, guard: Any) -> None:
        """`guard(request)`: the seller's answer to a request without a live access token, or None."""
        self.ctx, self.error_body, self.guard = ctx, error_body, guard
        self.reset()

    def reset(self) -> None:
        self.rng = self.ctx.rng("walmart.orders")
        self.catalog = make_catalog(self.ctx.rng("catalog"), self.ctx.config.catalog_size)
        self.orders: dict[str, dict[str, Any]] = {}
        self.times: dict[str, tuple[float, float]] = {}  # id → (created, last modified)
        self.acknowledgements: list[dict[str, Any]] = []
        self.shipments: list[dict[str, Any]] = []
        self.cancellations: list[dict[str, Any]] = []
        self.throttled: Counter[str] = Counter()
        speed = self.ctx.config.speed
        self.buckets = {op: TokenBucket(n / 60 * speed, n, self.ctx.now()) for op, n in ORDER_LIMITS.items()}

    # -- sandbox control ---------------------------------------------------------------------

    def create_orders(self, count: int = 1, lines: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        created = []
        for _ in range(count):
            now = self.ctx.now()
            order = walmart_order(self.rng, lines=pick_lines(self.rng, self.catalog, lines), now=now)
            self.orders[order["purchaseOrderId"]] = order
            self.times[order["purchaseOrderId"]] = (now, now)
            created.append(order)
        return created

    async def post_orders(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read() or b"{}")
        try:
            return web.json_response({"orders": self.create_orders(int(body.get("count", 1)), body.get("lines"))})
        except (ValueError, KeyError, TypeError) as exc:
            return self._refuse(Refused(str(exc)))

    async def post_customer_cancel(self, request: web.Request) -> web.Response:
        po = request.match_info["po"]
        if po not in self.orders:
            return self._refuse(Refused(f"purchase order {po} not found", 404))
        cancelled = {"status": "Cancelled", "cancellationReason": "CUSTOMER_CANCEL"}
        for line in lines_of(self.orders[po]):
            if open_units := sum(amount(line, s) for s in OPEN):
                move(line, OPEN, open_units, cancelled, self.ctx.now())
        self._touch(po)
        return web.json_response({"order": self.orders[po]})

    # -- the Orders API ------------------------------------------------------------------------

    def _take(self, request: web.Request, operation: str) -> web.Response | None:
        if (refused := self.guard(request)) is not None:
            return refused
        bucket = self.buckets[operation]
        wait = bucket.take(self.ctx.now())
        if wait <= 0:
            return None
        self.throttled[operation] += 1
        body = self.error_body("REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API", "Too many requests", "REQUEST")
        headers = {"Retry-After": str(max(1, int(wait + 0.999))), "x-current-token-count": "0",
                   "x-next-replenish-time": str(ms(self.ctx.now() + wait))}  # fmt: skip
        return web.json_response(body, status=429, headers=headers)

    def _answer(self, operation: str, body: Any) -> web.Response:
        tokens = int(self.buckets[operation].tokens)
        return web.json_response(body, headers={"x-current-token-count": str(tokens)})

    def _refuse(self, refused: Refused) -> web.Response:
        code = "CONTENT_NOT_FOUND.GMP_ORDER_API" if refused.status == 404 else "INVALID_REQUEST_CONTENT.GMP_ORDER_API"
        return web.json_response(self.error_body(code, refused.description), status=refused.status)

    async def get_orders(self, request: web.Request) -> web.Response:
        if (throttled := self._take(request, "getAllOrders")) is not None:
            return throttled
        q = request.query
        try:
            limit = min(max(int(q.get("limit", 100)), 1), 200)
            offset = int(q.get("poIndex", 0)) if q.get("hasMoreElements") == "true" else 0
            rows = self._select(q)
        except (ValueError, TypeError) as exc:
            return self._refuse(Refused(f"invalid query: {exc}"))
        if not rows:
            return self._refuse(Refused("No orders found for the given criteria", 404))
        page = rows[offset : offset + limit]
        meta: dict[str, Any] = {"totalCount": len(rows), "limit": len(page)}
        if offset + limit < len(rows):
            filters = {k: v for k, v in q.items() if k not in ("limit", "hasMoreElements", "soIndex", "poIndex")}
            more = {"limit": limit, "hasMoreElements": "true", "soIndex": len(rows), "poIndex": offset + limit}
            meta["nextCursor"] = "?" + urlencode({**more, **filters})
        return self._answer("getAllOrders", {"list": {"meta": meta, "elements": {"order": page}}})

    def _select(self, q: Any) -> list[dict[str, Any]]:
        now = self.ctx.now()
        created_from = _when(q["createdStartDate"]) if q.get("createdStartDate") else now - DEFAULT_WINDOW_S
        created_to = _when(q["createdEndDate"]) if q.get("createdEndDate") else now
        modified_from = _when(q["lastModifiedStartDate"]) if q.get("lastModifiedStartDate") else None
        modified_to = _when(q["lastModifiedEndDate"]) if q.get("lastModifiedEndDate") else None
        found = []
        for n, (po, (created, modified)) in enumerate(self.times.items()):
            if not created_from <= created <= created_to + 1e-3:
                continue
            if modified_from is not None and modified < modified_from:
                continue
            if modified_to is not None and modified > modified_to + 0.999:  # whole seconds
                continue
            if q.get("status") and not any(amount(li, q["status"]) for li in lines_of(self.orders[po])):
                continue
            found.append((modified, n, po))
        return [self.orders[po] for _, _, po in sorted(found)]

    async def get_order(self, request: web.Request) -> web.Response:
        if (throttled := self._take(request, "getAnOrder")) is not None:
            return throttled
        po = request.match_info["po"]
        if po not in self.orders:
            return self._refuse(Refused(f"purchase order {po} not found", 404))
        return self._answer("getAnOrder", {"order": self.orders[po]})

    async def acknowledge(self, request: web.Request) -> web.Response:
        if (throttled := self._take(request, "acknowledgeOrders")) is not None:
            return throttled
        po = request.match_info["po"]
        record = {"order_id": po, "at": self.ctx.iso(), "at_ts": self.ctx.now(), "status": 200}
        self.acknowledgements.append(record)
        try:
            if po not in self.orders:
                raise Refused(f"purchase order {po} not found", 404)
            created = [li for li in lines_of(self.orders[po]) if amount(li, "Created")]
            if not created:
                raise Refused(f"purchase order {po} has no line to acknowledge")
        except Refused as refused:
            record["status"] = refused.status
            return self._refuse(refused)
        for line in created:
            move(line, ("Created",), amount(line, "Created"), {"status": "Acknowledged"}, self.ctx.now())
        self._touch(po)
        return self._answer("acknowledgeOrders", {"order": self.orders[po]})

    async def ship(self, request: web.Request) -> web.Response:
        return await self._update(request, "shippingUpdates", "orderShipment", "Shipped")

    async def cancel(self, request: web.Request) -> web.Response:
        return await self._update(request, "cancelOrderLines", "orderCancellation", "Cancelled")

    async def _update(self, request: web.Request, operation: str, root: str, word: str) -> web.Response:
        if (throttled := self._take(request, operation)) is not None:
            return throttled
        po = request.match_info["po"]
        record: dict[str, Any] = {"order_id": po, "at": self.ctx.iso(), "status": 200, "lines": []}
        (self.shipments if word == "Shipped" else self.cancellations).append(record)
        try:
            if po not in self.orders:
                raise Refused(f"purchase order {po} not found", 404)
            asked = changes(self.orders[po], await request.read(), root, word)
        except Refused as refused:
            record["status"] = refused.status
            return self._refuse(refused)
        for line, units, status in asked:
            move(line, sources(word), units, status, self.ctx.now())
            record["lines"].append(recorded(line["lineNumber"], units, status))
        self._touch(po)
        return self._answer(operation, {"order": self.orders[po]})

    # -- wiring --------------------------------------------------------------------------------

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v3/orders", self.get_orders)
        router.add_get("/v3/orders/{po}", self.get_order)
        router.add_post("/v3/orders/{po}/acknowledge", self.acknowledge)
        router.add_post("/v3/orders/{po}/shipping", self.ship)
        router.add_post("/v3/orders/{po}/cancel", self.cancel)
        router.add_post("/_sandbox/orders", self.post_orders)
        router.add_post("/_sandbox/orders/{po}/cancel", self.post_customer_cancel)

    def snapshot(self) -> dict[str, Any]:
        acknowledged = {a["order_id"]: a["at"] for a in self.acknowledgements if a["status"] == 200}
        return {
            "orders": {po: self._order_state(po, acknowledged.get(po)) for po in self.orders},
            "acknowledgements": self.acknowledgements,
            "shipments": self.shipments,
            "cancellations": self.cancellations,
            "orders_throttled": dict(self.throttled),
        }

    def _order_state(self, po: str, acknowledged_at: str | None) -> dict[str, Any]:
        lines = lines_of(self.orders[po])
        return {
            "created_at": self.ctx.iso(self.times[po][0]),
            "acknowledged_at": acknowledged_at,
            "statuses": sorted({s["status"] for li in lines for s in li["orderLineStatuses"]["orderLineStatus"]}),
            "lines": [line_state(li) for li in lines],
        }

    def _touch(self, po: str) -> None:
        self.times[po] = (self.times[po][0], self.ctx.now())


__all__ = ["WalmartOrders", "walmart_order"]
