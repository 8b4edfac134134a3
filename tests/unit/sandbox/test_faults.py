"""Injected faults: downtime, 429 with Retry-After, 5xx, latency, commit-then-timeout, malformed."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

AUTH = {"Authorization": "Bearer erp-sandbox-key"}
ORDER = {"external_reference": "shopify:1001", "lines": [{"item": "CD-1001", "quantity": 1}]}


async def faults(client, spec):
    resp = await client.post("/_sandbox/faults", json=spec)
    assert resp.status == 200, await resp.text()


async def test_downtime_window_answers_503_with_retry_after_then_recovers(sandbox, clock):
    client, _ = sandbox
    await faults(client, {"erp": {"downtime": {"seconds": 30, "starts_in": 10}}})
    assert (await client.get("/erp/items", headers=AUTH)).status == 200
    clock.advance(15)
    resp = await client.get("/erp/items", headers=AUTH)
    assert resp.status == 503 and resp.headers["Retry-After"] == "25"
    assert (await resp.json())["error"]["code"] == "ServiceUnavailable"
    assert (await client.get("/amazon/orders/v0/orders")).status == 403  # other systems are up
    clock.advance(25)
    assert (await client.get("/erp/items", headers=AUTH)).status == 200


async def test_throttle_fault_answers_429_with_retry_after_for_the_next_n_calls(sandbox):
    client, _ = sandbox
    await faults(client, {"shopify": {"throttle": {"next": 2, "retry_after": 7}}})
    url = "/shopify/admin/api/2026-04/graphql.json"
    for _ in range(2):
        resp = await client.post(url, json={"query": "{ locations(first: 1) { nodes { id } } }"})
        assert resp.status == 429 and resp.headers["Retry-After"] == "7"
    resp = await client.post(
        url,
        json={"query": "{ locations(first: 1) { nodes { id } } }"},
        headers={"X-Shopify-Access-Token": "shpat_sandbox"},
    )
    assert resp.status == 200
    state = await (await client.get("/_sandbox/state")).json()
    assert state["faults"]["shopify"]["injected"] == {"throttle": 2}
    assert state["shopify"]["calls"]["by_status"] == {"429": 2, "200": 1}


async def test_error_rate_one_fails_everything_and_clearing_restores(sandbox):
    client, _ = sandbox
    await faults(client, {"wms": {"errors": {"rate": 1.0, "status": 502}}})
    assert (
        await client.get("/wms/releases/X", headers={"Authorization": "Bearer wms-sandbox-key"})
    ).status == 502
    await client.delete("/_sandbox/faults")
    assert (
        await client.get("/wms/releases/X", headers={"Authorization": "Bearer wms-sandbox-key"})
    ).status == 404


async def test_added_latency_delays_answers(sandbox):
    client, _ = sandbox
    await faults(client, {"erp": {"latency_ms": 150}})
    started = time.monotonic()
    assert (await client.get("/erp/items", headers=AUTH)).status == 200
    assert time.monotonic() - started >= 0.14


async def test_commit_then_timeout_applies_the_effect_and_the_client_times_out(sandbox):
    client, _ = sandbox
    await faults(client, {"erp": {"commit_then_timeout": {"next": 1, "hang_seconds": 30}}})
    with pytest.raises(asyncio.TimeoutError):
        await client.post(
            "/erp/sales-orders", json=ORDER, headers=AUTH, timeout=aiohttp.ClientTimeout(total=0.3)
        )
    state = (await (await client.get("/_sandbox/state")).json())["erp"]
    assert state["sales_orders_by_reference"] == {"shopify:1001": 1}
    found = await (
        await client.get("/erp/sales-orders", params={"external_reference": "shopify:1001"}, headers=AUTH)
    ).json()
    assert len(found["sales_orders"]) == 1  # the lookup an ambiguous failure calls for


async def test_commit_then_drop_closes_the_connection_after_the_effect(sandbox):
    client, _ = sandbox
    await faults(client, {"erp": {"commit_then_timeout": {"next": 1, "mode": "drop"}}})
    with pytest.raises(aiohttp.ClientConnectionError):
        await client.post("/erp/sales-orders", json=ORDER, headers=AUTH)
    state = (await (await client.get("/_sandbox/state")).json())["erp"]
    assert state["sales_orders_by_reference"] == {"shopify:1001": 1}


async def test_malformed_answers_are_not_json(sandbox):
    client, _ = sandbox
    await faults(client, {"erp": {"malformed": {"next": 2}}})
    resp = await client.get("/erp/items", headers=AUTH)
    assert resp.status == 200
    with pytest.raises(ValueError):
        await resp.json()
    await faults(client, {"erp": {"malformed": {"next": 1, "kind": "html"}}})
    resp = await client.get("/erp/items", headers=AUTH)
    assert resp.headers["Content-Type"].startswith("text/html")


async def test_invalid_fault_specs_are_refused(sandbox):
    client, _ = sandbox
    assert (await client.post("/_sandbox/faults", json={"sap": {}})).status == 400
    assert (await client.post("/_sandbox/faults", json={"erp": {"errors": {"probability": 2}}})).status == 400
