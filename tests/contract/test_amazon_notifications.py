"""ORDER_CHANGE notifications arriving over HTTP: verified by the connection's shared
secret, deduplicated by notification id, and turned into an immediate poll."""

from __future__ import annotations

import json

import pytest

from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.amazon.connector import KIND
from crossdock.connectors.capabilities import SignatureError
from tests.vendor_fixtures import load_vendor_json

SECRET = "notification-secret-0123456789"
CONFIG = AmazonConfig(
    endpoint="https://sellingpartnerapi-na.amazon.com",
    client_id="c",
    client_secret="s",
    refresh_token="r",
    marketplace_ids=["ATVPDKIKX0DER"],
    notification_secret=SECRET,
)


@pytest.fixture
def examples() -> list[dict]:
    return load_vendor_json("amazon", "OrderChangeNotification.json")["examples"]


def _verify(body: dict, headers: dict, config=CONFIG):
    return KIND.inbound.verify(config, "acme-amazon", "notifications", headers, json.dumps(body).encode(), 0.0)


def test_every_sample_notification_becomes_a_poll_of_its_connection(examples):
    for example in examples:
        event = _verify(example, {"X-Crossdock-Token": SECRET})
        order_id = example["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
        assert event.kind == "order.poll" and event.correlation_id == f"amazon:{order_id}"
        assert event.idempotency_key.startswith("acme-amazon:notification:")


def test_the_same_notification_twice_has_one_key(examples):
    first, again = (_verify(examples[0], {"x-crossdock-token": SECRET}) for _ in range(2))
    assert first.idempotency_key == again.idempotency_key


def test_an_eventbridge_envelope_is_unwrapped(examples):
    event = _verify({"detail-type": "ORDER_CHANGE", "detail": examples[0]}, {"x-crossdock-token": SECRET})
    assert event.kind == "order.poll"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [({}, "missing_header"), ({"x-crossdock-token": "wrong-secret-0123456789"}, "bad_token")],
)
def test_a_notification_without_the_secret_is_refused(examples, headers, reason):
    with pytest.raises(SignatureError) as refused:
        _verify(examples[0], headers)
    assert refused.value.reason == reason


def test_notifications_are_refused_when_the_connection_has_no_secret(examples):
    with pytest.raises(SignatureError) as refused:
        _verify(examples[0], {"x-crossdock-token": SECRET}, CONFIG.model_copy(update={"notification_secret": None}))
    assert refused.value.reason == "notifications_not_configured"


def test_other_notification_types_are_acknowledged_but_ignored(examples):
    with pytest.raises(SignatureError) as refused:
        _verify(dict(examples[0], NotificationType="FEED_PROCESSING_FINISHED"), {"x-crossdock-token": SECRET})
    assert refused.value.reason == "unsupported_topic"
