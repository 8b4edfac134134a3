"""ORDER_CHANGE notifications delivered over HTTP (EventBridge API destination → the hub).

Amazon publishes notifications to SQS or EventBridge; an API destination forwards them to
`/hooks/<connection>/notifications` with the connection's shared secret in a header
(EventBridge connections support API-key authorization). A verified notification is a
wake-up: the flow polls the connection at once, so nothing a notification says bypasses
the cursor (no gaps, and repeats are deduplicated like any polled order)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

import orjson

from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.capabilities import InboundEvent, SignatureError

HEADER = "x-crossdock-token"
KIND = "order.poll"  # the notification starts an immediate poll of its connection


class AmazonNotificationVerifier:
    def verify(
        self, config: Any, connection_id: str, topic: str, headers: Mapping[str, str], body: bytes, now: float
    ) -> InboundEvent:
        opened = config if isinstance(config, AmazonConfig) else AmazonConfig.model_validate(config)
        if not opened.notification_secret:
            raise SignatureError("notifications_not_configured")
        offered = {k.lower(): v for k, v in headers.items()}.get(HEADER, "")
        if not hmac.compare_digest(offered.encode(), opened.notification_secret.encode()):
            raise SignatureError("bad_token" if offered else "missing_header")
        kind, notification_id, order_id = notification_keys(body)
        if kind != "ORDER_CHANGE":
            raise SignatureError("unsupported_topic")
        return InboundEvent(
            idempotency_key=f"{connection_id}:notification:{notification_id or order_id}",
            kind=KIND,
            topic=topic or "notifications",
            ordering_key=None,
            correlation_id=f"amazon:{order_id}" if order_id else None,
        )


def notification_keys(body: bytes) -> tuple[str | None, str | None, str | None]:
    """(NotificationType, NotificationId, AmazonOrderId) of an envelope, None where absent.
    An EventBridge event carries the notification under `detail`. A body that is no JSON
    object is refused (`bad_body:...`): a truncated notification is not one of another type."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SignatureError("bad_body:not_json") from None
    if isinstance(doc, dict) and isinstance(doc.get("detail"), dict):
        doc = doc["detail"]
    if not isinstance(doc, dict):
        raise SignatureError("bad_body:not_an_object")
    meta = doc.get("NotificationMetadata") if isinstance(doc.get("NotificationMetadata"), dict) else {}
    payload = doc.get("Payload") if isinstance(doc.get("Payload"), dict) else {}
    change = payload.get("OrderChangeNotification") if isinstance(payload.get("OrderChangeNotification"), dict) else {}
    return doc.get("NotificationType"), meta.get("NotificationId"), change.get("AmazonOrderId")
