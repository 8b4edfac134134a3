"""The sandbox WMS numbers its stock ledger and its stock webhooks reach the hub's intake out
of order and twice; the hub's positions still end at what the warehouse holds, on SQLite and
PostgreSQL. The hub (intake over HTTP, in this process) and the sandbox run on real time;
the test runs the hub's worker itself once the deliveries are in."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import uvicorn
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from crossdock import bootstrap
from crossdock.api.app import create_app
from crossdock.bootstrap import Hub
from crossdock.configuration import SecretBox, load_text
from crossdock.sandbox.app import SANDBOX, Sandbox, create_sandbox_app
from crossdock.sandbox.state import SandboxConfig, WmsConfig
from crossdock.store import inventory as store
from crossdock.store import reservations
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from crossdock.store.tables import counters
from tests.support.o2c import free_port

TENANT, WMS = "acme", "acme-wms"
ITEMS = [f"CD-{1001 + i}" for i in range(5)]

CONFIG = """
version: 1
tenants:
  - id: acme
    name: ACME Distribution
    connections:
      - id: acme-wms
        kind: wms-rest
        config: {{base_url: "{base}/wms", api_key: "{key}", webhook_secret: "{secret}"}}
"""


@dataclass
class Rig:
    hub: Hub
    sandbox: Sandbox
    base: str
    http: aiohttp.ClientSession

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.http.post(f"{self.base}{path}", json=body) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def faults(self, webhooks: dict[str, Any]) -> None:
        await self.post("/_sandbox/faults", {"wms": {"webhooks": webhooks}})

    async def receipt(self, item: str, units: int) -> None:
        reason = "receipt" if units > 0 else "write_off"
        await self.post(
            "/wms/_sandbox/stock/adjustments",
            {"reason": reason, "lines": [{"item": item, "quantity": units}]},
        )

    async def snapshot(self) -> None:
        await self.post("/wms/_sandbox/stock/snapshot", {})

    async def settle(self) -> None:
        """Every webhook delivered (held-back ones included), then the worker until idle."""
        await self.sandbox.drain(30)
        await self.hub.worker().run_until_idle(timeout=60)

    def warehouse(self, field: str = "on_hand") -> dict[str, int]:
        return {item: held[field] for (_, item), held in sorted(self.sandbox.wms.stock.items())}

    def positions(self, field: str = "on_hand") -> dict[str, int]:
        with self.hub.engine.connect() as c:
            return {p.item: int(getattr(p, field)) for p in store.read_positions(c, TENANT, ITEMS)}

    def counted(self) -> dict[str, int]:
        with self.hub.engine.connect() as c:
            rows = c.execute(select(counters.c.name, counters.c.value).where(counters.c.name.like("stock.%")))
            return dict(rows.all())


@pytest.fixture
async def rig(settings) -> AsyncIterator[Rig]:
    port = free_port()
    wms = WmsConfig(
        connection_id=WMS, stock=True, initial_stock=(20, 20), event_delay_s=0.01, partial_shipment_probability=0.5
    )
    sandbox_config = SandboxConfig(
        hub_url=f"http://127.0.0.1:{port}", seed=3, catalog_size=len(ITEMS), webhook_concurrency=1,
        webhook_retry_factor=0.001, wms=wms,
    )  # fmt: skip
    server = TestServer(create_sandbox_app(sandbox_config))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    text = CONFIG.format(base=base, key=wms.api_key, secret=wms.webhook_secret)
    engine = make_engine(settings.database_url)
    apply_config(
        engine, load_text(text), "crossdock.yaml", text, "ops@test", SecretBox.from_settings(settings)
    )
    engine.dispose()
    hub = bootstrap.build(settings)
    intake = uvicorn.Server(
        uvicorn.Config(create_app(hub, run_workers=False), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(intake.serve())
    while not intake.started:
        await asyncio.sleep(0.01)
    async with aiohttp.ClientSession() as http:
        yield Rig(hub, server.app[SANDBOX], base, http)
    intake.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    await hub.aclose()
    await server.close()


async def test_positions_end_at_the_warehouse_stock_though_webhooks_come_out_of_order(rig):
    a, b, c = ITEMS[:3]
    # A receipt held back behind the snapshot that counts it: it must not count twice.
    await rig.faults({"out_of_order": {"next": 1}})
    await rig.receipt(a, 24)
    await rig.snapshot()
    # A snapshot held back behind a later write-off: it must not wipe the write-off.
    await rig.faults({"out_of_order": {"next": 1}})
    await rig.snapshot()
    await rig.receipt(b, -3)
    # A snapshot newer than what the hub holds but older than a change that overtook it.
    await rig.receipt(c, 12)
    await rig.faults({"out_of_order": {"next": 1}})
    await rig.snapshot()
    await rig.receipt(c, -1)
    await rig.settle()
    assert rig.positions() == rig.warehouse()
    assert rig.positions()[a] == 44 and rig.positions()[b] == 17 and rig.positions()[c] == 31
    assert {"stock.included", "stock.superseded", "stock.rebased"} <= set(rig.counted())

    # Then a stretch of traffic with stock webhooks reordered and redelivered at random.
    await rig.faults({"out_of_order": {"probability": 0.4}, "duplicate": {"probability": 0.3}})
    for _ in range(4):
        rig.sandbox.wms.stock_traffic(6)
        await rig.snapshot()
    rig.sandbox.wms.stock_traffic(6)
    await rig.settle()
    injected = rig.sandbox.faults.snapshot()["wms"]["injected"]
    assert injected.get("webhook_out_of_order", 0) > 0 and injected.get("webhook_duplicate", 0) > 0
    assert rig.positions() == rig.warehouse()


async def test_orders_released_to_the_warehouse_are_counted_once_as_their_units_are_allocated_and_shipped(rig):
    """The hub holds three orders' units; the warehouse takes their releases, allocates what it
    has (one line only in part), ships in parcels, and its stock webhooks arrive out of order and
    twice. Each allocation converts the order's hold as the warehouse's `allocated` takes the
    units over, so at the end the hub's free stock is the warehouse's less only what no
    warehouse holds for the orders yet."""
    a, b, c = ITEMS[:3]
    await rig.snapshot()
    await rig.settle()
    wanted = {"shopify:1": {a: 5}, "shopify:2": {a: 4, b: 2}, "shopify:3": {c: 30}}  # 20 of c in stock
    with rig.hub.engine.begin() as conn:
        for order, lines in wanted.items():
            reservations.reserve_order(conn, TENANT, order, [(i, Decimal(q)) for i, q in lines.items()], 1.0,
                                within_stock=False)  # fmt: skip
    await rig.faults({"out_of_order": {"probability": 0.4}, "duplicate": {"probability": 0.3}})
    auth = {"Authorization": f"Bearer {rig.sandbox.ctx.config.wms.api_key}"}
    for n, (order, lines) in enumerate(wanted.items(), start=1):
        release = {
            "release_reference": f"R-{n}", "warehouse": "MAIN", "order_reference": order,
            "lines": [{"line_reference": str(i), "item": item, "quantity": q}
                      for i, (item, q) in enumerate(lines.items(), start=1)],
        }  # fmt: skip
        async with rig.http.post(f"{rig.base}/wms/releases", json=release, headers=auth) as resp:
            assert resp.status == 202, await resp.text()
    await rig.settle()
    await rig.snapshot()
    await rig.settle()

    assert rig.positions() == rig.warehouse() and rig.positions("allocated") == rig.warehouse("allocated")
    assert rig.warehouse()[a] == 11 and rig.warehouse()[c] == 0  # 9 of a and all 20 of c shipped
    with rig.hub.engine.connect() as conn:
        holds = {o: [(r.item, int(r.quantity), int(r.converted), r.state.value)
                     for r in reservations.read_reservations(conn, TENANT, o)]
                 for o in wanted}  # fmt: skip
        reserved = reservations.reserved_totals(conn, TENANT, ITEMS)
    assert holds == {  # shipped, its allocation with it
        "shopify:1": [(a, 0, 0, "consumed")],
        "shopify:2": [(a, 0, 0, "consumed"), (b, 0, 0, "consumed")],
        "shopify:3": [(c, 10, 0, "reserved")],  # the 10 the warehouse could not allocate
    }
    assert reserved == {c: Decimal(10)}
