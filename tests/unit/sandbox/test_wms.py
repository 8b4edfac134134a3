"""The generic REST WMS: releases in, Standard-Webhooks-signed warehouse events out."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook

from crossdock.sandbox.state import WmsConfig

AUTH = {"Authorization": "Bearer wms-sandbox-key"}
RELEASE = {
    "release_reference": "R-1",
    "warehouse": "MAIN",
    "order_reference": "shopify:1001",
    "lines": [
        {"line_reference": "1", "item": "CD-1001", "quantity": 4},
        {"line_reference": "2", "item": "CD-1002", "quantity": 1},
    ],
}


async def _settle(sandbox, until: int, hub) -> None:
    for _ in range(200):
        if len(hub.received) >= until and not sandbox.wms.tasks:
            break
        await asyncio.sleep(0.01)
    await sandbox.drain(5)


async def test_a_release_produces_signed_picked_packed_shipped_events(make_sandbox, hub):
    # the verifier checks webhook-timestamp against the real clock
    wms = WmsConfig(event_delay_s=0.01)
    client, sandbox = await make_sandbox(hub_url=hub.url, webhook_concurrency=1, wms=wms, clock=time.time)
    resp = await client.post("/wms/releases", json=RELEASE, headers=AUTH)
    assert resp.status == 202 and (await resp.json())["status"] == "accepted"
    await _settle(sandbox, 3, hub)

    assert hub.topics() == ["picked", "packed", "shipped"]
    verifier = Webhook(sandbox.ctx.config.wms.webhook_secret)
    for event in hub.received:
        payload = verifier.verify(event.body, event.headers)  # raises when the signature is wrong
        assert payload["type"] == f"release.{event.topic}"
    shipped = json.loads(hub.received[-1].body)["data"]["shipment"]
    assert shipped["carrier"] == "UPS" and shipped["tracking_number"].startswith("1Z")
    assert {(li["line_reference"], li["quantity"]) for li in shipped["lines"]} == {("1", 4), ("2", 1)}
    state = (await (await client.get("/_sandbox/state")).json())["wms"]
    assert state["releases"]["R-1"]["status"] == "shipped" and len(state["shipments"]) == 1


async def test_tampered_events_fail_standard_webhooks_verification(make_sandbox, hub):
    client, sandbox = await make_sandbox(hub_url=hub.url, wms=WmsConfig(event_delay_s=0.01), clock=time.time)
    await client.post("/wms/releases", json=RELEASE, headers=AUTH)
    await _settle(sandbox, 3, hub)
    event = hub.received[0]
    with pytest.raises(Exception, match="(?i)signature"):
        Webhook(sandbox.ctx.config.wms.webhook_secret).verify(
            event.body.replace(b"R-1", b"R-2"), event.headers
        )


async def test_short_picks_and_split_shipments(make_sandbox, hub):
    wms = WmsConfig(event_delay_s=0.01, short_pick_probability=1.0, partial_shipment_probability=1.0)
    client, sandbox = await make_sandbox(hub_url=hub.url, webhook_concurrency=1, wms=wms, seed=3)
    big = {**RELEASE, "lines": [{"line_reference": "1", "item": "CD-1001", "quantity": 10}]}
    await client.post("/wms/releases", json=big, headers=AUTH)
    await _settle(sandbox, 2, hub)
    picked = json.loads(hub.received[0].body)["data"]["lines"][0]
    assert (
        hub.topics()[0] == "short_picked"
        and picked["picked"] < 10
        and picked["short"] == 10 - picked["picked"]
    )
    shipped = [json.loads(e.body)["data"]["shipment"] for e in hub.received if e.topic == "shipped"]
    assert sum(s["lines"][0]["quantity"] for s in shipped) == picked["picked"]
    if picked["picked"] > 1:
        assert len(shipped) == 2 and [s["final"] for s in shipped] == [False, True]


async def test_cancel_works_before_shipping_and_is_refused_after(make_sandbox, hub):
    client, sandbox = await make_sandbox(hub_url=hub.url, wms=WmsConfig(event_delay_s=0.01))
    await client.post("/wms/releases", json=RELEASE, headers=AUTH)
    await client.post("/wms/releases", json={**RELEASE, "release_reference": "R-2"}, headers=AUTH)
    resp = await client.post("/wms/releases/R-2/cancel", headers=AUTH)
    assert resp.status == 200 and (await resp.json())["status"] == "cancelled"
    await _settle(sandbox, 3, hub)
    resp = await client.post("/wms/releases/R-1/cancel", headers=AUTH)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "already_shipped"
    assert {json.loads(e.body)["data"]["release_reference"] for e in hub.received} == {"R-1"}


async def test_a_repeated_release_reference_is_refused_and_counted(make_sandbox, hub):
    client, sandbox = await make_sandbox(hub_url=hub.url, wms=WmsConfig(event_delay_s=10))
    assert (await client.post("/wms/releases", json=RELEASE, headers=AUTH)).status == 202
    resp = await client.post("/wms/releases", json=RELEASE, headers=AUTH)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "duplicate_release"
    state = (await (await client.get("/_sandbox/state")).json())["wms"]
    assert state["release_requests"] == {"R-1": 2}
    assert (await client.post("/wms/releases", json={"warehouse": "MAIN"}, headers=AUTH)).status == 422
