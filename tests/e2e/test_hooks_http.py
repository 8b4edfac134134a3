"""Webhook intake and relay over real HTTP: `crossdock serve` as a process, a fake ERP in the test.

Each test applies one configuration (a signed webhook connection, http targets pointing
at the fake ERP), starts the real server on a free port and speaks HTTP to it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from sqlalchemy import func, select

from crossdock.configuration import SecretBox, load_text
from crossdock.connectors.webhook.verify import sign
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from crossdock.store.tables import audit_log, counters, lineage, messages

pytestmark = pytest.mark.slow

SECRET = "whsec_" + base64.b64encode(b"crossdock-e2e-secret-0123456789ab").decode()
CROSSDOCK = str(Path(sys.executable).with_name("crossdock"))

CONFIG = """
version: 1
tenants:
  - id: acme
    name: ACME Distribution
    connections:
      - id: acme-events
        kind: webhook
        config: {{secret: "{secret}", tolerance_seconds: 300}}
      - id: acme-small
        kind: webhook
        config: {{secret: "{secret}", max_body_bytes: 100000}}
      - id: acme-off
        kind: webhook
        enabled: false
        config: {{secret: "{secret}"}}
      - id: acme-erp
        kind: http
        config: {{url: "{erp}/erp/ok", bearer_token: erp-token-123, timeout_seconds: 5}}
      - id: acme-flaky
        kind: http
        config: {{url: "{erp}/erp/flaky"}}
      - id: acme-busy
        kind: http
        config: {{url: "{erp}/erp/busy"}}
    routes:
      - {{from: acme-events, topics: ["orders/*"], to: acme-erp}}
      - {{from: acme-events, topics: ["flaky/*"], to: acme-flaky}}
      - {{from: acme-events, topics: ["busy/*"], to: acme-busy}}
"""


class FakeErp:
    """Records every request; applies each Idempotency-Key once; answers from a script per path."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.effects: dict[str, dict] = {}
        self.script: dict[str, list[tuple[int, dict]]] = {
            "flaky": [(500, {}), (500, {})],
            "busy": [(429, {"Retry-After": "1"})],
        }

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await request.json()
        key = request.headers.get("Idempotency-Key")
        self.requests.append({"path": name, "key": key, "headers": dict(request.headers), "at": time.time()})
        scripted = self.script.get(name)
        if scripted:
            status, headers = scripted.pop(0)
            return web.json_response({"error": status}, status=status, headers=headers)
        if key in self.effects:
            return web.json_response({"error": "already processed"}, status=409)
        self.effects[key] = body
        return web.json_response({"ok": True}, status=201)


@pytest.fixture
async def erp():
    fake = FakeErp()
    app = web.Application()
    app.router.add_post("/erp/{name}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    yield fake
    await runner.cleanup()


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    async def start(self, **extra_env: str) -> Server:
        cmd = [CROSSDOCK, "serve", "--port", str(self.port), "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, env={**self.env, **extra_env})
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                assert self.proc.poll() is None, "crossdock serve exited during start"
                await asyncio.sleep(0.05)
        raise AssertionError("crossdock serve did not become ready")

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout=20)
        return self.proc.returncode if self.proc else 0


@pytest.fixture
async def hub_env(settings, erp, tmp_path):
    """A configured database and the environment `crossdock serve` runs with."""
    engine = make_engine(settings.database_url)
    text = CONFIG.format(secret=SECRET, erp=erp.url)
    path = tmp_path / "crossdock.yaml"
    path.write_text(text)
    loaded = load_text(text, str(path))
    apply_config(engine, loaded, str(path), text, "test", SecretBox.from_settings(settings))
    env = {
        **os.environ,
        "CROSSDOCK_DATABASE_URL": settings.database_url,
        "CROSSDOCK_VAR_DIR": str(settings.var_dir),
        "CROSSDOCK_LEASE_SECONDS": "5",
    }
    env.pop("CROSSDOCK_CRASH_POINT", None)
    yield env, engine
    engine.dispose()


@pytest.fixture
async def server(hub_env):
    srv = await Server(hub_env[0]).start()
    yield srv
    assert srv.stop() == 0, "crossdock serve did not drain and exit 0 on SIGTERM"


def signed(body: bytes | str, msg_id: str, *, at: int | None = None, secret: str = SECRET) -> dict[str, str]:
    text = body.decode() if isinstance(body, bytes) else body
    headers = sign(secret, msg_id, int(time.time()) if at is None else at, text)
    return {**headers, "content-type": "application/json"}


async def deliver(client: httpx.AsyncClient, url: str, path: str, body: str, msg_id: str) -> httpx.Response:
    return await client.post(f"{url}/hooks/{path}", content=body, headers=signed(body, msg_id))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _count(engine, table, *where) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


async def _wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_twenty_concurrent_identical_deliveries_make_one_message(server, hub_env):
    engine = hub_env[1]
    body = json.dumps({"order": {"id": 1001, "total": "12.50"}})
    async with httpx.AsyncClient() as client:
        sends = [
            deliver(client, server.url, "acme-events/inventory/changed", body, "evt-dup") for _ in range(20)
        ]
        answers = await asyncio.gather(*sends)
    assert all(a.status_code in (200, 202) for a in answers)
    assert len({a.json()["message_id"] for a in answers}) == 1
    assert sorted(a.status_code for a in answers) == [200] * 19 + [202]
    assert _count(engine, messages, messages.c.kind == "webhook.received") == 1


BAD_INPUTS = [
    ("malformed", "acme-events", b'{"order": ', None, 400, "json.syntax"),
    ("duplicate_keys", "acme-events", b'{"id": 1, "id": 2}', None, 400, "json.duplicate_key"),
    ("nan", "acme-events", b'{"total": NaN}', None, 400, "json.constant"),
    ("deep", "acme-events", b"[" * 1000 + b"]" * 1000, None, 400, "json.too_deep"),
    ("not_utf8", "acme-events", b'{"name": "\xff"}', None, 400, "json.utf8"),
    ("too_large", "acme-small", b'{"pad": "' + b"x" * 200_000 + b'"}', None, 413, "body.too_large"),
    ("bad_signature", "acme-events", b'{"id": 1}', "bad-sig", 401, "signature.bad_signature"),
    ("stale_timestamp", "acme-events", b'{"id": 1}', "stale", 401, "signature.stale_timestamp"),
    ("missing_signature", "acme-events", b'{"id": 1}', "none", 401, "signature.missing_header"),
    ("unknown_connection", "nobody-here", b'{"id": 1}', None, 404, "connection.unknown"),
    ("disabled_connection", "acme-off", b'{"id": 1}', None, 409, "connection.disabled"),
]


def _bad_headers(body: bytes, case: str, how: str | None) -> dict[str, str]:
    if how == "none":
        return {"content-type": "application/json"}
    if how == "stale":
        return signed(body.decode(), f"evt-{case}", at=int(time.time()) - 3600)
    if how == "bad-sig":
        return signed(body.decode(), f"evt-{case}", secret="whsec_" + base64.b64encode(b"w" * 24).decode())
    try:
        return signed(body.decode(), f"evt-{case}")
    except UnicodeDecodeError:  # a sender signing raw bytes; the body is refused before the signature
        return {**signed("", f"evt-{case}"), "content-type": "application/json"}


async def test_bad_input_is_refused_counted_and_audited_and_never_stored(server, hub_env):
    engine = hub_env[1]
    async with httpx.AsyncClient() as client:
        for case, connection, body, how, status, code in BAD_INPUTS:
            answer = await client.post(
                f"{server.url}/hooks/{connection}/orders/created",
                content=body,
                headers=_bad_headers(body, case, how),
            )
            assert (case, answer.status_code) == (case, status)
            assert answer.json()["error"]["code"] == code
            assert answer.json()["error"]["message"]

        async def chunks():  # no Content-Length: the stream is counted as it arrives
            for _ in range(30):
                yield b"x" * 10_000

        streamed = await client.post(f"{server.url}/hooks/acme-small/orders/created", content=chunks())
        assert streamed.status_code == 413
    assert _count(engine, messages, messages.c.tenant_id != "_system") == 0  # hub-wide jobs aside
    refused = len(BAD_INPUTS) + 1
    counted = select(func.sum(counters.c.value)).where(counters.c.name.like("webhook.refused.%"))
    with engine.connect() as c:
        assert c.execute(counted).scalar() == refused
        rows = c.execute(select(audit_log).where(audit_log.c.action == "webhook.refused")).mappings().all()
    assert len(rows) == refused
    assert {r["tenant_id"] for r in rows} == {"acme", "_system"}
    for row in rows:
        details = json.loads(row["details"])
        assert details["remote_addr"] == "127.0.0.1" and details["reason"]
        assert "v1," not in row["details"] and "order" not in row["details"]


async def test_event_reaches_the_erp_once_with_a_stable_idempotency_key(server, hub_env, erp):
    engine = hub_env[1]
    body = json.dumps({"order": {"id": 42}})
    async with httpx.AsyncClient() as client:
        first = await deliver(client, server.url, "acme-events/orders/created", body, "evt-42")
        again = await deliver(client, server.url, "acme-events/orders/created", body, "evt-42")
        unrouted = await deliver(client, server.url, "acme-events/products/updated", body, "evt-p")
    assert (first.status_code, again.status_code, unrouted.status_code) == (202, 200, 202)
    await _wait_for(lambda: len(erp.effects) == 1)
    await _wait_for(lambda: _count(engine, lineage, lineage.c.direction == "out") == 1)
    await asyncio.sleep(0.5)  # nothing else arrives: the repeat and the unrouted topic send nothing
    assert [r["key"] for r in erp.requests] == ["acme-events:evt-42>acme-erp"]
    sent = erp.requests[0]["headers"]
    assert sent["Authorization"] == "Bearer erp-token-123" and sent["Crossdock-Topic"] == "orders/created"
    assert erp.effects["acme-events:evt-42>acme-erp"] == {"order": {"id": 42}}
    with engine.connect() as c:
        out = c.execute(select(lineage).where(lineage.c.direction == "out")).mappings().all()
        raw = c.execute(select(lineage).where(lineage.c.direction == "in")).mappings().all()
    assert len(out) == 1 and "erp-token-123" not in out[0]["request_headers"]
    assert len(raw) == 2 and all("webhook-signature" not in r["request_headers"] for r in raw)
    assert {r["request_body"] for r in raw} == {body}


async def test_erp_failing_twice_is_retried_with_one_key_and_applied_once(server, hub_env, erp):
    engine = hub_env[1]
    body = json.dumps({"sku": "A-1"})
    async with httpx.AsyncClient() as client:
        answer = await deliver(client, server.url, "acme-events/flaky/sku", body, "evt-f")
    assert answer.status_code == 202
    await _wait_for(lambda: len(erp.effects) == 1, timeout=20)
    assert [r["key"] for r in erp.requests] == ["acme-events:evt-f>acme-flaky"] * 3
    await _wait_for(lambda: _count(engine, lineage, lineage.c.direction == "out") == 3)  # outcome committed
    with engine.connect() as c:
        out = select(lineage.c.status_code).where(lineage.c.direction == "out").order_by(lineage.c.id)
        statuses = c.execute(out).scalars().all()
    assert statuses == [500, 500, 201]


async def test_erp_answering_429_pauses_the_delivery_for_retry_after(server, erp):
    body = json.dumps({"order": 7})
    async with httpx.AsyncClient() as client:
        answer = await deliver(client, server.url, "acme-events/busy/order", body, "evt-b")
    assert answer.status_code == 202
    await _wait_for(lambda: len(erp.effects) == 1, timeout=20)
    first, second = erp.requests
    assert second["at"] - first["at"] >= 0.9
    assert first["key"] == second["key"]


async def test_crash_between_commit_and_answer_loses_nothing_and_retry_is_a_duplicate(hub_env):
    env, engine = hub_env
    crashing = await Server(env).start(CROSSDOCK_CRASH_POINT="hooks.after_commit")
    body = json.dumps({"order": {"id": 9}})
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.TransportError):
            await deliver(client, crashing.url, "acme-events/orders/created", body, "evt-crash")
        assert crashing.proc.wait(timeout=10) == -signal.SIGKILL
        restarted = await Server(env).start()
        try:  # the sender retries the same delivery (same webhook-id), now to a healthy server
            retry = await deliver(client, restarted.url, "acme-events/orders/created", body, "evt-crash")
        finally:
            assert restarted.stop() == 0
    with engine.connect() as c:
        ids = c.execute(select(messages.c.id).where(messages.c.kind == "webhook.received")).scalars().all()
    assert retry.status_code == 200
    assert retry.json() == {"message_id": ids[0], "duplicate": True}
    assert len(ids) == 1
