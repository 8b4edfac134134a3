"""The generic REST ERP under `/erp` (contract: docs/connectors/generic-rest-erp.md).

Every call needs `Authorization: Bearer <api key>`. JSON in and out; refusals are
`{"error": {"code", "message"}}` with a 4xx. The ERP does NOT deduplicate sales orders:
two POSTs with the same `external_reference` make two orders, and the snapshot's
`sales_orders_by_reference` shows the count — preventing that is the hub's job (look up
`GET /erp/sales-orders?external_reference=` after an ambiguous failure).
With `ErpConfig.rate_limit_per_s` set, excess calls get 429 with `Retry-After`.

List prices change during a run: `POST /erp/_sandbox/prices` with `{"item", "unit_price"}`
(one item) or `{"count": n}` (n seeded random changes of a few percent, kept within ±20%
of the catalog price), also the traffic generator's `prices` stream. Every change is kept
in the snapshot's `price_changes`; the hub reads list prices with `GET /erp/prices`.
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from aiohttp import web

from crossdock.sandbox import erp_items
from crossdock.sandbox.faults import FaultBook
from crossdock.sandbox.state import SandboxContext, TokenBucket
from crossdock.sandbox.traffic import make_catalog


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _fail(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(error_body(status, code, message), status=status, headers=headers)


def _open_to(line: dict[str, Any]) -> Decimal:
    """What a sales order line may still be invoiced up to: ordered less cancelled."""
    return Decimal(line["quantity"]) - Decimal(line.get("cancelled", "0"))


def _line_moves(
    so: dict[str, Any], body: dict[str, Any], over: str, over_text: str, empty: str
) -> list[tuple[dict[str, Any], Decimal]]:
    """The request's lines as (sales order line, quantity), each within what is still open
    (ordered, less invoiced and taken off); refused whole otherwise."""
    by_item = {line["item"]: line for line in so["lines"]}
    moves = []
    for n, line in enumerate(body.get("lines") or []):
        target = by_item.get(line.get("item"))
        qty = _qty(line.get("quantity"), f"lines[{n}]")
        if target is None or Decimal(target["invoiced"]) + qty > _open_to(target):
            raise Refusal(422, over, f"lines[{n}]: {over_text} {line.get('item')!r}")
        moves.append((target, qty))
    if not moves:
        raise Refusal(422, empty, "at least one line is required")
    return moves


def _close_if_done(so: dict[str, Any]) -> None:
    """Every unit invoiced or cancelled: `invoiced` (`cancelled` when none was invoiced)."""
    if all(Decimal(line["invoiced"]) >= _open_to(line) for line in so["lines"]):
        invoiced = any(Decimal(line["invoiced"]) > 0 for line in so["lines"])
        so["status"] = "invoiced" if invoiced else "cancelled"


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _qty(value: Any, where: str) -> Decimal:
    try:
        qty = Decimal(str(value))
    except InvalidOperation:
        raise Refusal(422, "invalid_quantity", f"{where}: {value!r} is not a number") from None
    if qty <= 0:
        raise Refusal(422, "invalid_quantity", f"{where}: quantity must be positive")
    return qty


class GenericErp:
    name = "erp"

    def __init__(self, ctx: SandboxContext, faults: FaultBook) -> None:
        self.ctx, self.cfg, self.faults = ctx, ctx.config.erp, faults
        self.reset()

    def reset(self) -> None:
        catalog = make_catalog(self.ctx.rng("catalog"), self.ctx.config.catalog_size)
        self.items = {c.sku: erp_items.item_record(c, i) for i, c in enumerate(catalog)}
        self.prices = {
            c.sku: [
                {
                    "item": c.sku,
                    "price_list": "RETAIL",
                    "currency": self.cfg.currency,
                    "unit_price": str(c.price),
                    "min_quantity": 1,
                    "unit_cost": str((c.price * Decimal("0.6")).quantize(Decimal("0.01"))),  # optional
                }
            ]
            for c in catalog
        }
        self.on_hand = {c.sku: Decimal(250) for c in catalog}
        self.catalog_prices = {c.sku: c.price for c in catalog}
        self.price_rng = self.ctx.rng("erp.prices")
        self.price_changes: list[dict[str, Any]] = []
        self.customers: dict[str, dict[str, Any]] = {}
        self.sales_orders: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        rate = self.cfg.rate_limit_per_s
        self.bucket = TokenBucket(rate, max(1.0, rate), self.ctx.now()) if rate else None
        self.rate_limited = 0

    # -- plumbing -----------------------------------------------------------------------------

    @web.middleware
    async def gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if "/_sandbox/" in request.path:
            return await handler(request)
        if request.headers.get("Authorization") != f"Bearer {self.cfg.api_key}":
            return _fail(401, "unauthorized", "missing or wrong bearer token")
        if self.bucket is not None and (wait := self.bucket.take(self.ctx.now())) > 0:
            self.rate_limited += 1
            return _fail(429, "rate_limited", "too many requests", {"Retry-After": str(math.ceil(wait))})
        try:
            return await handler(request)
        except Refusal as exc:
            return _fail(exc.status, exc.code, str(exc))

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise Refusal(400, "invalid_json", "the body is not JSON") from None
        if not isinstance(body, dict):
            raise Refusal(400, "invalid_json", "the body must be a JSON object")
        return body

    def _next(self, prefix: str, table: dict[str, Any]) -> str:
        return f"{prefix}-{len(table) + 1:06d}"

    def _allocated(self, sku: str) -> Decimal:
        return sum(
            (
                Decimal(line["quantity"]) - Decimal(line["invoiced"]) - Decimal(line.get("cancelled", "0"))
                for so in self.sales_orders.values()
                if so["status"] == "open"
                for line in so["lines"]
                if line["item"] == sku
            ),
            Decimal(0),
        )

    # -- master data ----------------------------------------------------------------------------

    async def get_items(self, request: web.Request) -> web.Response:
        if "limit" in request.query:  # the item master, page by page (see erp_items)
            limit = request.query["limit"]
            if not limit.isdigit() or not 1 <= int(limit) <= 1000:
                raise Refusal(422, "invalid_limit", "limit must be 1 to 1000")
            return web.json_response(erp_items.page(self.items, request.query.get("after"), int(limit)))
        codes = [c for c in request.query.get("codes", "").split(",") if c]
        found = [self.items[c] for c in codes if c in self.items] if codes else list(self.items.values())
        return web.json_response({"items": found, "missing": [c for c in codes if c not in self.items]})

    async def patch_item(self, request: web.Request) -> web.Response:
        item = self.items.get(request.match_info["code"])
        body = orjson.loads(await request.read() or b"{}")
        if item is None:
            return _fail(404, "not_found", f"item {request.match_info['code']!r} does not exist")
        if not isinstance(body, dict):
            return _fail(400, "invalid_json", "the body must be a JSON object")
        return web.json_response(erp_items.edit(item, body))

    async def get_customers(self, request: web.Request) -> web.Response:
        ref = request.query.get("external_ref")
        found = [c for c in self.customers.values() if ref is None or c["external_ref"] == ref]
        return web.json_response({"customers": found})

    async def post_customer(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not body.get("name"):
            raise Refusal(422, "invalid_customer", "name is required")
        customer_id = self._next("C", self.customers)
        self.customers[customer_id] = {
            "id": customer_id,
            "name": body["name"],
            "email": body.get("email"),
            "external_ref": body.get("external_ref"),
            "address": body.get("address"),
            "created_at": self.ctx.iso(),
        }
        return web.json_response(self.customers[customer_id], status=201)

    async def get_prices(self, request: web.Request) -> web.Response:
        items = [i for i in request.query.get("item", "").split(",") if i] or list(self.prices)
        return web.json_response({"prices": [p for i in items for p in self.prices.get(i, [])]})

    def change_price(self, item: str, unit_price: Decimal, price_list: str = "RETAIL") -> dict[str, Any]:
        """Set an item's list price; the change is recorded (and announced, see below)."""
        rows = self.prices.get(item)
        if not rows:
            raise Refusal(404, "not_found", f"item {item!r} has no price")
        row = next((r for r in rows if r.get("price_list") == price_list), rows[0])
        change = {
            "at": self.ctx.iso(),
            "item": item,
            "price_list": row.get("price_list"),
            "currency": row.get("currency"),
            "from": str(row["unit_price"]),
            "to": str(unit_price.quantize(Decimal("0.01"))),
        }
        row["unit_price"] = change["to"]
        self.price_changes.append(change)
        self.announce_price_change(change)
        return change

    def announce_price_change(self, change: dict[str, Any]) -> None:
        """Where a list price change would be pushed to the hub. The ERP has no price
        webhook: the hub learns list prices by reading `GET /erp/prices` (a pricing
        source poll), so nothing is sent here."""

    def price_traffic(self, count: int = 1) -> list[dict[str, Any]]:
        """The traffic generator's price changes: a random item up or down 2-8 percent,
        kept within ±20% of its catalog price (drawn from the seed)."""
        changes = []
        items = sorted(self.prices)
        for _ in range(count):
            item = self.price_rng.choice(items)
            current = Decimal(str(self.prices[item][0]["unit_price"]))
            step = Decimal(self.price_rng.randint(2, 8)) / 100 * self.price_rng.choice((-1, 1))
            base = self.catalog_prices.get(item, current)
            new = min(max(current * (1 + step), base * Decimal("0.8")), base * Decimal("1.2"))
            changes.append(self.change_price(item, new))
        return changes

    async def post_price_change(self, request: web.Request) -> web.Response:
        try:  # a control route: the gate passes it through without answering refusals
            body = await self._body(request)
            if "item" not in body:
                return web.json_response({"changes": self.price_traffic(int(body.get("count", 1)))})
            try:
                price = Decimal(str(body["unit_price"]))
            except (KeyError, InvalidOperation):
                raise Refusal(422, "invalid_price", "unit_price must be a decimal amount") from None
            if not price.is_finite() or price <= 0:
                raise Refusal(422, "invalid_price", "unit_price must be positive")
            return web.json_response({"changes": [self.change_price(str(body["item"]), price)]})
        except (TypeError, ValueError) as exc:
            return _fail(400, "invalid", str(exc))
        except Refusal as exc:
            return _fail(exc.status, exc.code, str(exc))

    async def get_stock(self, request: web.Request) -> web.Response:
        items = [i for i in request.query.get("items", "").split(",") if i] or list(self.on_hand)
        rows = [
            {
                "item": i,
                "on_hand": str(self.on_hand[i]),
                "allocated": str(self._allocated(i)),
                "available": str(self.on_hand[i] - self._allocated(i)),
            }
            for i in items
            if i in self.on_hand
        ]
        return web.json_response({"stock": rows})

    # -- sales orders ---------------------------------------------------------------------------

    async def post_sales_order(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not body.get("external_reference"):
            raise Refusal(422, "invalid_sales_order", "external_reference is required")
        if body.get("customer_id") and body["customer_id"] not in self.customers:
            raise Refusal(422, "unknown_customer", f"customer {body['customer_id']} does not exist")
        lines = []
        for n, line in enumerate(body.get("lines") or [], start=1):
            if line.get("item") not in self.items:
                raise Refusal(
                    422, "unknown_item", f"lines[{n - 1}]: item {line.get('item')!r} does not exist"
                )
            price = line.get("unit_price", self.prices[line["item"]][0]["unit_price"])
            lines.append(
                {
                    "line_no": n,
                    "item": line["item"],
                    "quantity": str(_qty(line.get("quantity"), f"lines[{n - 1}]")),
                    "unit_price": str(price),
                    "external_line_reference": line.get("external_line_reference"),
                    "invoiced": "0",
                    "cancelled": "0",
                }
            )
        if not lines:
            raise Refusal(422, "invalid_sales_order", "at least one line is required")
        so_id = self._next("SO", self.sales_orders)
        self.sales_orders[so_id] = {
            "id": so_id,
            "number": so_id,
            "external_reference": body["external_reference"],
            "customer_id": body.get("customer_id"),
            "currency": body.get("currency", self.cfg.currency),
            "ship_to": body.get("ship_to"),
            "status": "open",
            "lines": lines,
            "created_at": self.ctx.iso(),
        }
        return web.json_response(self.sales_orders[so_id], status=201)

    async def get_sales_orders(self, request: web.Request) -> web.Response:
        ref = request.query.get("external_reference")
        found = [so for so in self.sales_orders.values() if ref is None or so["external_reference"] == ref]
        return web.json_response({"sales_orders": found})

    def _sales_order(self, so_id: str) -> dict[str, Any]:
        if so_id not in self.sales_orders:
            raise Refusal(404, "not_found", f"sales order {so_id} does not exist")
        return self.sales_orders[so_id]

    async def get_sales_order(self, request: web.Request) -> web.Response:
        return web.json_response(self._sales_order(request.match_info["so_id"]))

    async def cancel_sales_order(self, request: web.Request) -> web.Response:
        so = self._sales_order(request.match_info["so_id"])
        if any(Decimal(line["invoiced"]) > 0 for line in so["lines"]):
            raise Refusal(409, "already_invoiced", f"sales order {so['id']} has invoices")
        so["status"] = "cancelled"
        return web.json_response(so)

    async def cancel_lines(self, request: web.Request) -> web.Response:
        """Take units off an open sales order; a repeated `reference` changes nothing."""
        so = self._sales_order(request.match_info["so_id"])
        body = await self._body(request)
        reference = body.get("reference")
        if not reference or not isinstance(reference, str):
            raise Refusal(422, "invalid_cancellation", "reference is required")
        done = so.setdefault("line_cancellations", [])
        if any(c["reference"] == reference for c in done):
            return web.json_response(so)
        if so["status"] != "open":
            raise Refusal(409, so["status"], f"sales order {so['id']} is {so['status']}")
        moves = _line_moves(so, body, "over_cancelled", "more than is open of", "invalid_cancellation")
        for target, qty in moves:
            target["cancelled"] = str(Decimal(target.get("cancelled", "0")) + qty)
        done.append({"reference": reference, "lines": body["lines"], "at": self.ctx.iso()})
        _close_if_done(so)
        return web.json_response(so)

    # -- invoices -------------------------------------------------------------------------------

    async def post_invoice(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        so = self._sales_order(str(body.get("sales_order")))
        if so["status"] == "cancelled":
            raise Refusal(409, "cancelled", f"sales order {so['id']} is cancelled")
        if not body.get("shipment_reference"):
            raise Refusal(422, "invalid_invoice", "shipment_reference is required")
        moves = _line_moves(so, body, "over_invoiced", "more than ordered of", "invalid_invoice")
        for target, qty in moves:
            target["invoiced"] = str(Decimal(target["invoiced"]) + qty)
            self.on_hand[target["item"]] -= qty
        _close_if_done(so)
        invoice_id = self._next("INV", self.invoices)
        total = sum((Decimal(t["unit_price"]) * q for t, q in moves), Decimal(0))
        self.invoices[invoice_id] = {
            "id": invoice_id,
            "sales_order": so["id"],
            "shipment_reference": body["shipment_reference"],
            "lines": [
                {"item": t["item"], "quantity": str(q), "unit_price": t["unit_price"]} for t, q in moves
            ],
            "total": str(total),
            "currency": so["currency"],
            "created_at": self.ctx.iso(),
        }
        return web.json_response(self.invoices[invoice_id], status=201)

    async def get_invoices(self, request: web.Request) -> web.Response:
        so = request.query.get("sales_order")
        return web.json_response(
            {"invoices": [i for i in self.invoices.values() if so is None or i["sales_order"] == so]}
        )

    # -- wiring -----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.faults.middleware(self.name, error_body), self.gate])
        r = app.router
        r.add_get("/items", self.get_items)
        r.add_patch("/_sandbox/items/{code}", self.patch_item)
        r.add_get("/customers", self.get_customers)
        r.add_post("/customers", self.post_customer)
        r.add_get("/prices", self.get_prices)
        r.add_get("/stock", self.get_stock)
        r.add_post("/sales-orders", self.post_sales_order)
        r.add_get("/sales-orders", self.get_sales_orders)
        r.add_get("/sales-orders/{so_id}", self.get_sales_order)
        r.add_post("/sales-orders/{so_id}/cancel", self.cancel_sales_order)
        r.add_post("/sales-orders/{so_id}/cancel-lines", self.cancel_lines)
        r.add_post("/invoices", self.post_invoice)
        r.add_get("/invoices", self.get_invoices)
        r.add_post("/_sandbox/prices", self.post_price_change)
        return app

    def snapshot(self) -> dict[str, Any]:
        by_ref = Counter(so["external_reference"] for so in self.sales_orders.values())
        return {
            "sales_orders": self.sales_orders,
            "sales_orders_by_reference": dict(by_ref),
            "duplicate_references": sorted(ref for ref, n in by_ref.items() if n > 1),
            "invoices": self.invoices,
            "invoices_by_shipment": dict(Counter(i["shipment_reference"] for i in self.invoices.values())),
            "customers": self.customers,
            "stock": {sku: str(qty) for sku, qty in self.on_hand.items()},
            "price_changes": self.price_changes,
            "rate_limited": self.rate_limited,
        }
