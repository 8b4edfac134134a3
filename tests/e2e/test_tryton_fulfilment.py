"""Fulfilment by the ERP, end to end: a Shopify order becomes a confirmed Tryton sale; the
shipment Tryton created is completed there (as warehouse staff would) and the hub confirms
it back to Shopify with its tracking number, and posts the Tryton invoice.

Real HTTP throughout: the sandbox's Shopify store (in-process, aiohttp) sends the signed
`orders/create` webhook to the hub's HTTP server (in-process, uvicorn, with its worker and
scheduler); the hub speaks Shopify GraphQL to the sandbox and JSON-RPC to a REAL Tryton 8.2
server (opt-in: CROSSDOCK_TEST_TRYTON=1). Channel SKUs CD-1001... map to Tryton's SKU-1...
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
import time
from decimal import Decimal

import pytest
import uvicorn
from aiohttp.test_utils import TestServer

from crossdock import bootstrap
from crossdock.api.app import create_app
from crossdock.configuration import SecretBox, load_text
from crossdock.connectors.tryton import TrytonClient
from crossdock.sandbox.app import SANDBOX, create_sandbox_app
from crossdock.sandbox.state import SandboxConfig
from crossdock.store import orders as order_store
from crossdock.store.configuration import apply_config
from tests.support.tryton import needs_tryton, tryton  # noqa: F401 - the server fixture

pytestmark = [*needs_tryton, pytest.mark.slow]

TENANT = "northwind"
TRACKING = "1Z999AA10123456784"
ITEMS = {f"CD-{1000 + n}": f"SKU-{n}" for n in range(1, 6)}  # sandbox catalog SKU → Tryton product code


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(sandbox: SandboxConfig, sandbox_url: str, tryton) -> str:  # noqa: F811 - the server, passed in
    shop = sandbox.shopify
    doc = {
        "version": 1,
        "tenants": [
            {
                "id": TENANT,
                "name": "Northwind Traders",
                "settings": {"orders": {"erp": "tryton", "fulfilment": "erp", "erp_watch_seconds": 1}},
                "connections": [
                    {
                        "id": "shopify",
                        "kind": "shopify",
                        "config": {
                            "shop_domain": shop.shop_domain,
                            "base_url": f"{sandbox_url}/shopify",
                            "access_token": shop.access_token,
                            "webhook_secret": shop.app_secret,
                            "timeout_seconds": 5,
                        },
                    },
                    {
                        "id": "tryton",
                        "kind": "tryton",
                        "config": {
                            "url": tryton.url,
                            "database": tryton.database,
                            "username": tryton.admin_user,
                            "password": tryton.admin_password,
                        },
                    },
                ],
                "mappings": {
                    "sku": [{"channel": "shopify", "sku": sku, "item": item} for sku, item in ITEMS.items()],
                    "tax_codes": [{"channel": "shopify", "title": "*", "tax_code": "US-SALES"}],
                    "shipping_methods": [
                        {"channel": "shopify", "method": "*", "carrier": "UPS", "service": "GROUND"}
                    ],
                    "customers": {"unmatched": {"shopify": {"policy": "create"}}},
                    "legal_entities": {"default": "NORTHWIND-US"},
                },
                "validation": {"price_tolerance_percent": 50, "currencies": ["USD"]},
            }
        ],
    }
    return json.dumps(doc, indent=1)


@contextlib.asynccontextmanager
async def _hub_server(hub, port: int):
    """`crossdock serve` in-process: the HTTP intake plus one worker and the scheduler."""
    config = uvicorn.Config(
        create_app(hub, run_workers=True), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # older uvicorn; newer ones leave pytest's alone
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def _skip_used_order_ids(sandbox, client: TrytonClient) -> None:
    """The Tryton database outlives one parametrization: place (unannounced) sandbox orders until
    the next order id is one Tryton has no sale for."""
    store = sandbox.shopify
    announced = store.cfg
    store.cfg = dataclasses.replace(announced, topics=())
    try:
        while True:
            next_id = 5_800_000_000_000 + 1001 + len(store.orders)
            if not await client.search_read("sale.sale", [("reference", "=", f"shopify:{next_id}")], ["id"]):
                return
            store.create_orders(1, [{"sku": "CD-1001", "quantity": 1, "price": "10.00"}])
    finally:
        store.cfg = announced


async def _wait(what: str, probe, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout:.0f}s: {what}")
        await asyncio.sleep(0.3)


async def test_shopify_order_is_shipped_by_tryton_and_confirmed_with_tracking(settings, tryton):  # noqa: F811
    started = time.monotonic()
    hub_port = _free_port()
    sandbox_config = SandboxConfig(hub_url=f"http://127.0.0.1:{hub_port}", webhook_retry_factor=0.001)
    sandbox_server = TestServer(create_sandbox_app(sandbox_config))
    await sandbox_server.start_server()
    sandbox = sandbox_server.app[SANDBOX]
    sandbox_url = str(sandbox_server.make_url("")).rstrip("/")
    hub = bootstrap.build(settings)
    text = _config(sandbox_config, sandbox_url, tryton)
    apply_config(
        hub.engine,
        load_text(text, "tryton-e2e.yaml"),
        "tryton-e2e.yaml",
        text,
        "test",
        SecretBox.from_settings(settings),
    )
    client = TrytonClient(tryton.url, tryton.database, tryton.admin_user, tryton.admin_password)
    await client.login()
    try:
        await _skip_used_order_ids(sandbox, client)
        async with _hub_server(hub, hub_port):
            lines = [
                {"sku": "CD-1001", "quantity": 2, "price": "10.00"},
                {"sku": "CD-1002", "quantity": 1, "price": "25.50"},
            ]
            (order,) = sandbox.shopify.create_orders(1, lines)
            ref = f"shopify:{order['id']}"

            async def sale():
                return await client.find_sale_by_reference(ref)

            found = await _wait(f"a Tryton sale for {ref}", sale)
            found = await _wait(
                "the sale confirmed (processing)", lambda: _in_state(client, found["id"], "processing")
            )
            (shipment,) = await client.read_shipments(found["id"])
            products = {m["product"]: m["quantity"] for m in shipment["moves"]}
            codes = await client.read("product.product", list(products), ["code"])
            assert {c["code"]: products[c["id"]] for c in codes} == {"SKU-1": 2, "SKU-2": 1}

            # The distributor's warehouse staff: tracking number onto the shipment, then ship it.
            await client.set_shipment_reference(shipment["id"], TRACKING)
            assert await client.complete_shipment(shipment["id"]) == "done"

            async def fulfilled():
                state = sandbox.shopify.snapshot()
                return [f for f in state["fulfillments"] if f["order_id"] == order["id"]]

            (fulfillment,) = await _wait("the Shopify fulfillment with tracking", fulfilled)
            assert fulfillment["tracking_numbers"] == [TRACKING] and fulfillment["tracking_company"] == "UPS"
            assert sorted((li["sku"], li["quantity"]) for li in fulfillment["line_items"]) == [
                ("CD-1001", 2),
                ("CD-1002", 1),
            ]
            assert sandbox.shopify.snapshot()["orders"][str(order["id"])]["fulfillment_status"] == "fulfilled"

            async def closed():
                rec = await hub.database.read(order_store.get_order, TENANT, ref)
                return rec if rec is not None and rec.stage == "closed" else None

            await _wait("the hub's order closed (confirmed and invoiced)", closed)
            invoices = await client.read_invoices(found["id"])
            posted = [i for i in invoices if i["type"] == "out" and i["state"] == "posted"]
            assert len(posted) == 1 and posted[0]["total_amount"] >= Decimal("45.50")
            shipments = await hub.database.read(order_store.get_shipments, TENANT, ref)
            assert [s.shipment_ref for s in shipments] == [f"{ref}#{shipment['number']}"]
            assert shipments[0].confirmation_ref and shipments[0].invoice_ref == str(posted[0]["id"])
    finally:
        await client.close()
        await hub.aclose()
        await sandbox_server.close()
    print(f"\nShopify → Tryton → Shopify in {time.monotonic() - started:.1f}s")


async def _in_state(client: TrytonClient, sale_id: int, state: str):
    (row,) = await client.read("sale.sale", [sale_id], ["state", "number"])
    return row if row["state"] == state else None
