"""Shopify webhook deliveries: who sent them, which event they are, and how they dedupe."""

from __future__ import annotations

import orjson
import pytest

from crossdock.connectors.capabilities import InboundVerifier, SignatureError
from crossdock.connectors.shopify.config import ShopifyConfig
from crossdock.connectors.shopify.inbound import ShopifyWebhookVerifier, sign
from crossdock.sandbox.webhooks import shopify_hmac

SECRET = "shopify-app-client-secret"
CONFIG = ShopifyConfig(shop_domain="shop.myshopify.com", access_token="shpat_x", webhook_secret=SECRET)
ORDER = orjson.dumps({"id": 5800000001001, "updated_at": "2026-04-02T10:00:00Z", "line_items": []})
FULFILLMENT = orjson.dumps({"id": 5500000000007, "order_id": 5800000001001, "line_items": []})
verifier = ShopifyWebhookVerifier()


def headers(body: bytes, topic: str = "orders/create", webhook_id: str = "b54557e4-bdd9-4b37") -> dict:
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(SECRET, body),
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Shop-Domain": "shop.myshopify.com",
    }


def verify(h: dict, body: bytes = ORDER, topic: str = "orders/create"):
    return verifier.verify(CONFIG, "shop-1", topic, h, body, now=0.0)


def test_verifier_implements_the_inbound_protocol():
    assert isinstance(verifier, InboundVerifier)


def test_signature_matches_what_the_sandbox_store_sends():
    assert sign(SECRET, ORDER) == shopify_hmac(SECRET, ORDER)


def test_valid_delivery_names_the_order_event():
    event = verify(headers(ORDER))
    assert event.kind == "order.received"
    assert event.topic == "orders/create"
    assert event.idempotency_key == "shop-1:b54557e4-bdd9-4b37"
    assert event.ordering_key == event.correlation_id == "shopify:5800000001001"


def test_redelivery_of_one_webhook_has_the_same_idempotency_key():
    assert verify(headers(ORDER)).idempotency_key == verify(headers(ORDER)).idempotency_key
    assert (
        verify(headers(ORDER, webhook_id="other")).idempotency_key != verify(headers(ORDER)).idempotency_key
    )


def test_header_names_are_matched_case_insensitively():
    lower = {k.lower(): v for k, v in headers(ORDER).items()}
    assert verify(lower).kind == "order.received"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: h.update({"X-Shopify-Hmac-Sha256": sign("wrong-secret", ORDER)}), "bad_signature"),
        (lambda h: h.update({"X-Shopify-Hmac-Sha256": "not base64!"}), "bad_signature"),
        (lambda h: h.pop("X-Shopify-Hmac-Sha256"), "missing_header:X-Shopify-Hmac-Sha256"),
        (lambda h: h.update({"X-Shopify-Hmac-Sha256": ""}), "missing_header:X-Shopify-Hmac-Sha256"),
        (lambda h: h.pop("X-Shopify-Webhook-Id"), "missing_header:X-Shopify-Webhook-Id"),
    ],
)
def test_bad_or_missing_signature_is_refused(change, reason):
    h = headers(ORDER)
    change(h)
    with pytest.raises(SignatureError) as caught:
        verify(h)
    assert caught.value.reason == reason


def test_a_tampered_body_is_refused():
    h = headers(ORDER)
    tampered = ORDER.replace(b"5800000001001", b"5800000009999")
    with pytest.raises(SignatureError, match="bad_signature"):
        verify(h, tampered)


@pytest.mark.parametrize(
    ("topic", "kind"),
    [
        ("orders/create", "order.received"),
        ("orders/updated", "order.received"),
        ("orders/paid", "order.received"),
        ("orders/edited", "order.received"),
        ("orders/cancelled", "order.cancelled"),
    ],
)
def test_order_topics_map_to_order_kinds(topic, kind):
    event = verify(headers(ORDER, topic))
    assert (event.kind, event.topic, event.ordering_key) == (kind, topic, "shopify:5800000001001")


@pytest.mark.parametrize("topic", ["fulfillments/create", "fulfillments/update"])
def test_fulfillment_topics_are_keyed_by_their_order(topic):
    event = verify(headers(FULFILLMENT, topic), FULFILLMENT)
    assert event.kind == "shipment.observed"
    assert event.ordering_key == "shopify:5800000001001"  # order_id, not the fulfillment's own id


def test_topic_falls_back_to_the_url_when_the_header_is_absent():
    h = headers(ORDER)
    del h["X-Shopify-Topic"]
    assert verify(h, topic="orders/cancelled").kind == "order.cancelled"


def test_updates_arriving_before_create_are_each_accepted():
    """Out of order is the flow's concern (it compares updated_at); intake takes every delivery."""
    arrivals = [("orders/updated", "w-1"), ("orders/paid", "w-2"), ("orders/create", "w-3")]
    events = [verify(headers(ORDER, topic, wid), topic=topic) for topic, wid in arrivals]
    assert [e.kind for e in events] == ["order.received"] * 3
    assert len({e.idempotency_key for e in events}) == 3
    assert {e.ordering_key for e in events} == {"shopify:5800000001001"}


def test_unsupported_topic_is_refused_with_its_own_reason():
    with pytest.raises(SignatureError) as caught:
        verify(headers(ORDER, "products/update"), topic="products/update")
    assert caught.value.reason == "unsupported_topic"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "bad_body:not_json"),
        (orjson.dumps({"name": "#1001"}), "bad_body:id_missing"),
        (orjson.dumps({"id": "abc"}), "bad_body:id_not_an_id"),
    ],
)
def test_a_signed_body_without_an_order_id_is_refused(body, reason):
    with pytest.raises(SignatureError) as caught:
        verify(headers(body), body)
    assert caught.value.reason == reason


def test_config_defaults_to_the_stores_own_admin_endpoint():
    assert CONFIG.graphql_url == "https://shop.myshopify.com/admin/api/2026-04/graphql.json"
    with pytest.raises(ValueError):
        ShopifyConfig(shop_domain="shop.myshopify.com", access_token="t", webhook_secret="s", surprise=1)
