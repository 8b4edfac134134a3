"""SP-API transport: usage-plan buckets, 403 → one refresh, and how each answer is classified."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from crossdock.connectors.amazon.client import Bucket, SpApiClient
from crossdock.connectors.amazon.config import AmazonConfig, RateLimit
from crossdock.connectors.registry import ConnectorContext
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord
from tests.support.clock import FakeClock

ITEMS = "/orders/v0/orders/111-2222222-3333333/orderItems"
CONFIRM = "/orders/v0/orders/111-2222222-3333333/shipmentConfirmation"


def errors(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


# -- the bucket, without I/O -------------------------------------------------------------------


def test_bucket_allows_the_burst_then_names_the_wait():
    bucket = Bucket(rate=0.5, burst=3, tokens=3, at=0.0)
    assert [bucket.reserve(0.0, max_wait=1.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    with pytest.raises(ThrottledError) as caught:
        bucket.reserve(0.0, max_wait=1.0)
    assert caught.value.retry_after == pytest.approx(2.0)
    assert bucket.reserve(1.5, max_wait=1.0) == pytest.approx(0.5)  # short waits are reserved, then slept
    with pytest.raises(ThrottledError) as caught:
        bucket.reserve(1.5, max_wait=1.0)
    assert caught.value.retry_after == pytest.approx(2.5)


def test_bucket_pauses_after_a_429_and_follows_the_stated_rate():
    bucket = Bucket(rate=2.0, burst=10, tokens=10, at=0.0)
    bucket.pause(0.0, 5.0)
    with pytest.raises(ThrottledError) as caught:
        bucket.reserve(0.0, max_wait=1.0)
    assert caught.value.retry_after == pytest.approx(5.0)
    bucket.adopt_rate(4.0)
    assert bucket.reserve(5.0, max_wait=1.0) == 0.0


# -- the transport against a scripted SP-API ---------------------------------------------------


@dataclass
class FakeSpApi:
    """Answers API calls from `script` (status, body or raw bytes, headers) in turn, else 200 {}."""

    script: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, token
    grants: int = 0
    hang: float = 0.0

    async def token(self, request: web.Request) -> web.Response:
        self.grants += 1
        return web.json_response({"access_token": f"Atza|t{self.grants}", "expires_in": 3600})

    async def api(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, request.path, request.headers.get("x-amz-access-token")))
        if self.hang:
            await asyncio.sleep(self.hang)
        status, body, headers = self.script.pop(0) if self.script else (200, {"payload": {}}, {})
        if isinstance(body, bytes):
            return web.Response(status=status, body=body, headers=headers, content_type="application/json")
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(body, status=status, headers=headers)


@dataclass
class Rig:
    api: FakeSpApi
    client: SpApiClient
    lineage: list[LineageRecord]
    clock: FakeClock


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    api = FakeSpApi()
    app = web.Application()
    app.router.add_post("/auth/o2/token", api.token)
    app.router.add_route("*", "/orders/{tail:.*}", api.api)
    server = TestServer(app)
    await server.start_server()
    clock = FakeClock(1_780_000_000.0)
    lineage: list[LineageRecord] = []
    async with aiohttp.ClientSession() as session:
        config = AmazonConfig(
            endpoint=str(server.make_url("")),
            lwa_endpoint=str(server.make_url("/auth/o2/token")),
            client_id="client",
            client_secret="secret-value",
            refresh_token="Atzr|refresh-value",
            marketplace_ids=["ATVPDKIKX0DER"],
            timeout_seconds=0.5,
            rate_limits={"getOrderItems": RateLimit(rate=0.5, burst=3)},
        )
        ctx = ConnectorContext("amazon-us", "tenant-1", session, lineage.append, clock=clock)
        yield Rig(api, SpApiClient(config, ctx), lineage, clock)
    await server.close()


async def test_calls_carry_the_access_token_and_one_grant_serves_them_all(rig):
    for _ in range(3):
        answer = await rig.client.call("getOrderItems", "GET", ITEMS)
        assert answer.status == 200 and answer.body == {"payload": {}}
    assert rig.api.grants == 1 and {token for *_, token in rig.api.seen} == {"Atza|t1"}
    assert all(
        r.request_headers.get("x-amz-access-token") == "***" for r in rig.lineage if r.url.endswith(ITEMS)
    )


async def test_empty_client_side_bucket_throttles_without_calling_amazon(rig):
    for _ in range(3):
        await rig.client.call("getOrderItems", "GET", ITEMS)
    with pytest.raises(ThrottledError) as caught:
        await rig.client.call("getOrderItems", "GET", ITEMS)
    assert caught.value.retry_after == pytest.approx(2.0) and len(rig.api.seen) == 3
    rig.clock.advance(2.0)
    await rig.client.call("getOrderItems", "GET", ITEMS)


async def test_quota_exceeded_waits_as_told_and_holds_back_the_next_call(rig):
    rig.api.script.append((429, errors("QuotaExceeded", "You exceeded your quota"), {"Retry-After": "6"}))
    with pytest.raises(ThrottledError) as caught:
        await rig.client.call("getOrderItems", "GET", ITEMS)
    assert caught.value.retry_after == 6
    with pytest.raises(ThrottledError):  # the bucket is paused: no second 429
        await rig.client.call("getOrderItems", "GET", ITEMS)
    assert len(rig.api.seen) == 1


async def test_quota_exceeded_without_retry_after_waits_one_token_at_the_stated_rate(rig):
    rig.api.script.append((429, errors("QuotaExceeded", "slow down"), {"x-amzn-RateLimit-Limit": "0.25"}))
    with pytest.raises(ThrottledError) as caught:
        await rig.client.call("getOrderItems", "GET", ITEMS)
    assert caught.value.retry_after == pytest.approx(4.0)
    assert rig.client.bucket("getOrderItems").rate == 0.25


async def test_invalid_input_is_rejected_with_amazons_error_details(rig):
    body = errors("InvalidInput", "Invalid shipDate", "shipDate must be ISO 8601")
    rig.api.script.append((400, body, {}))
    with pytest.raises(PermanentError) as caught:
        await rig.client.call("confirmShipment", "POST", CONFIRM, body={"marketplaceId": "X"})
    exc = caught.value
    assert exc.category == "remote.rejected"
    assert "InvalidInput: Invalid shipDate (shipDate must be ISO 8601)" in exc.detail
    assert exc.context["errors"] == body["errors"] and exc.context["status"] == 400


async def test_unknown_order_is_not_found(rig):
    rig.api.script.append((404, errors("NotFound", "Invalid order id"), {}))
    with pytest.raises(PermanentError) as caught:
        await rig.client.call("getOrderItems", "GET", ITEMS)
    assert caught.value.category == "remote.not_found"


async def test_refused_token_is_refreshed_once_then_the_call_is_repeated(rig):
    rig.api.script.append((403, errors("Unauthorized", "Access to requested resource is denied."), {}))
    answer = await rig.client.call("getOrderItems", "GET", ITEMS)
    assert answer.status == 200 and [t for *_, t in rig.api.seen] == ["Atza|t1", "Atza|t2"]


async def test_token_refused_twice_is_a_permanent_auth_error(rig):
    denied = (403, errors("Unauthorized", "Access to requested resource is denied."), {})
    rig.api.script += [denied, denied]
    with pytest.raises(PermanentError) as caught:
        await rig.client.call("getOrderItems", "GET", ITEMS)
    assert caught.value.category == "auth.invalid_credentials" and rig.api.grants == 2


@pytest.mark.parametrize(
    ("status", "operation", "method", "ambiguous"),
    [
        (503, "confirmShipment", "POST", False),
        (500, "confirmShipment", "POST", True),
        (500, "getOrderItems", "GET", False),
    ],
)
async def test_server_failures_are_transient(rig, status, operation, method, ambiguous):
    rig.api.script.append((status, errors("InternalFailure", "oops"), {}))
    with pytest.raises(TransientError) as caught:
        await rig.client.call(
            operation, method, CONFIRM if method == "POST" else ITEMS, body={} if method == "POST" else None
        )
    assert caught.value.ambiguous is ambiguous


async def test_mangled_success_answer_is_transient(rig):
    rig.api.script.append((200, b'{"payload": {"Orde', {}))
    with pytest.raises(TransientError):
        await rig.client.call("getOrderItems", "GET", ITEMS)


async def test_timeout_after_sending_a_confirmation_is_ambiguous_but_not_for_a_read(rig):
    rig.api.hang = 2.0
    with pytest.raises(TransientError) as confirm:
        await rig.client.call("confirmShipment", "POST", CONFIRM, body={})
    with pytest.raises(TransientError) as read:
        await rig.client.call("getOrderItems", "GET", ITEMS)
    assert confirm.value.ambiguous and not read.value.ambiguous
    assert "no answer within 0.5s" in confirm.value.detail and rig.lineage[-1].error


async def test_stated_rate_replaces_the_configured_one(rig):
    rig.api.script.append((200, {"payload": {}}, {"x-amzn-RateLimit-Limit": "5"}))
    await rig.client.call("getOrderItems", "GET", ITEMS)
    assert rig.client.bucket("getOrderItems").rate == 5.0
