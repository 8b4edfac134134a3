"""The outside world's snapshot, reset, determinism, and the sandbox's own control routes."""

from __future__ import annotations

from crossdock.sandbox.state import SandboxConfig
from crossdock.sandbox.traffic import make_catalog


async def test_snapshot_shows_every_system_and_reset_forgets(sandbox):
    client, _ = sandbox
    await client.post("/shopify/_sandbox/orders", json={"count": 2})
    await client.post("/amazon/_sandbox/orders", json={"count": 1})
    await client.post(
        "/erp/sales-orders",
        json={"external_reference": "x", "lines": [{"item": "CD-1001", "quantity": 1}]},
        headers={"Authorization": "Bearer erp-sandbox-key"},
    )
    state = await (await client.get("/_sandbox/state")).json()
    assert {"shopify", "amazon", "erp", "wms", "faults", "traffic"} <= set(state)
    assert len(state["shopify"]["orders"]) == 2 and len(state["amazon"]["orders"]) == 1
    assert state["erp"]["sales_orders_by_reference"] == {"x": 1}
    assert state["shopify"]["inventory"]["CD-1001@73000000001"] == {"available": 100, "on_hand": 100}
    assert state["erp"]["calls"]["total"] == 1

    assert (await client.post("/_sandbox/reset")).status == 200
    state = await (await client.get("/_sandbox/state")).json()
    assert state["shopify"]["orders"] == {} and state["amazon"]["orders"] == {}
    assert state["erp"]["sales_orders"] == {} and state["erp"]["calls"]["total"] == 0


async def test_the_same_seed_gives_the_same_orders(make_sandbox):
    orders = []
    for seed in (7, 7, 8):
        client, _ = await make_sandbox(seed=seed)
        body = await (await client.post("/shopify/_sandbox/orders", json={"count": 3})).json()
        amazon = await (await client.post("/amazon/_sandbox/orders", json={"count": 2})).json()
        orders.append((body["orders"], amazon["orders"]))
    assert orders[0] == orders[1]
    assert orders[0] != orders[2]


def test_catalog_is_seeded():
    import random

    assert make_catalog(random.Random("1:catalog"), 5) == make_catalog(random.Random("1:catalog"), 5)


async def test_config_route_lists_endpoints_and_credentials(sandbox):
    client, _ = sandbox
    wiring = await (await client.get("/_sandbox/config")).json()
    assert wiring["shopify"]["graphql_url"].endswith("/shopify/admin/api/2026-04/graphql.json")
    assert wiring["wms"]["webhook_secret"].startswith("whsec_")
    assert wiring["amazon"]["token_url"].endswith("/amazon/auth/o2/token")


async def test_traffic_loop_creates_orders_at_the_requested_rate(make_sandbox):
    client, sandbox = await make_sandbox()
    resp = await client.post("/_sandbox/traffic", json={"shopify": 6000})  # one every 10 ms
    assert resp.status == 200
    import asyncio
    import time

    deadline = time.monotonic() + 5.0  # a loaded machine may be slow; the rate itself is not timed here
    while sandbox.traffic.created["shopify"] < 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await client.post("/_sandbox/traffic", json={"shopify": 0})
    assert (
        sandbox.traffic.created["shopify"] >= 3
        and len(sandbox.shopify.orders) == sandbox.traffic.created["shopify"]
    )
    assert (await client.post("/_sandbox/traffic", json={"ebay": 1})).status == 400


def test_default_config_uses_the_documented_figures():
    config = SandboxConfig()
    assert (config.shopify.bucket_size, config.shopify.restore_rate) == (1000.0, 100.0)
    assert config.webhook_timeout_s == 5.0 and config.amazon.token_ttl_s == 3600 and config.speed == 1.0
