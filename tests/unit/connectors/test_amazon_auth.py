"""Login with Amazon: one grant serves many calls, refresh before expiry, classified failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from crossdock.connectors.amazon.auth import LwaAuth
from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.registry import ConnectorContext
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord
from tests.support.clock import FakeClock

SECRET = "lwa-client-secret-xyz"
REFRESH = "Atzr|refresh-token-xyz"


@dataclass
class FakeLwa:
    """Answers token grants from `script` (status, body, headers) in turn, then fresh tokens."""

    script: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    forms: list[dict[str, str]] = field(default_factory=list)
    delay: float = 0.0
    ttl: int = 3600

    async def token(self, request: web.Request) -> web.Response:
        self.forms.append(dict(await request.post()))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            status, body, headers = self.script.pop(0)
            return web.json_response(body, status=status, headers=headers)
        token = f"Atza|access-{len(self.forms)}"
        return web.json_response({"access_token": token, "token_type": "bearer", "expires_in": self.ttl})


@dataclass
class Rig:
    lwa: FakeLwa
    ctx: ConnectorContext
    config: AmazonConfig
    clock: FakeClock
    lineage: list[LineageRecord]

    def auth(self, **overrides: Any) -> LwaAuth:
        return LwaAuth(self.config.model_copy(update=overrides), self.ctx)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    lwa = FakeLwa()
    app = web.Application()
    app.router.add_post("/auth/o2/token", lwa.token)
    server = TestServer(app)
    await server.start_server()
    clock = FakeClock(1_780_000_000.0)
    lineage: list[LineageRecord] = []
    async with aiohttp.ClientSession() as session:
        ctx = ConnectorContext("amazon-us", "tenant-1", session, lineage.append, clock=clock)
        config = AmazonConfig(
            endpoint="https://sellingpartnerapi-na.amazon.com",
            lwa_endpoint=str(server.make_url("/auth/o2/token")),
            client_id="amzn1.application-oa2-client.test",
            client_secret=SECRET,
            refresh_token=REFRESH,
            marketplace_ids=["ATVPDKIKX0DER"],
            timeout_seconds=2,
        )
        yield Rig(lwa, ctx, config, clock, lineage)
    await server.close()


async def test_concurrent_callers_share_one_grant(rig):
    rig.lwa.delay = 0.05
    auth = rig.auth()
    tokens = await asyncio.gather(*(auth.access_token() for _ in range(20)))
    assert set(tokens) == {"Atza|access-1"}
    assert len(rig.lwa.forms) == 1 and auth.state.grants == 1
    assert rig.lwa.forms[0] == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": "amzn1.application-oa2-client.test",
        "client_secret": SECRET,
    }


async def test_token_is_reused_by_new_connector_instances_until_a_minute_before_expiry(rig):
    assert await rig.auth().access_token() == "Atza|access-1"
    rig.clock.advance(3600 - 61)
    assert await rig.auth().access_token() == "Atza|access-1"  # the cache outlives the instance
    rig.clock.advance(2)  # now inside the last minute
    assert await rig.auth().access_token() == "Atza|access-2"
    assert len(rig.lwa.forms) == 2


async def test_rejected_token_is_refreshed_once_for_all_who_saw_it(rig):
    auth = rig.auth()
    first = await auth.access_token()
    fresh = await asyncio.gather(*(auth.refresh_after_rejection(first) for _ in range(5)))
    assert set(fresh) == {"Atza|access-2"} and len(rig.lwa.forms) == 2


async def test_rotated_credentials_do_not_reuse_the_old_token(rig):
    assert await rig.auth().access_token() == "Atza|access-1"
    assert await rig.auth(refresh_token="Atzr|rotated").access_token() == "Atza|access-2"


@pytest.mark.parametrize(
    ("status", "error", "hint_word"),
    [(400, "invalid_grant", "re-authorize"), (401, "invalid_client", "client secret")],
)
async def test_refused_credentials_are_a_permanent_auth_error_with_a_hint(rig, status, error, hint_word):
    rig.lwa.script.append((status, {"error": error, "error_description": "nope"}, {}))
    with pytest.raises(PermanentError) as caught:
        await rig.auth().access_token()
    assert caught.value.category == "auth.invalid_credentials"
    assert error in caught.value.detail and hint_word in caught.value.hint


async def test_lwa_outage_is_transient_and_its_throttle_is_waited_out(rig):
    rig.lwa.script += [(503, {}, {}), (429, {"error": "slow_down"}, {"Retry-After": "7"})]
    with pytest.raises(TransientError) as caught:
        await rig.auth().access_token()
    assert not caught.value.ambiguous
    with pytest.raises(ThrottledError) as throttled:
        await rig.auth().access_token()
    assert throttled.value.retry_after == 7
    assert await rig.auth().access_token() == "Atza|access-3"


async def test_unreachable_lwa_is_transient(rig):
    auth = rig.auth(lwa_endpoint="http://127.0.0.1:9/auth/o2/token")
    with pytest.raises(TransientError):
        await auth.access_token()
    assert rig.lineage[-1].error and rig.lineage[-1].status_code is None


async def test_lineage_of_a_grant_hides_secrets_and_the_access_token(rig):
    await rig.auth().access_token()
    [record] = rig.lineage
    assert record.method == "POST" and record.status_code == 200 and record.connection_id == "amazon-us"
    text = repr(record)
    for secret in (SECRET, REFRESH, "Atza|access-1"):
        assert secret not in text
    assert "client_secret=%2A%2A%2A" in record.request_body and '"access_token":"***"' in record.response_body
