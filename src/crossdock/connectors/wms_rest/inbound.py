"""Verifying the events a generic REST WMS sends to `/hooks/{connection_id}/{topic}`.

The WMS signs with Standard Webhooks (`webhook-id`, `webhook-timestamp`,
`webhook-signature`) using the connection's `webhook_secret`. A verified event becomes a
`order.warehouse_event` message whose idempotency key is `<connection>:{webhook-id}` (the same on redelivery),
ordered and correlated by the order reference the release carried (`data.order_reference`),
so picked → packed → shipped of one order are handled in order. The topic is read from the
signed body (`type: release.<topic>`) when it can be, not from the unsigned URL.

Stock events (`type: inventory.adjusted` or `inventory.snapshot`) become messages of that
kind in the inventory stream, ordered per connection and warehouse
(`<connection>:stock:<warehouse>`), so one warehouse's stock changes apply one at a time
and never wait behind orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from crossdock.connectors.capabilities import InboundEvent, SignatureError
from crossdock.connectors.webhook import verify as standard_webhooks
from crossdock.connectors.wms_rest.config import WmsRestConfig

KIND = "order.warehouse_event"  # in the order stream: ordered with the order's other steps
STOCK_KINDS = ("inventory.adjusted", "inventory.snapshot")  # the inventory flow's kinds


class WmsEventVerifier:
    def verify(
        self, config: Any, connection_id: str, topic: str, headers: Mapping[str, str], body: bytes, now: float
    ) -> InboundEvent:
        opened = config if isinstance(config, WmsRestConfig) else WmsRestConfig.model_validate(config)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise SignatureError("bad_body") from None
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            msg_id = standard_webhooks.verify(
                standard_webhooks.signer(opened.webhook_secret),
                lowered,
                text,
                now=now,
                tolerance_seconds=opened.tolerance_seconds,
            )
        except standard_webhooks.SignatureError as exc:
            raise SignatureError(exc.reason) from exc
        stock = stock_event(body)
        if stock is not None:
            kind, warehouse = stock
            key = f"{connection_id}:stock:{warehouse}"
            return InboundEvent(
                idempotency_key=f"{connection_id}:{msg_id}",
                kind=kind,
                topic=kind,
                ordering_key=key,
                correlation_id=key,
            )
        signed_topic, order_reference = event_keys(body)
        return InboundEvent(
            idempotency_key=f"{connection_id}:{msg_id}",
            kind=KIND,
            topic=signed_topic or topic,
            ordering_key=order_reference,
            correlation_id=order_reference,
        )


def stock_event(body: bytes) -> tuple[str, str] | None:
    """(message kind, warehouse) of a stock event body; None for anything else."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict) or event.get("type") not in STOCK_KINDS:
        return None
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    warehouse = data.get("warehouse")
    return str(event["type"]), warehouse.strip() if isinstance(warehouse, str) and warehouse.strip() else "-"


def event_keys(body: bytes) -> tuple[str | None, str | None]:
    """The topic and order reference of an event body, or None where it cannot be read.

    A body that is not as documented still becomes a message (it is signed, so it is the
    warehouse's); decoding it later parks it with the reason. Without an order reference
    the release reference orders it."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(event, dict):
        return None, None
    kind = event.get("type")
    topic = kind.removeprefix("release.") if isinstance(kind, str) and kind.startswith("release.") else None
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    for key in ("order_reference", "release_reference"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return topic, value.strip()
    return topic, None
