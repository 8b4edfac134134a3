"""The Shopify store's order webhooks: signed as Shopify documents, retried, and faulted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from crossdock.sandbox.state import ShopifyStoreConfig


def _verify(secret: str, body: bytes, header: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, header)


async def test_order_webhooks_carry_a_valid_shopify_hmac_and_headers(make_sandbox, hub):
    client, sandbox = await make_sandbox(hub_url=hub.url, webhook_concurrency=1)
    resp = await client.post("/shopify/_sandbox/orders", json={"lines": [{"sku": "CD-1001", "quantity": 2}]})
    assert resp.status == 200
    await sandbox.drain(5)

    assert hub.topics() == ["orders/create", "orders/paid"]
    secret = sandbox.ctx.config.shopify.app_secret
    for delivery in hub.received:
        assert _verify(secret, delivery.body, delivery.headers["X-Shopify-Hmac-Sha256"])
        assert delivery.headers["X-Shopify-Topic"] == delivery.topic
        assert delivery.headers["X-Shopify-API-Version"] == "2026-04"
        assert delivery.headers["X-Shopify-Shop-Domain"] == "crossdock-sandbox.myshopify.com"
        assert delivery.headers["X-Shopify-Webhook-Id"] and delivery.headers["X-Shopify-Event-Id"]
        assert delivery.headers["X-Shopify-Triggered-At"]
    order = json.loads(hub.received[0].body)
    assert order["name"] == "#1001" and order["financial_status"] == "paid"
    assert order["line_items"][0]["sku"] == "CD-1001" and order["line_items"][0]["quantity"] == 2
    assert not _verify("wrong-secret", hub.received[0].body, hub.received[0].headers["X-Shopify-Hmac-Sha256"])


async def test_the_hubs_shopify_codec_reads_the_sandbox_order(make_sandbox, hub):
    from crossdock.connectors.shopify.codec import decode_order

    client, sandbox = await make_sandbox(hub_url=hub.url)
    await client.post("/shopify/_sandbox/orders", json={"count": 1})
    await sandbox.drain(5)
    order = decode_order(json.loads(hub.received[0].body))
    assert order.channel_order_id and order.lines


async def test_webhooks_go_to_the_configured_connection_and_topics_only(make_sandbox, hub):
    store = ShopifyStoreConfig(connection_id="shop-42", topics=("orders/create",))
    client, sandbox = await make_sandbox(hub_url=hub.url, shopify=store)
    await client.post("/shopify/_sandbox/orders", json={"count": 1})
    await sandbox.drain(5)
    assert hub.topics() == ["orders/create"]
    assert sandbox.shopify.sender.deliveries[0].url == f"{hub.url}/hooks/shop-42/orders/create"


async def test_failed_delivery_is_retried_with_the_same_webhook_id(make_sandbox, hub):
    hub.statuses = [500, 503]
    store = ShopifyStoreConfig(topics=("orders/create",))
    client, sandbox = await make_sandbox(hub_url=hub.url, shopify=store, webhook_retry_factor=0.001)
    await client.post("/shopify/_sandbox/orders", json={"count": 1})
    await sandbox.drain(5)
    ids = {r.headers["X-Shopify-Webhook-Id"] for r in hub.received}
    assert len(hub.received) == 3 and len(ids) == 1
    hooks = (await (await client.get("/_sandbox/state")).json())["shopify"]["webhooks"]
    assert hooks["delivered"] == 1 and [a["status"] for a in hooks["deliveries"][0]["attempts"]] == [
        500,
        503,
        200,
    ]


async def test_a_slow_hub_times_out_and_the_delivery_is_retried(make_sandbox, hub):
    hub.delays = [0.3]
    store = ShopifyStoreConfig(topics=("orders/create",))
    client, sandbox = await make_sandbox(
        hub_url=hub.url, shopify=store, webhook_timeout_s=0.1, webhook_retry_factor=0.001
    )
    await client.post("/shopify/_sandbox/orders", json={"count": 1})
    await sandbox.drain(5)
    attempts = sandbox.shopify.sender.deliveries[0].attempts
    assert attempts[0]["error"] == "TimeoutError" and attempts[-1]["status"] == 200


async def test_delivery_is_given_up_after_eight_retries(make_sandbox, hub):
    hub.statuses = [500] * 20
    store = ShopifyStoreConfig(topics=("orders/create",))
    client, sandbox = await make_sandbox(hub_url=hub.url, shopify=store, webhook_retry_factor=0.00001)
    await client.post("/shopify/_sandbox/orders", json={"count": 1})
    await sandbox.drain(5)
    assert len(hub.received) == 9 and sandbox.shopify.sender.deliveries[0].given_up


async def test_duplicate_fault_delivers_the_same_webhook_twice(make_sandbox, hub):
    store = ShopifyStoreConfig(topics=("orders/create",))
    client, sandbox = await make_sandbox(hub_url=hub.url, shopify=store)
    await client.post("/_sandbox/faults", json={"shopify": {"webhooks": {"duplicate": {"next": 1}}}})
    await client.post("/shopify/_sandbox/orders", json={"count": 1})
    await sandbox.drain(5)
    assert len(hub.received) == 2
    assert hub.received[0].headers["X-Shopify-Webhook-Id"] == hub.received[1].headers["X-Shopify-Webhook-Id"]
    assert hub.received[0].body == hub.received[1].body


async def test_out_of_order_fault_sends_updated_before_create(make_sandbox, hub):
    client, sandbox = await make_sandbox(hub_url=hub.url, webhook_concurrency=1)
    await client.post("/_sandbox/faults", json={"shopify": {"webhooks": {"out_of_order": {"next": 1}}}})
    await client.post("/shopify/_sandbox/orders", json={"count": 1})
    await sandbox.drain(5)
    assert hub.topics() == ["orders/updated", "orders/create", "orders/paid"]


async def test_cancelling_an_order_sends_cancelled_and_updated(make_sandbox, hub):
    client, sandbox = await make_sandbox(hub_url=hub.url, webhook_concurrency=1)
    order = (await (await client.post("/shopify/_sandbox/orders", json={"count": 1})).json())["orders"][0]
    resp = await client.post(f"/shopify/_sandbox/orders/{order['id']}/cancel", json={"reason": "customer"})
    assert resp.status == 200
    await sandbox.drain(5)
    assert hub.topics()[-2:] == ["orders/cancelled", "orders/updated"]
    assert json.loads(hub.received[-1].body)["cancelled_at"]
