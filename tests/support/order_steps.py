"""Order steps in one process: the real engine (intake, claims, per-key order, retries, the
exception desk), the real order handlers and store, and in-memory ERP, WMS and channel
connectors, to drive a step's edge cases (units, short picks, cancellations, restarts) on a
fake clock. Only `connector` and `order_settings` are replaced in the flow modules; the
sandbox end-to-end tests (tests/e2e) are the proof that the flow works against real HTTP."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from crossdock import bootstrap
from crossdock.connectors.capabilities import ErpSalesOrder, SalesOrderLine, SalesOrderRequest
from crossdock.domain.money import Money
from crossdock.domain.order_lines import OrderLine
from crossdock.domain.orders import Order
from crossdock.domain.parties import Address
from crossdock.domain.serde import to_plain
from crossdock.errors import TransientError
from crossdock.flows.orders import cancel, confirm, erp_fulfilment, fulfil, prepare, warehouse
from crossdock.flows.orders.connect import OrderSettings
from crossdock.records import Delivery
from crossdock.store import exceptions as desk
from crossdock.store import orders as ostore
from crossdock.store.queries import ExceptionFilter
from crossdock.store.tables import exceptions as exc_table
from crossdock.store.tables import messages as msg_table
from tests.support.clock import FakeClock

TENANT = "acme"
D = Decimal


@dataclass
class FakeErp:
    orders: dict[str, ErpSalesOrder] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    cancelled_lines: list[tuple[str, str, tuple]] = field(default_factory=list)
    shipments: dict[str, list] = field(default_factory=dict)  # sales order id → ErpShipments
    invoices: list[tuple[str, str, tuple]] = field(default_factory=list)
    fail_create_after_effect: int = 0  # first n creates take effect, then time out
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    async def find_sales_order(self, ref):
        return self.orders.get(ref)

    async def create_sales_order(self, req: SalesOrderRequest):
        so = ErpSalesOrder(f"SO-{next(self._ids)}", None, req.external_reference, "confirmed")
        self.created.append(so.id)
        self.orders[req.external_reference] = so
        if self.fail_create_after_effect:
            self.fail_create_after_effect -= 1
            raise TransientError("ERP timed out", ambiguous=True)
        return so

    async def cancel_sales_order(self, so_id):
        self.cancelled.append(so_id)

    async def shipments_of(self, so_id):
        """ErpFulfilment: the shipments the test put on the sales order."""
        return list(self.shipments.get(so_id, []))

    async def cancel_sales_order_lines(self, so_id, reference, lines):
        if all(ref != reference for _so, ref, _lines in self.cancelled_lines):
            self.cancelled_lines.append((so_id, reference, lines))

    async def find_invoice(self, ref):
        return next((i for i, r, _ in self.invoices if r == ref), None)

    async def post_invoice(self, req):
        iid = f"INV-{len(self.invoices) + 1}"
        self.invoices.append((iid, req.shipment_reference, req.lines))
        return iid

    async def stock(self, items):
        return {}

    async def prices(self, items, currency):
        return {}


# An ERP whose connector cannot take units off a sales order: FakeErp without that method
# (not a subclass: a protocol check finds a method anywhere in the class's bases).
ErpWithoutLineCancellation = type(
    "ErpWithoutLineCancellation",
    (),
    {k: v for k, v in vars(FakeErp).items() if k not in ("cancel_sales_order_lines", "__dict__", "__weakref__")},
)


@dataclass
class FakeWms:
    releases: dict[str, Any] = field(default_factory=dict)
    refuse_cancel: bool = False
    cancel_calls: list[str] = field(default_factory=list)

    async def find_release(self, ref):
        return ref if ref in self.releases else None

    async def release(self, req):
        self.releases[req.release_reference] = req
        return req.release_reference

    async def cancel_release(self, ref):
        self.cancel_calls.append(ref)
        return not self.refuse_cancel


@dataclass
class FakeChannel:
    confirmations: list[tuple[str, Any]] = field(default_factory=list)
    cancelled_lines: list[dict] = field(default_factory=list)
    requires_acknowledgement = False
    channel = "shopify"

    async def find_shipment_confirmation(self, order, shipment):
        return next((c for c, s in self.confirmations if s.shipment_id == shipment.shipment_id), None)

    async def confirm_shipment(self, order, shipment):
        cid = f"F-{len(self.confirmations) + 1}"
        self.confirmations.append((cid, shipment))
        return cid

    async def cancel_lines(self, order, lines, reason):
        self.cancelled_lines.append(dict(lines))

    async def acknowledge_order(self, order):
        pass


class Harness:
    def __init__(self, settings, monkeypatch, *, short_pick: str = "backorder", fulfilment: str = "wms",
                 erp: FakeErp | None = None) -> None:  # fmt: skip
        self.clock = FakeClock()
        self.hub = bootstrap.build(settings, clock=self.clock)
        self.erp, self.wms, self.channel = erp or FakeErp(), FakeWms(), FakeChannel()
        self.settings = OrderSettings(
            erp="erp", wms="wms", warehouses={}, short_pick=short_pick, channel_connections={}, fulfilment=fulfilment
        )
        fakes = {"erp": self.erp, "wms": self.wms, "channel": self.channel}

        async def connector(ctx, connection_id, *, role):
            return fakes[role]

        async def order_settings(ctx):
            return self.settings

        for mod in (cancel, confirm, erp_fulfilment, fulfil, prepare, warehouse):
            if hasattr(mod, "connector"):
                monkeypatch.setattr(mod, "connector", connector)
            if hasattr(mod, "order_settings"):
                monkeypatch.setattr(mod, "order_settings", order_settings)
        self._n = itertools.count(1)

    # -- seeding -------------------------------------------------------------------------------

    def seed_validated(self, ref_id: str = "1001", lines=(("L1", "CASE-A", D(1), "A", D(12), "EA"),)) -> str:
        """A validated order: channel lines (line id, channel sku, channel qty) mapped to ERP
        lines (item, ERP qty, uom)."""
        order = Order(
            "shopify",
            ref_id,
            "USD",
            lines=[OrderLine(lid, sku, q, Money(D(120), "USD")) for lid, sku, q, _i, _eq, _u in lines],
        )
        ship_to = Address(name="Ada", line1="1 Main St", city="Austin", postal_code="78701", country="US")
        request = SalesOrderRequest(
            order.ref,
            "USD",
            tuple(SalesOrderLine(lid, item, eq, uom, D(10)) for lid, _s, _q, item, eq, uom in lines),
            None,
            "Ada",
            None,
            ship_to,
        )
        rec = ostore.OrderRecord(
            TENANT, order.ref, "shopify", ref_id, "shop", "validated", order.status.value, to_plain(order),
            channel_updated_at="2026-01-01T00:00:00+00:00", mapped=to_plain(request),
        )  # fmt: skip
        with self.hub.engine.begin() as c:
            ostore.save_order(c, rec, self.clock())
        return order.ref

    # -- deliveries ----------------------------------------------------------------------------

    async def deliver(self, kind: str, payload: dict, ordering_key: str, key: str | None = None) -> int:
        raw = json.dumps(payload)
        key = key or f"d{next(self._n)}"
        accepted = await self.hub.intake.accept(
            Delivery(TENANT, "conn", kind, key, raw, raw, ordering_key=ordering_key, correlation_id=ordering_key)
        )
        self.clock.advance(0.001)
        return accepted.message_id

    async def start(self, ref: str) -> None:
        await self.deliver("order.erp.create", {"order_ref": ref}, ref)

    def wms_event(self, ref: str, topic: str, *, release_ref: str | None = None, **data) -> dict:
        return {
            "type": f"release.{topic}",
            "timestamp": "2026-01-02T00:00:00Z",
            "data": {
                "release_reference": release_ref or f"{ref}@MAIN",
                "warehouse": "MAIN",
                "order_reference": ref,
                "status": topic,
                **data,
            },
        }

    async def shipped(self, ref: str, sref: str, lines: list[tuple[str, int]], final: bool = True, tracking="1Z1"):
        body = self.wms_event(
            ref,
            "shipped",
            shipment={
                "shipment_reference": sref,
                "release_reference": f"{ref}@MAIN",
                "warehouse": "MAIN",
                "carrier": "UPS",
                "service": "GROUND",
                "tracking_number": tracking,
                "lines": [{"line_reference": lid, "item": "A", "quantity": q} for lid, q in lines],
                "shipped_at": "2026-01-02T00:00:00Z",
                "final": final,
            },
        )
        return await self.deliver("order.warehouse_event", body, ref)

    async def short_picked(self, ref: str, lines: list[tuple[str, int, int]]):
        body = self.wms_event(
            ref,
            "short_picked",
            lines=[
                {"line_reference": lid, "item": "A", "quantity": req, "picked": got, "short": req - got}
                for lid, req, got in lines
            ],
        )
        return await self.deliver("order.warehouse_event", body, ref)

    # -- running -------------------------------------------------------------------------------

    async def run(self, rounds: int = 1, advance: float = 0.0) -> None:
        for _ in range(rounds):
            await self.hub.worker().run_until_idle(timeout=30)
            if advance:
                self.clock.advance(advance)

    async def drain_retries(self, rounds: int = 60, step: float = 700.0) -> None:
        """Let retries with backoff come due (moves the fake clock)."""
        for _ in range(rounds):
            await self.hub.worker().run_until_idle(timeout=30)
            self.clock.advance(step)

    # -- reading -------------------------------------------------------------------------------

    def order(self, ref: str):
        with self.hub.engine.connect() as c:
            return ostore.get_aggregate_and_head(c, TENANT, ref)[0]

    def messages(self, ref: str) -> list[dict]:
        with self.hub.engine.connect() as c:
            rows = c.execute(
                select(msg_table.c.id, msg_table.c.kind, msg_table.c.status, msg_table.c.attempts, msg_table.c.last_error)
                .where(msg_table.c.ordering_key == ref)
                .order_by(msg_table.c.seq)
            ).mappings()
            return [dict(r) for r in rows]

    def open_exceptions(self) -> list[dict]:
        with self.hub.engine.connect() as c:
            rows = c.execute(
                select(exc_table.c.id, exc_table.c.category, exc_table.c.message_id, exc_table.c.status)
            ).mappings()
            return [dict(r) for r in rows if r["status"] == "open"]

    def resolve_all(self, reason: str = "handled by phone") -> None:
        with self.hub.engine.begin() as c:
            desk.resolve(c, ExceptionFilter(tenant_ids=(TENANT,)), reason, "op", self.clock())

    async def close(self) -> None:
        await self.hub.aclose()


def run(coro):
    return asyncio.run(coro)


def seed_order(h: Harness, order: Order, erp_lines: dict[str, tuple[str, Decimal, str]], stage: str = "validated",
               channel_updated_at: str = "2026-01-01T00:00:00+00:00") -> str:  # fmt: skip
    """Seed an already-decoded canonical order; erp_lines: line id → (item, ERP qty, uom)."""
    ship_to = order.ship_to or Address(name="Ada", line1="1 Main St", city="Austin", postal_code="78701", country="US")
    request = SalesOrderRequest(
        order.ref,
        order.currency,
        tuple(  # as mapping leaves it: the order units asked for are those the channel did not cancel
            SalesOrderLine(lid, item, q, uom, D(10), order_quantity=order.line(lid).ordered - order.line(lid).cancelled)
            for lid, (item, q, uom) in erp_lines.items()
        ),
        None,
        "Ada",
        None,
        ship_to,
    )
    rec = ostore.OrderRecord(
        TENANT, order.ref, order.channel, order.channel_order_id, "shop", stage, order.status.value, to_plain(order),
        channel_updated_at=channel_updated_at, mapped=to_plain(request),
    )  # fmt: skip
    with h.hub.engine.begin() as c:
        ostore.save_order(c, rec, h.clock())
    return order.ref
