"""Verifying a Shopify webhook delivery and naming the business event it carries.

Shopify signs the raw body only: `X-Shopify-Hmac-Sha256` is base64(HMAC-SHA256(app
client secret, body)). The delivery's `X-Shopify-Webhook-Id` is the same on every
redelivery of one event, so it is the idempotency key. The order id, read from the
signed body, makes the ordering key: every event of one order is handled in turn.

Topics may arrive in any order (orders/updated or orders/paid before orders/create);
the verifier accepts each on its own, and the order flow compares `updated_at`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import orjson

from crossdock.connectors.capabilities import InboundEvent, SignatureError

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
MAX_WEBHOOK_ID = 200

#: Message kind per webhook topic; where the order id sits in the body.
TOPIC_KINDS: dict[str, tuple[str, str]] = {
    "orders/create": ("order.received", "id"),
    "orders/updated": ("order.received", "id"),
    "orders/paid": ("order.received", "id"),
    "orders/edited": ("order.received", "id"),
    "orders/cancelled": ("order.cancelled", "id"),
    "fulfillments/create": ("shipment.observed", "order_id"),
    "fulfillments/update": ("shipment.observed", "order_id"),
}


def sign(secret: str, body: bytes) -> str:
    """The `X-Shopify-Hmac-Sha256` value Shopify sends for `body` (tests, tools)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class ShopifyWebhookVerifier:
    """`InboundVerifier` for Shopify; `config` is an opened `ShopifyConfig`."""

    def verify(
        self, config: Any, connection_id: str, topic: str, headers: Mapping[str, str], body: bytes, now: float
    ) -> InboundEvent:
        _check_signature(config.webhook_secret, _header(headers, HMAC_HEADER), body)
        webhook_id = _header(headers, WEBHOOK_ID_HEADER)
        if len(webhook_id) > MAX_WEBHOOK_ID or not webhook_id.isprintable() or " " in webhook_id:
            raise SignatureError("bad_webhook_id")
        named = _header(headers, TOPIC_HEADER, required=False) or topic
        if named not in TOPIC_KINDS:
            raise SignatureError("unsupported_topic")
        kind, id_field = TOPIC_KINDS[named]
        order_key = f"shopify:{_order_id(body, id_field)}"
        return InboundEvent(
            idempotency_key=f"{connection_id}:{webhook_id}",
            kind=kind,
            topic=named,
            ordering_key=order_key,
            correlation_id=order_key,
        )


def _header(headers: Mapping[str, str], name: str, *, required: bool = True) -> str:
    """Header lookup that works on plain dicts as well as case-insensitive mappings."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    value = (value or "").strip()
    if not value and required:
        raise SignatureError(f"missing_header:{name}")
    return value


def _check_signature(secret: str, offered: str, body: bytes) -> None:
    try:
        given = base64.b64decode(offered, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("bad_signature") from None
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given):
        raise SignatureError("bad_signature")


def _order_id(body: bytes, field: str) -> str:
    """The order's numeric id from a signed body, as decimal text."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SignatureError("bad_body:not_json") from None
    value = event.get(field) if isinstance(event, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SignatureError(f"bad_body:{field}_missing")
    text = str(value).rsplit("/", 1)[-1]  # numeric id, or the tail of a gid
    if not text.isdigit():
        raise SignatureError(f"bad_body:{field}_not_an_id")
    return text
