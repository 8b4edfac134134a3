"""An order's timeline through the real engine: the raw inbound body, each message of the
order (correlation id = order ref), each attempt with its outbound request and response,
and where each message ended — in time order, over HTTP and in `crossdock orders show`."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from crossdock import bootstrap
from crossdock.access import Role
from crossdock.api.app import create_app
from crossdock.cli import app as cli_app
from crossdock.engine.retry import RetryPolicy
from crossdock.errors import PermanentError, TransientError
from crossdock.records import Delivery, LineageRecord, NewMessage
from crossdock.store import api_keys, inbox
from crossdock.store import messages as message_store
from crossdock.store.orders import OrderRecord, save_order
from tests.support.tenants import ensure_tenants

REF = "shopify:5001"
FAST = RetryPolicy(base_seconds=0.01, cap_seconds=0.02)
CALLS: list[int] = []


def _hooks(registry):
    @registry.handler("tl.received")
    async def received(msg, ctx):
        order = OrderRecord("acme", REF, "shopify", "5001", "acme-shop", "received", "open", {"id": 5001})
        ctx.stage(lambda conn: save_order(conn, order, ctx.now))
        ctx.emit("tl.post", {"order_ref": REF}, ordering_key=REF)

    @registry.handler("tl.post", policy=FAST)
    async def post(msg, ctx):
        CALLS.append(msg.attempts)
        failing = len(CALLS) == 1
        ctx.record(
            LineageRecord(
                "out",
                "acme-erp",
                "POST",
                "https://erp.example/sales-orders",
                request_headers={"Authorization": "***", "Idempotency-Key": REF},
                request_body=json.dumps({"ref": REF, "lines": 1}),
                status_code=503 if failing else 201,
                response_body='{"busy": true}' if failing else '{"id": "SO-77"}',
                duration_ms=12.5,
            )
        )
        if failing:
            raise TransientError("ERP busy")

    @registry.handler("tl.stuck")
    async def stuck(msg, ctx):
        raise PermanentError("validation.address_incomplete", "order has no street", "Fix the address.")


@pytest.fixture
def hub(settings):
    CALLS.clear()
    h = bootstrap.build(settings, hooks=[_hooks])
    delivery = Delivery(
        tenant_id="acme",
        connection_id="acme-shop",
        kind="tl.received",
        idempotency_key="acme-shop:5001",
        payload=json.dumps({"id": 5001}),
        raw_body='{"id": 5001, "note": "raw as received"}',
        headers={"Content-Type": "application/json"},
        ordering_key=REF,
        correlation_id=REF,
        url="/hooks/acme-shop/orders/create",
    )
    h.database.transaction(inbox.accept_batch, [delivery], time.time())
    asyncio.run(h.worker().run_until_idle(timeout=20))
    yield h
    h.close()


def _timeline(hub) -> list[dict]:
    ensure_tenants(hub.engine, "acme")
    key = hub.database.transaction(api_keys.create, "ops", Role.TENANT_VIEWER, ["acme"], "test", time.time())
    client = TestClient(create_app(hub, run_workers=False))
    response = client.get(
        f"/api/v1/orders/acme/{REF}/timeline", headers={"Authorization": f"Bearer {key.plaintext}"}
    )
    assert response.status_code == 200, response.text
    return response.json()["events"]


def test_timeline_lists_every_message_attempt_and_lineage_record_in_time_order(hub):
    events = _timeline(hub)
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    steps = [
        (e["type"], e.get("kind") or e.get("direction"), e.get("status") or e.get("status_code"))
        for e in events
    ]
    assert steps == [
        ("lineage", "in", None),
        ("message", "tl.received", None),
        ("outcome", "tl.received", "done"),
        ("message", "tl.post", None),
        ("lineage", "out", 503),
        ("lineage", "out", 201),
        ("outcome", "tl.post", "done"),
    ]
    inbound = events[0]
    assert inbound["request_body"] == '{"id": 5001, "note": "raw as received"}'
    first, second = events[4], events[5]
    assert (first["attempt"], second["attempt"]) == (1, 2)
    assert (
        second["response_body"] == '{"id": "SO-77"}' and second["request_headers"]["Authorization"] == "***"
    )
    assert events[6]["attempts"] == 2


def test_order_detail_and_list_show_the_order(hub):
    ensure_tenants(hub.engine, "acme")
    key = hub.database.transaction(api_keys.create, "ops", Role.TENANT_ADMIN, ["acme"], "test", time.time())
    client = TestClient(create_app(hub, run_workers=False))
    auth = {"Authorization": f"Bearer {key.plaintext}"}
    detail = client.get(f"/api/v1/orders/acme/{REF}", headers=auth).json()
    assert (detail["stage"], detail["document"], detail["releases"]) == ("received", {"id": 5001}, [])
    listed = client.get("/api/v1/orders", params={"q": "5001", "stage": "received"}, headers=auth).json()
    assert [o["order_ref"] for o in listed["items"]] == [REF] and listed["next_cursor"] is None


def test_an_order_held_by_an_open_exception_says_why_in_the_list(hub):
    ensure_tenants(hub.engine, "acme")
    stuck = NewMessage("acme", "tl.stuck", "stuck-1", "{}", ordering_key=f"{REF}/validate", correlation_id=REF)
    hub.database.transaction(message_store.insert, [stuck], time.time())
    asyncio.run(hub.worker().run_until_idle(timeout=20))
    key = hub.database.transaction(api_keys.create, "ops", Role.TENANT_VIEWER, ["acme"], "test", time.time())
    client = TestClient(create_app(hub, run_workers=False))
    listed = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {key.plaintext}"}).json()["items"]
    [order] = [o for o in listed if o["order_ref"] == REF]
    assert order["blocked_by"]["category"] == "validation.address_incomplete"
    assert order["problem"] == "validation.address_incomplete: order has no street"


def test_orders_page_on_with_a_cursor(hub):
    now = time.time()
    for n in range(5):
        rec = OrderRecord("acme", f"amazon:{n}", "amazon", str(n), "acme-amz", "posted", "open", {})
        hub.database.transaction(save_order, rec, now + n)
    ensure_tenants(hub.engine, "acme")
    key = hub.database.transaction(api_keys.create, "ops", Role.TENANT_VIEWER, ["acme"], "test", now)
    client = TestClient(create_app(hub, run_workers=False))
    auth, seen, cursor = {"Authorization": f"Bearer {key.plaintext}"}, [], None
    while True:
        params = {"channel": "amazon", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/orders", params=params, headers=auth).json()
        seen += [o["order_ref"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"amazon:{n}" for n in (4, 3, 2, 1, 0)]


def test_orders_show_prints_the_timeline(hub, settings):
    env = {"CROSSDOCK_DATABASE_URL": settings.database_url, "CROSSDOCK_VAR_DIR": str(settings.var_dir)}
    runner = CliRunner()
    misspelt = runner.invoke(cli_app, ["orders", "show", REF, "--tenant", "acmee"], env=env, terminal_width=200)
    assert misspelt.exit_code == 2 and "no tenant 'acmee'" in misspelt.output
    ensure_tenants(hub.engine, "acme")
    shown = runner.invoke(cli_app, ["orders", "show", REF, "--tenant", "acme"], env=env, terminal_width=200)
    assert shown.exit_code == 0, shown.output
    for expected in ("tl.received", "tl.post", "attempt 1 503", "attempt 2 201", "done", "→ out acme-erp"):
        assert expected in shown.output
    as_json = json.loads(
        runner.invoke(cli_app, ["orders", "show", REF, "--tenant", "acme", "--json"], env=env).stdout
    )
    assert as_json["order"]["stage"] == "received"
    assert [e.get("response_body") for e in as_json["timeline"] if e["type"] == "lineage"][1:] == [
        '{"busy": true}',
        '{"id": "SO-77"}',
    ]
    listed = json.loads(
        runner.invoke(cli_app, ["orders", "list", "--tenant", "acme", "--json"], env=env).stdout
    )
    assert [o["order_ref"] for o in listed] == [REF]
    for words in (["orders", "list", "--stage", "shiped"], ["messages", "list", "--status", "PARKED"],
                  ["exceptions", "list", "--status", "opne"]):  # fmt: skip
        typo = runner.invoke(cli_app, words, env=env)
        assert typo.exit_code == 2 and "is not one of" in typo.output  # not an empty list
    missing = runner.invoke(cli_app, ["orders", "show", "shopify:404", "--tenant", "acme"], env=env)
    assert missing.exit_code == 1
