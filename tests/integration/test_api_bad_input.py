"""Bad input over HTTP is answered 4xx with what is wrong, never 5xx, and loses nothing: values
the database cannot hold (integers beyond 64 bits, NUL, lone surrogates), signed deliveries
whose keys no column takes, payloads JSON cannot say as sent, absurd amounts."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest
from fastapi.testclient import TestClient

from crossdock import bootstrap
from crossdock.access import Role
from crossdock.api.app import create_app
from crossdock.configuration import SecretBox, load_text
from crossdock.connectors.shopify.inbound import sign as shopify_sign
from crossdock.connectors.webhook.verify import sign
from crossdock.errors import PermanentError
from crossdock.records import Delivery, NewMessage
from crossdock.store import api_keys
from crossdock.store import exceptions as desk
from crossdock.store import messages as store
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine

SECRET = "whsec_" + base64.b64encode(b"crossdock-bad-input-secret-012345").decode()
SHOP_SECRET = "shop-secret"
AMAZON_TOKEN = "amazon-notification-token-0123"
TOO_BIG = 2**63  # one past the largest BIGINT and SQLite INTEGER
JSON = {"content-type": "application/json"}

CONFIG = f"""version: 1
tenants:
  - id: acme
    name: Acme
    connections:
      - {{id: acme-shop, kind: shopify, config: {{shop_domain: a.myshopify.com, access_token: t, webhook_secret: {SHOP_SECRET}}}}}
      - {{id: acme-wms, kind: wms-rest, config: {{base_url: "http://127.0.0.1:9/wms", api_key: k, webhook_secret: "{SECRET}"}}}}
      - {{id: acme-amz, kind: amazon, config: {{endpoint: "http://127.0.0.1:9/amazon", client_id: c,
          client_secret: s, refresh_token: r, marketplace_ids: [ATVPDKIKX0DER], notification_secret: {AMAZON_TOKEN}}}}}
"""


def _failing(registry):
    @registry.handler("test.fail")
    async def fail(msg, ctx):
        raise PermanentError("test.broken", "always fails", "Fix it.")


@pytest.fixture
def world(settings):
    engine = make_engine(settings.database_url)
    apply_config(engine, load_text(CONFIG), "t.yaml", CONFIG, "test", SecretBox.from_settings(settings))
    engine.dispose()
    hub = bootstrap.build(settings, hooks=[_failing])
    key = hub.database.transaction(api_keys.create, "admin", Role.PARTNER_ADMIN, ["*"], "test", time.time())
    with TestClient(create_app(hub, run_workers=False), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {key.plaintext}"
        yield hub, client
    hub.close()


def parked(hub) -> int:
    """An open exception's id."""
    new = NewMessage("acme", "test.fail", "k-1", '{"k": 1}', ordering_key="k-1", correlation_id="k-1")
    message_id = hub.database.transaction(store.insert, [new], time.time())[0].message_id
    asyncio.run(hub.worker().run_until_idle(timeout=20))
    with hub.engine.connect() as c:
        return desk.list_exceptions(c, desk.ExceptionFilter(message_ids=(message_id,), status=None))[0].id


def _wms(body: str, n: int = 1) -> dict:
    return sign(SECRET, f"m-{n}", int(time.time()), body)


@pytest.mark.parametrize(
    ("path", "body", "signed"),
    [
        ("/hooks/acme-wms/shipped", '{"type": "release.shipped", "data": {"order_reference": "%s"}}' % ("r" * 400), "wms"),
        ("/hooks/acme-wms/shipped", '{"type": "release.shipped", "data": {"order_reference": "a\\u0000b"}}', "wms"),
        ("/hooks/acme-shop/orders/create", '{"id": "%s"}' % ("1" * 500), "shopify"),
        (
            "/hooks/acme-amz/notifications",
            '{"NotificationType": "ORDER_CHANGE", "NotificationMetadata": {"NotificationId": "%s"},'
            ' "Payload": {"OrderChangeNotification": {"AmazonOrderId": "1"}}}' % ("n" * 400),
            "amazon",
        ),
    ],
    ids=["wms-long-reference", "wms-nul-reference", "shopify-long-id", "amazon-long-notification-id"],
)
def test_a_signed_delivery_whose_keys_no_column_takes_is_refused_not_retried_forever(world, path, body, signed):
    hub, client = world
    headers = {
        "wms": lambda: _wms(body),
        "shopify": lambda: {"X-Shopify-Hmac-Sha256": shopify_sign(SHOP_SECRET, body.encode()), "X-Shopify-Webhook-Id": "w-1"},
        "amazon": lambda: {"x-crossdock-token": AMAZON_TOKEN},
    }[signed]()
    answer = client.post(path, content=body.encode(), headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "body.key_invalid"


def test_one_delivery_the_database_refuses_fails_only_itself_not_its_batch(world):
    hub, _client = world

    def delivery(n: int, tenant: str | None = "acme") -> Delivery:
        return Delivery(tenant, "acme-wms", "test.event", f"d-{n}", "{}", "{}")  # type: ignore[arg-type]

    async def go():
        return await asyncio.gather(
            *(hub.intake.accept(delivery(n)) for n in range(20)), hub.intake.accept(delivery(99, None)),
            return_exceptions=True,
        )

    answers = asyncio.run(go())
    assert all(not isinstance(a, BaseException) and not a.duplicate for a in answers[:20]), answers[:20]
    assert isinstance(answers[20], Exception)  # a tenant is required: only this one is refused


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", f"/api/v1/messages/{TOO_BIG}", None),
        ("GET", f"/api/v1/exceptions/{TOO_BIG}", None),
        ("POST", f"/api/v1/exceptions/{TOO_BIG}/retry", None),
        ("GET", f"/api/v1/exceptions?offset={TOO_BIG}", None),
        ("POST", "/api/v1/exceptions/bulk", {"action": "retry", "filter": {"ids": [TOO_BIG]}}),
        ("GET", f"/api/v1/tenants/acme/prices/approvals/{TOO_BIG}", None),
        ("GET", "/api/v1/messages?cursor=" + base64.urlsafe_b64encode(b"[18446744073709551615]").decode(), None),
    ],
)
def test_integers_beyond_64_bits_are_answered_4xx(world, method, url, body):
    _hub, client = world
    answer = client.request(method, url, json=body)
    assert 400 <= answer.status_code < 500, answer.text


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/api/v1/orders?q=%00", None),
        ("GET", "/api/v1/exceptions?category=%00", None),
        ("GET", "/api/v1/tenants/%00", None),
        ("POST", "/api/v1/exceptions/bulk", {"action": "retry", "filter": {"kind": "a\x00b"}}),
        ("POST", "/hooks/%00/orders/create", {}),
    ],
)
def test_nul_characters_are_answered_4xx_on_postgresql(world, method, url, body):
    hub, client = world
    if not hub.settings.database_url.startswith("postgres"):
        pytest.skip("SQLite stores and compares NUL like any character")
    answer = client.request(method, url, json=body)
    assert 400 <= answer.status_code < 500, answer.text


def test_a_lone_surrogate_is_answered_4xx(world):
    _hub, client = world
    raw = b'{"action": "retry", "filter": {"category": "\\ud800"}}'
    answer = client.post("/api/v1/exceptions/bulk", content=raw, headers=JSON)
    assert 400 <= answer.status_code < 500, answer.text


@pytest.mark.parametrize(
    "raw",
    [b'{"payload": {"a": "\\ud800"}}', b'{"payload": {"a": 18446744073709551616}}', b'{"payload": {"qty": NaN}}',
     b'{"payload": {"qty": Infinity}}', b'{"payload": {"qty": 1, "qty": 100}}',
     b'{"payload": {"lines": [{"sku": "A", "sku": "B"}]}}'],  # fmt: skip
    ids=["lone-surrogate", "beyond-64-bits", "nan", "infinity", "repeated-key", "repeated-nested-key"],
)
def test_a_resubmitted_payload_json_cannot_say_as_sent_is_refused_and_the_message_kept(world, raw):
    hub, client = world
    exception_id = parked(hub)
    answer = client.post(f"/api/v1/exceptions/{exception_id}/resubmit", content=raw, headers=JSON)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "exception.invalid_payload"
    assert client.get(f"/api/v1/exceptions/{exception_id}").json()["status"] == "open"


def test_an_absurd_price_is_refused_when_it_is_entered(world):
    _hub, client = world
    body = {"item": "A", "price": "1e999999999", "starts_at": "2020-01-01T00:00:00Z"}
    assert client.post("/api/v1/tenants/acme/prices/entries", json=body).status_code == 422


def test_a_validation_error_names_the_field_and_says_what_to_do(world):
    hub, client = world
    answer = client.post(f"/api/v1/exceptions/{parked(hub)}/resolve", json={})
    error = answer.json()["error"]
    assert answer.status_code == 422 and "body.reason: Field required" in error["message"] and error["hint"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("/api/v1/exceptions?status=opne", "open"),
        ("/api/v1/messages?status=PARKED", "parked"),
        ("/api/v1/orders?stage=shiped", "shipped"),
    ],
)
def test_a_filter_value_outside_its_list_is_refused_with_the_values_it_takes(world, url, allowed):
    """A misspelt status answered an empty 200, which reads as "nothing there"."""
    _hub, client = world
    answer = client.get(url)
    assert answer.status_code == 422, answer.text
    assert allowed in answer.json()["error"]["message"] + answer.json()["error"]["hint"]


@pytest.mark.parametrize(
    ("path", "body", "signed", "code"),
    [
        ("/hooks/acme-shop/orders/create", '{"name": "#1001"}', "shopify", "body.id_missing"),
        ("/hooks/acme-shop/orders/create", '{"id": "abc"}', "shopify", "body.id_not_an_id"),
        ("/hooks/acme-amz/notifications", '{"NotificationType": "ORDER_CHA', "amazon", "body.not_json"),
        ("/hooks/acme-amz/notifications", '["ORDER_CHANGE"]', "amazon", "body.not_an_object"),
    ],
    ids=["shopify-no-id", "shopify-bad-id", "amazon-truncated", "amazon-not-an-object"],
)
def test_a_signed_delivery_with_a_body_that_is_not_its_event_is_400_not_401(world, path, body, signed, code):
    """The sender proved who it is: telling it its signature failed (401) sends it to check
    its secret; the body is what is wrong. A truncated Amazon notification was answered
    200 as an event of a type Crossdock ignores."""
    _hub, client = world
    headers = {
        "shopify": {"X-Shopify-Hmac-Sha256": shopify_sign(SHOP_SECRET, body.encode()), "X-Shopify-Webhook-Id": "w-9"},
        "amazon": {"x-crossdock-token": AMAZON_TOKEN},
    }[signed]
    answer = client.post(path, content=body.encode(), headers=headers)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["hint"]

