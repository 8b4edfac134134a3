"""A Shopify store under `/shopify`: orders, signed order webhooks to the hub, and the Admin
GraphQL endpoint with Shopify's cost-based throttling.

HTTP contract
    POST /shopify/admin/api/2026-04/graphql.json   header `X-Shopify-Access-Token` (else 401)
        body {"query": "...", "variables": {...}} — see `shopify_graphql` for what is understood.
    POST /shopify/_sandbox/orders                  {"count": 3} or {"lines": [{"sku", "quantity"}]},
                                                   optional "financial_status" → {"orders": [...]}
    POST /shopify/_sandbox/orders/{id}/cancel      cancels, sends orders/cancelled + orders/updated
    POST /shopify/_sandbox/orders/{id}/update      {"note": ...} → orders/updated

Webhooks go to `{hub}/hooks/{connection_id}/{topic}` for the subscribed topics
(`ShopifyStoreConfig.topics`); a new paid order sends orders/create then orders/paid.
The store keeps every fulfillmentCreate call, accepted or not, so a hub that fulfils
twice shows up in the snapshot (`fulfillment_requests_per_order`).
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import orjson
from aiohttp import web

from crossdock.sandbox import shopify_catalog
from crossdock.sandbox import shopify_graphql as gql
from crossdock.sandbox.faults import FaultBook
from crossdock.sandbox.shopify_mutations import MUTATIONS
from crossdock.sandbox.state import API_VERSION, CostBucket, SandboxContext
from crossdock.sandbox.traffic import make_catalog, pick_lines, shopify_order
from crossdock.sandbox.webhooks import Delivery, WebhookSender, shopify_headers


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """Shopify's Admin API answers HTTP-level failures with a bare `errors` string."""
    return {"errors": message}


class ShopifyStore:
    name = "shopify"

    def __init__(self, ctx: SandboxContext, faults: FaultBook, sender: WebhookSender) -> None:
        self.ctx, self.cfg, self.faults, self.sender = ctx, ctx.config.shopify, faults, sender
        self.reset()

    def reset(self) -> None:
        self.rng = self.ctx.rng("shopify")
        self.order_rng = self.ctx.rng("shopify.orders")  # orders alone: the seed replays them
        self.catalog = make_catalog(self.ctx.rng("catalog"), self.ctx.config.catalog_size)
        self.products: dict[int, dict[str, Any]] = {}
        self.variants: dict[int, dict[str, Any]] = {}
        self.inventory: dict[tuple[int, int], dict[str, int]] = {}
        for item in self.catalog:
            self.products[item.product_id] = {
                "id": item.product_id,
                "title": item.title,
                "handle": item.sku.lower(),
                "variant_ids": [item.variant_id],
            }
            self.variants[item.variant_id] = {
                "id": item.variant_id,
                "sku": item.sku,
                "price": str(item.price),
                "compare_at_price": None,
                "product_id": item.product_id,
                "inventory_item_id": item.inventory_item_id,
            }
            stock = self.cfg.initial_stock
            self.inventory[(item.inventory_item_id, self.cfg.location_id)] = {
                "available": stock,
                "on_hand": stock,
            }
        self.orders: dict[int, dict[str, Any]] = {}
        self.fulfillment_orders: dict[int, dict[str, Any]] = {}
        self.fulfillment_requests: list[dict[str, Any]] = []
        self.fulfillments: list[dict[str, Any]] = []
        self.inventory_changes: list[dict[str, Any]] = []
        self.price_changes: list[dict[str, Any]] = []
        self.idempotency: dict[str, dict[str, Any]] = {}
        self.idempotent_replays = 0
        self.operations: Counter[str] = Counter()
        self.bucket = CostBucket(self.cfg.bucket_size, self.cfg.restore_rate, self.ctx.now())
        self.seq = 0
        self.sender.reset()

    def next_id(self, base: int) -> int:
        self.seq += 1
        return base + self.seq

    def variant_by_sku(self, sku: str) -> dict[str, Any] | None:
        return next((v for v in self.variants.values() if v["sku"] == sku), None)

    # -- orders and webhooks -------------------------------------------------------------------

    def create_orders(
        self, count: int = 1, lines: list[dict[str, Any]] | None = None, financial_status: str = "paid"
    ) -> list[dict[str, Any]]:
        created = []
        for _ in range(count):
            chosen = pick_lines(self.order_rng, self.catalog, lines)
            number = 1001 + len(self.orders)
            order_id = 5_800_000_000_000 + number
            order = shopify_order(
                self.order_rng,
                order_id=order_id,
                number=number,
                first_line_id=13_000_000_000_000 + self.next_id(0) * 1000,
                customer_id=7_700_000_000_000 + number,
                lines=chosen,
                now=self.ctx.iso(),
                shop_domain=self.cfg.shop_domain,
                currency=self.cfg.currency,
            )
            order["financial_status"] = financial_status
            self.orders[order_id] = order
            self._open_fulfillment_order(order)
            self._announce_new(order)
            created.append(order)
        return created

    def _open_fulfillment_order(self, order: dict[str, Any]) -> None:
        fo_id = self.next_id(6_600_000_000_000)
        lines = [
            {
                "id": self.next_id(8_800_000_000_000),
                "line_item_id": li["id"],
                "sku": li["sku"],
                "total": li["quantity"],
                "remaining": li["quantity"],
            }
            for li in order["line_items"]
        ]
        self.fulfillment_orders[fo_id] = {
            "id": fo_id,
            "order_id": order["id"],
            "status": "OPEN",
            "lines": lines,
        }

    def _announce_new(self, order: dict[str, Any]) -> None:
        if self.faults.webhook_fault(self.name, "out_of_order"):
            self.emit("orders/updated", order)
        self.emit("orders/create", order)
        if order["financial_status"] == "paid":
            self.emit("orders/paid", order)

    def emit(self, topic: str, order: dict[str, Any]) -> None:
        if topic not in self.cfg.topics:
            return
        body = orjson.dumps(order)
        webhook_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        headers = shopify_headers(
            secret=self.cfg.app_secret,
            shop_domain=self.cfg.shop_domain,
            topic=topic,
            body=body,
            webhook_id=webhook_id,
            event_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            triggered_at=self.ctx.iso(),
        )
        url = f"{self.ctx.hub_url(self.cfg.hub_url)}/hooks/{self.cfg.connection_id}/{topic}"
        copies = 2 if self.faults.webhook_fault(self.name, "duplicate") else 1
        self.sender.send(Delivery(webhook_id, topic, url, body, headers), copies=copies)

    def touch(self, order: dict[str, Any]) -> None:
        order["updated_at"] = self.ctx.iso()

    # -- HTTP ------------------------------------------------------------------------------------

    async def post_orders(self, request: web.Request) -> web.Response:
        body = await _json(request)
        try:
            orders = self.create_orders(
                int(body.get("count", 1)), body.get("lines"), body.get("financial_status", "paid")
            )
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": {"code": "invalid", "message": str(exc)}}, status=400)
        return web.json_response({"orders": orders}, dumps=_dumps)

    async def post_cancel(self, request: web.Request) -> web.Response:
        order = self.orders.get(int(request.match_info["order_id"]))
        if order is None:
            return web.json_response({"errors": "Not Found"}, status=404)
        order["cancelled_at"] = self.ctx.iso()
        order["cancel_reason"] = (await _json(request)).get("reason", "customer")
        self.touch(order)
        for fo in self.fulfillment_orders.values():
            if fo["order_id"] == order["id"] and fo["status"] != "CLOSED":
                fo["status"] = "CANCELLED"
        self.emit("orders/cancelled", order)
        self.emit("orders/updated", order)
        return web.json_response({"order": order}, dumps=_dumps)

    async def post_update(self, request: web.Request) -> web.Response:
        order = self.orders.get(int(request.match_info["order_id"]))
        if order is None:
            return web.json_response({"errors": "Not Found"}, status=404)
        changes = await _json(request)
        order.update({k: v for k, v in changes.items() if k in ("note", "tags", "shipping_address", "email")})
        self.touch(order)
        self.emit("orders/updated", order)
        return web.json_response({"order": order}, dumps=_dumps)

    async def graphql(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Shopify-Access-Token") != self.cfg.access_token:
            message = "[API] Invalid API key or access token (unrecognized login or wrong password)"
            return web.json_response({"errors": message}, status=401)
        try:
            body = orjson.loads(await request.read())
            op = gql.parse(body.get("query") or "", body.get("variables") or {})
        except (orjson.JSONDecodeError, AttributeError, gql.GraphQLError) as exc:
            return web.json_response({"errors": [{"message": str(exc)}]}, status=400)
        return web.json_response(self.execute(op), dumps=_dumps)

    def execute(self, op: gql.Operation) -> dict[str, Any]:
        """Charge the cost bucket, run the operation, refund the unused points."""
        now = self.ctx.now()
        requested = gql.requested_cost(op)
        if requested > self.bucket.maximum:
            message = (
                f"Query cost is {requested}, which exceeds the single query max cost limit "
                f"({int(self.bucket.maximum)})."
            )
            ext = {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": int(self.bucket.maximum)}
            return {"errors": [{"message": message, "extensions": ext}]}
        if not self.bucket.try_spend(requested, now):
            cost = {
                "requestedQueryCost": requested,
                "actualQueryCost": None,
                "throttleStatus": self.bucket.status(),
            }
            ext = {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}
            return {"errors": [{"message": "Throttled", "extensions": ext}], "extensions": {"cost": cost}}
        self.operations[op.root] += 1
        result, actual = gql.run(self, op, MUTATIONS)
        actual = min(actual, requested)
        self.bucket.settle(requested, actual, now)
        cost = {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": self.bucket.status(),
        }
        return {**result, "extensions": {"cost": cost}}

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.faults.middleware(self.name, error_body)])
        app.router.add_post(f"/admin/api/{API_VERSION}/graphql.json", self.graphql)
        app.router.add_post("/_sandbox/orders", self.post_orders)
        app.router.add_post("/_sandbox/orders/{order_id}/cancel", self.post_cancel)
        app.router.add_post("/_sandbox/orders/{order_id}/update", self.post_update)
        return app

    def snapshot(self) -> dict[str, Any]:
        by_sku = {v["inventory_item_id"]: v["sku"] for v in self.variants.values()}
        requests_per_order = Counter(str(r["order_id"]) for r in self.fulfillment_requests)
        return {
            "orders": {
                str(o["id"]): {
                    "name": o["name"],
                    "financial_status": o["financial_status"],
                    "fulfillment_status": o["fulfillment_status"],
                    "cancelled": o["cancelled_at"] is not None,
                    "lines": [
                        {
                            "id": li["id"],
                            "sku": li["sku"],
                            "quantity": li["quantity"],
                            "fulfillable_quantity": li["fulfillable_quantity"],
                        }
                        for li in o["line_items"]
                    ],
                }
                for o in self.orders.values()
            },
            "fulfillments": self.fulfillments,
            "fulfillment_requests": len(self.fulfillment_requests),
            "fulfillment_requests_per_order": dict(requests_per_order),
            "rejected_fulfillment_requests": [r for r in self.fulfillment_requests if r["user_errors"]],
            "inventory": {
                f"{by_sku.get(item, item)}@{loc}": dict(q) for (item, loc), q in self.inventory.items()
            },
            "inventory_changes": self.inventory_changes,
            "idempotent_replays": self.idempotent_replays,
            "prices": {v["sku"]: v["price"] for v in self.variants.values()},
            "products": shopify_catalog.snapshot(self.products, self.variants),
            "price_changes": self.price_changes,
            "graphql_operations": dict(self.operations),
            "throttle": self.bucket.snapshot(),
            "webhooks": self.sender.snapshot(),
        }


async def _json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    value = orjson.loads(await request.read())
    return value if isinstance(value, dict) else {}


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
