"""A WMS's signed stock events become inventory messages, ordered per warehouse."""

from __future__ import annotations

import orjson

from crossdock.connectors.webhook.verify import sign
from crossdock.connectors.wms_rest.config import WmsRestConfig
from crossdock.connectors.wms_rest.connector import KIND
from crossdock.sandbox.state import WmsConfig

SECRET = WmsConfig().webhook_secret
CONFIG = WmsRestConfig(base_url="http://wms.test", api_key="k", webhook_secret=SECRET)
NOW = 1_780_000_000


def verified(event: dict, msg_id: str = "msg_1"):
    body = orjson.dumps(event)
    headers = sign(SECRET, msg_id, NOW, body.decode())
    assert KIND.inbound is not None
    return KIND.inbound.verify(CONFIG, "acme-wms", "inventory.adjusted", headers, body, NOW)


def test_stock_events_become_inventory_messages_ordered_per_warehouse():
    adjusted = verified(
        {"type": "inventory.adjusted", "data": {"warehouse": "MAIN", "adjustments": []}}, "msg_a"
    )
    snapshot = verified(
        {"type": "inventory.snapshot", "data": {"warehouse": "MAIN", "positions": []}}, "msg_b"
    )
    assert (adjusted.kind, adjusted.topic, adjusted.idempotency_key) == (
        "inventory.adjusted",
        "inventory.adjusted",
        "acme-wms:msg_a",
    )
    assert snapshot.kind == "inventory.snapshot"
    assert adjusted.ordering_key == snapshot.ordering_key == "acme-wms:stock:MAIN"


def test_release_events_still_go_to_the_order_stream():
    event = verified({"type": "release.picked", "data": {"order_reference": "shopify:1"}})
    assert (event.kind, event.topic, event.ordering_key) == ("order.warehouse_event", "picked", "shopify:1")
