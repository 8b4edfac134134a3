"""Error mapping of Crossdock's Tryton client, against a tiny local aiohttp app speaking
Tryton's JSON-RPC dialect (no mocks of the client itself)."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from crossdock.connectors.tryton import TrytonClient
from crossdock.errors import PermanentError, ThrottledError, TransientError

SESSION = "s3cret"


class FakeTryton:
    """Answers login and get_preferences; `behaviour` decides the answer to model calls."""

    def __init__(self) -> None:
        self.logins = 0
        self.behaviour = "ok"
        self.expire_next = False

    async def rpc(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        method = body["method"]
        if method == "common.db.login":
            user, params = body["params"]
            if params.get("password") != "good-password":
                raise web.HTTPUnauthorized()
            self.logins += 1
            return web.json_response({"id": body["id"], "result": [1, f"{SESSION}{self.logins}", None]})
        if self.expire_next:
            self.expire_next = False
            raise web.HTTPUnauthorized()
        if method == "model.res.user.get_preferences":
            return web.json_response({"id": body["id"], "result": {"company": 1, "language": "en"}})
        return await getattr(self, f"_{self.behaviour}")(body)

    async def _ok(self, body):
        return web.json_response({"id": body["id"], "result": {"__class__": "Decimal", "decimal": "1.50"}})

    async def _user_error(self, body):
        error = ["UserError", ["The sale cannot be confirmed.", "Add a payment term.", None]]
        return web.json_response({"id": body["id"], "error": error})

    async def _user_warning(self, body):
        error = ["UserWarning", ["stock_warning", "Not enough stock.", "Confirm to go on."]]
        return web.json_response({"id": body["id"], "error": error})

    async def _concurrency(self, body):
        return web.json_response({"id": body["id"], "error": ["ConcurrencyException", ["Record modified"]]})

    async def _crash(self, body):
        return web.json_response({"id": body["id"], "error": ["'bogus'", "Traceback ..."]})

    async def _http_503(self, body):
        return web.Response(status=503, text="maintenance")

    async def _http_429(self, body):
        return web.Response(status=429, text="slow down", headers={"Retry-After": "7"})

    async def _slow(self, body):
        await asyncio.sleep(2)
        return await self._ok(body)


@pytest.fixture
async def fake():
    tryton = FakeTryton()
    app = web.Application()
    app.router.add_post("/db/rpc/", tryton.rpc)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    tryton.url = str(server.make_url("/"))
    yield tryton
    await server.close()


@pytest.fixture
async def client(fake):
    async with TrytonClient(fake.url, "db", "admin", "good-password", read_timeout=0.5) as c:
        yield c


async def test_decimal_round_trip_and_context(client, fake):
    assert str(await client.call("product.product", "anything")) == "1.50"
    assert client.context == {"company": 1, "language": "en"}
    assert fake.logins == 1


async def test_user_error_is_permanent_remote_rejected(client, fake):
    fake.behaviour = "user_error"
    with pytest.raises(PermanentError) as caught:
        await client.call("sale.sale", "confirm", [1])
    err = caught.value
    assert err.category == "remote.rejected"
    assert err.detail == "The sale cannot be confirmed."
    assert err.hint == "Add a payment term."
    assert err.context["method"] == "model.sale.sale.confirm"


async def test_user_warning_is_permanent_remote_rejected(client, fake):
    fake.behaviour = "user_warning"
    with pytest.raises(PermanentError) as caught:
        await client.call("stock.shipment.out", "pack", [1])
    assert caught.value.category == "remote.rejected"
    assert caught.value.detail == "Not enough stock."
    assert caught.value.context["warning"] == "stock_warning"


@pytest.mark.parametrize("behaviour", ["http_503", "concurrency", "crash"])
async def test_server_trouble_is_transient(client, fake, behaviour):
    fake.behaviour = behaviour
    with pytest.raises(TransientError) as caught:
        await client.call("sale.sale", "create", [{}])
    assert caught.value.ambiguous is False


async def test_429_is_throttled_with_retry_after(client, fake):
    fake.behaviour = "http_429"
    with pytest.raises(ThrottledError) as caught:
        await client.call("sale.sale", "search", [])
    assert caught.value.retry_after == 7.0


async def test_timeout_after_sending_is_ambiguous(client, fake):
    fake.behaviour = "slow"
    with pytest.raises(TransientError) as caught:
        await client.call("sale.sale", "create", [{}])
    assert caught.value.ambiguous is True


async def test_connection_refused_is_transient_not_ambiguous():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = TrytonClient(f"http://127.0.0.1:{port}/", "db", "admin", "good-password")
    with pytest.raises(TransientError) as caught:
        await client.login()
    await client.close()
    assert caught.value.ambiguous is False


async def test_expired_session_logs_in_again_once(client, fake):
    fake.expire_next = True
    assert str(await client.call("sale.sale", "read", [1], ["state"])) == "1.50"
    assert fake.logins == 2


async def test_bad_password_is_auth_invalid_credentials(fake):
    client = TrytonClient(fake.url, "db", "admin", "wrong-password")
    with pytest.raises(PermanentError) as caught:
        await client.login()
    await client.close()
    assert caught.value.category == "auth.invalid_credentials"


async def test_unknown_database_is_a_config_error(fake):
    client = TrytonClient(fake.url, "nodb", "admin", "good-password")
    with pytest.raises(PermanentError) as caught:
        await client.login()
    await client.close()
    assert caught.value.category == "config.tryton_not_found"


def test_request_body_is_tryton_json():
    from decimal import Decimal

    from crossdock.connectors.tryton import rpc

    body = json.loads(rpc.dumps({"params": [Decimal("9.99")]}))
    assert body["params"][0] == {"__class__": "Decimal", "decimal": "9.99"}
