"""Who may do what over the REST API, on SQLite and PostgreSQL: every role × every endpoint ×
an object of its own tenant or of another one. A tenant the key cannot see answers 404
(its objects' existence never leaks); a role that may not act answers 403.

Two tenants (acme, globex) each have a connection with a secret, an order, messages
and an open exception, written through the store and the engine. Every key in the
matrix acts for acme. Reads and refusals share one world per database; an action that
succeeds gets a fresh world."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from crossdock import bootstrap
from crossdock.access import Role
from crossdock.api.app import create_app
from crossdock.cli import app as cli_app
from crossdock.config import Settings
from crossdock.configuration import SecretBox, load_text
from crossdock.errors import PermanentError
from crossdock.records import LineageRecord, NewMessage
from crossdock.store import api_keys, migrate
from crossdock.store import messages as store
from crossdock.store.channel_availability import ChannelAvailabilityRecord, save_channel_availability
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from crossdock.store.orders import OrderRecord, save_order
from crossdock.store.tables import audit_log, exceptions
from tests.conftest import PG_SKIP, PG_URL, _truncate_all
from tests.support.tenants import ensure_tenants

OWN, FOREIGN = "acme", "globex"
SECRETS = {"acme": "acme-bearer-s3cret-0001", "globex": "globex-bearer-s3cret-0002"}
SETTING_SECRET = "tenant-api-token-9f8e7d"

CONFIG = "version: 1\ntenants:\n" + "".join(
    f"""  - id: {t}
    name: {t.title()} Distribution
    settings: {{api_token: "{SETTING_SECRET}", region: eu}}
    connections:
      - id: {t}-erp
        kind: http
        config: {{url: "https://erp.example/{t}", bearer_token: "{SECRETS[t]}"}}
"""
    for t in (OWN, FOREIGN)
)


def _hooks(registry):
    @registry.handler("test.fail")
    async def fail(msg, ctx):
        ctx.record(
            LineageRecord(
                "out",
                msg.connection_id,
                "POST",
                "https://erp.example/orders",
                request_headers={"Authorization": "***"},
                status_code=422,
                response_body='{"error": "bad sku"}',
            )
        )
        raise PermanentError("mapping.sku_unknown", "SKU X-1 is not mapped", "Map X-1.")


@dataclass
class World:
    hub: object
    client: TestClient
    keys: dict[str, str]  # role (or "partner_all", "revoked") → plaintext
    objects: dict[str, dict] = field(default_factory=dict)  # tenant → order, message, exception

    def get(self, who: str, path: str, **kw):
        return self.client.get(path, headers=self.auth(who), **kw)

    def post(self, who: str, path: str, body: dict | None = None):
        return self.client.post(path, headers=self.auth(who), json=body or {})

    def auth(self, who: str) -> dict:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def open_exceptions(self, tenant: str) -> int:
        with self.hub.engine.connect() as c:
            q = select(exceptions.c.id).where(exceptions.c.tenant_id == tenant, exceptions.c.status == "open")
            return len(c.execute(q).all())


def _seed(settings: Settings) -> World:
    engine = make_engine(settings.database_url)
    apply_config(
        engine, load_text(CONFIG, "test.yaml"), "test.yaml", CONFIG, "test", SecretBox.from_settings(settings)
    )
    engine.dispose()
    hub = bootstrap.build(settings, hooks=[_hooks])
    now = time.time()
    objects = {}
    for n, t in enumerate((OWN, FOREIGN), start=1):
        ref = f"shopify:{1000 + n}"
        order = OrderRecord(t, ref, "shopify", str(1000 + n), f"{t}-erp", "posted", "open", {"lines": []})
        hub.database.transaction(save_order, order, now)
        failing = NewMessage(t, "test.fail", f"{t}-f", "{}", correlation_id=ref, connection_id=f"{t}-erp")
        hub.database.transaction(store.insert, [failing], now)
        objects[t] = {"order": ref}
        hub.database.transaction(save_channel_availability, _availability(t, now))
    asyncio.run(hub.worker().run_until_idle(timeout=20))
    with hub.engine.connect() as c:
        for t in (OWN, FOREIGN):
            q = select(exceptions.c.id, exceptions.c.message_id).where(exceptions.c.tenant_id == t)
            exc = c.execute(q).one()
            objects[t].update(exception=exc.id, message=exc.message_id)
    for t in (OWN, FOREIGN):  # still ready: written after the worker ran
        note = NewMessage(t, "test.note", f"{t}-n", '{"n": 1}', correlation_id=objects[t]["order"])
        hub.database.transaction(store.insert, [note], now)
    keys = {r.value: _key(hub, r.value, r, [OWN]) for r in Role}
    keys["partner_all"] = _key(hub, "all", Role.PARTNER_ADMIN, ["*"])
    keys["revoked"] = _key(hub, "old", Role.PARTNER_ADMIN, ["*"])
    revoked_id = hub.database.transaction(api_keys.lookup, keys["revoked"]).id
    hub.database.transaction(api_keys.revoke, revoked_id, "test", now)
    return World(hub, TestClient(create_app(hub, run_workers=False)), keys, objects)


def _availability(tenant: str, now: float) -> ChannelAvailabilityRecord:
    steps = [{"step": "on_hand", "value": "7", "total": "7", "rule": ""}]
    plain = {"item": "SKU-1", "connection_id": f"{tenant}-erp", "quantity": "7", "explanation": steps}
    return ChannelAvailabilityRecord(tenant, f"{tenant}-erp", "SKU-1", Decimal(7), now, plain, Decimal(7), now)


def _key(hub, name: str, role: Role, tenants: list[str]) -> str:
    return hub.database.transaction(api_keys.create, name, role, tenants, "test", time.time()).plaintext


def _settings(url: str, var_dir) -> Settings:
    env = {"CROSSDOCK_DATABASE_URL": url, "CROSSDOCK_VAR_DIR": str(var_dir), "CROSSDOCK_LEASE_SECONDS": "5"}
    return Settings.from_env(env)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request):
    return request.param


@pytest.fixture(scope="module")
def shared(backend, tmp_path_factory, request):
    """One world per database for reads and refusals (which change nothing)."""
    tmp = tmp_path_factory.mktemp("authz")
    if backend == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp / "crossdock.db")
        url, drop = f"sqlite:///{tmp / 'crossdock.db'}", None
    else:
        url, drop = _own_pg_database()
    world = _seed(_settings(url, tmp / "var"))
    yield world
    world.hub.close()
    if drop:
        drop()


def _own_pg_database():
    if not PG_URL:
        pytest.skip(PG_SKIP)
    name = f"cd_authz_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    migrate.upgrade(url)

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture
def fresh(backend, tmp_path, request):
    """A world of its own, for an action that succeeds."""
    if backend == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "crossdock.db")
        url = f"sqlite:///{tmp_path / 'crossdock.db'}"
    else:
        url = request.getfixturevalue("pg_server_url")
        _truncate_all(url)
    world = _seed(_settings(url, tmp_path / "var"))
    yield world
    world.hub.close()


# --------------------------------------------------------------------------- the matrix

READS = {
    "tenant": "/api/v1/tenants/{t}",
    "connections": "/api/v1/tenants/{t}/connections",
    "orders": "/api/v1/orders?tenant={t}",
    "order": "/api/v1/orders/{t}/{order}",
    "timeline": "/api/v1/orders/{t}/{order}/timeline",
    "messages": "/api/v1/messages?tenant={t}",
    "message": "/api/v1/messages/{message}",
    "exceptions": "/api/v1/exceptions?tenant={t}",
    "exception_groups": "/api/v1/exceptions?tenant={t}&group_by=category",
    "exception": "/api/v1/exceptions/{exception}",
    "metrics": "/api/v1/metrics/summary?tenant={t}",
    "availability": "/api/v1/availability?item=SKU-1&channel={t}-erp",
}

# name → (path, body, status when it succeeds)
ACTIONS = {
    "retry": ("/api/v1/exceptions/{exception}/retry", {}, 202),
    "resubmit": (
        "/api/v1/exceptions/{exception}/resubmit",
        {"payload": {"sku": "X-2"}, "reason": "sku"},
        202,
    ),
    "resolve": ("/api/v1/exceptions/{exception}/resolve", {"reason": "duplicate order"}, 200),
    "bulk_retry": ("/api/v1/exceptions/bulk?tenant={t}", {"action": "retry"}, 202),
    "bulk_resolve": ("/api/v1/exceptions/bulk?tenant={t}", {"action": "resolve", "reason": "test data"}, 200),
}

ROLES = [r.value for r in Role]
MAY_OPERATE = {Role.PARTNER_ADMIN.value, Role.PARTNER_OPERATOR.value, Role.TENANT_ADMIN.value}


def _path(world: World, template: str, tenant: str) -> str:
    return template.format(t=tenant, **world.objects[tenant])


def _error(response) -> dict:
    body = response.json()
    assert set(body["error"]) == {"code", "message", "hint"}, body
    return body["error"]


@pytest.mark.parametrize("whose", ["own", "foreign"])
@pytest.mark.parametrize("endpoint", sorted(READS))
@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_its_own_tenant_and_never_sees_another(shared, role, endpoint, whose):
    tenant = OWN if whose == "own" else FOREIGN
    response = shared.get(role, _path(shared, READS[endpoint], tenant))
    if whose == "own":
        assert response.status_code == 200, response.text
        assert FOREIGN not in response.text and SECRETS[OWN] not in response.text
    else:
        assert response.status_code == 404, response.text
        assert _error(response)["code"].endswith(".not_found")


def _expected(role: str, whose: str, success: int) -> int:
    if role not in MAY_OPERATE:
        return 403
    return success if whose == "own" else 404


@pytest.mark.parametrize("whose", ["own", "foreign"])
@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_every_role_acts_only_as_its_role_allows_and_only_on_its_tenant(
    request, backend, role, action, whose
):
    path, body, success = ACTIONS[action]
    expected = _expected(role, whose, success)
    world = request.getfixturevalue("fresh" if expected < 300 else "shared")
    tenant = OWN if whose == "own" else FOREIGN
    response = world.post(role, _path(world, path, tenant), body)
    assert response.status_code == expected, response.text
    if expected >= 400:
        code = _error(response)["code"]
        assert code == (
            "auth.forbidden"
            if expected == 403
            else f"{'tenant' if 'bulk' in action else 'exception'}.not_found"
        )
        assert world.open_exceptions(OWN) == 1 and world.open_exceptions(FOREIGN) == 1
    else:
        assert response.json()["exception_ids"] == [world.objects[OWN]["exception"]]
        assert world.open_exceptions(OWN) == 0 and world.open_exceptions(FOREIGN) == 1


# --------------------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    "headers, code",
    [
        ({}, "auth.missing"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "auth.missing"),
        ({"Authorization": "Bearer cdk_not-a-real-key"}, "auth.invalid"),
        ({"Authorization": "Bearer "}, "auth.missing"),
    ],
)
def test_a_request_without_a_live_key_is_401(shared, headers, code):
    response = shared.client.get("/api/v1/tenants", headers=headers)
    assert response.status_code == 401
    assert _error(response)["code"] == code
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_revoked_key_is_401(shared):
    response = shared.get("revoked", "/api/v1/tenants")
    assert response.status_code == 401 and _error(response)["code"] == "auth.invalid"


def test_a_key_records_when_it_was_last_used(shared):
    shared.get("tenant_viewer", "/api/v1/tenants")
    with shared.hub.engine.connect() as c:
        used = {k.name: k.last_used_at for k in api_keys.list_keys(c)}
    assert used["tenant_viewer"] is not None and time.time() - used["tenant_viewer"] < 600


# --------------------------------------------------------------------------- scope


def test_tenant_list_shows_only_the_tenants_a_key_acts_for(shared):
    for role in ROLES:
        assert [t["id"] for t in shared.get(role, "/api/v1/tenants").json()["items"]] == [OWN]
    assert [t["id"] for t in shared.get("partner_all", "/api/v1/tenants").json()["items"]] == [OWN, FOREIGN]


def test_a_partner_key_for_all_tenants_sees_every_tenant(shared):
    for tenant in (OWN, FOREIGN):
        for template in READS.values():
            assert shared.get("partner_all", _path(shared, template, tenant)).status_code == 200
    listed = shared.get("partner_all", "/api/v1/exceptions").json()["items"]
    assert {e["tenant_id"] for e in listed} == {OWN, FOREIGN}
    scoped = shared.get("tenant_admin", "/api/v1/exceptions").json()["items"]
    assert {e["tenant_id"] for e in scoped} == {OWN}


def test_a_misspelt_tenant_answers_404_not_an_empty_list(shared):
    for path in ("/api/v1/exceptions", "/api/v1/messages", "/api/v1/orders", "/api/v1/metrics/summary"):
        answer = shared.get("partner_all", f"{path}?tenant=acmee")
        assert answer.status_code == 404 and "acmee" in answer.json()["error"]["message"], path
    body = {"action": "resolve", "reason": "cleanup"}
    assert shared.post("partner_all", "/api/v1/exceptions/bulk?tenant=acmee", body).status_code == 404


def test_a_tenant_id_in_a_body_is_refused_and_acts_on_nothing(fresh):
    body = {
        "action": "resolve",
        "reason": "cleanup",
        "tenant_id": FOREIGN,
        "filter": {"tenant_id": FOREIGN, "category": "mapping."},
    }
    answer = fresh.post("tenant_admin", "/api/v1/exceptions/bulk", body)
    assert answer.status_code == 422 and "tenant_id" in answer.json()["error"]["message"]
    assert fresh.open_exceptions(OWN) == 1 and fresh.open_exceptions(FOREIGN) == 1

    other = fresh.objects[FOREIGN]["exception"]
    body = {"payload": {"sku": "Y"}, "tenant_id": OWN}
    assert fresh.post("tenant_admin", f"/api/v1/exceptions/{other}/resubmit", body).status_code in (404, 422)
    assert fresh.open_exceptions(FOREIGN) == 1


def test_a_misspelt_bulk_filter_key_is_refused_rather_than_widening_the_action(fresh):
    body = {"action": "resolve", "reason": "cleanup", "filter": {"categroy": "mapping.sku_unknown"}}
    answer = fresh.post("partner_operator", "/api/v1/exceptions/bulk?tenant=" + OWN, body)
    assert answer.status_code == 422
    assert "filter.categroy" in answer.json()["error"]["message"]
    assert fresh.open_exceptions(OWN) == 1


def test_actions_are_audited_with_the_key_as_actor(fresh):
    exc = fresh.objects[OWN]["exception"]
    assert fresh.post("partner_operator", f"/api/v1/exceptions/{exc}/retry").status_code == 202
    with fresh.hub.engine.connect() as c:
        key = next(k for k in api_keys.list_keys(c) if k.name == "partner_operator")
        rows = c.execute(select(audit_log.c.actor).where(audit_log.c.action == "exception.retry")).all()
    assert [r.actor for r in rows] == [key.principal.name]
    detail = fresh.get("partner_operator", f"/api/v1/exceptions/{exc}").json()
    assert [(a["action"], a["actor"]) for a in detail["actions"]] == [("retry", key.principal.name)]


# --------------------------------------------------------------------------- secrets


def test_secrets_are_never_in_tenant_or_connection_output(shared):
    for who in ("partner_all", "tenant_viewer"):
        for path in ("/api/v1/tenants/acme", "/api/v1/tenants/acme/connections", "/api/v1/tenants"):
            body = shared.get(who, path).text
            assert SECRETS[OWN] not in body and SETTING_SECRET not in body and "enc:" not in body
    (connection,) = shared.get("tenant_viewer", "/api/v1/tenants/acme/connections").json()["items"]
    assert connection["config"]["bearer_token"] == "***"
    assert connection["config"]["url"] == "https://erp.example/acme"
    assert connection["health"] == "failing" and connection["open_exceptions"] == 1
    assert shared.get("tenant_viewer", "/api/v1/tenants/acme").json()["settings"]["api_token"] == "***"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "path, status, code",
    [
        ("/api/v1/orders?cursor=bm9wZQ", 400, "cursor.invalid"),
        ("/api/v1/messages?cursor=!!", 400, "cursor.invalid"),
        ("/api/v1/orders?limit=0", 422, "request.invalid"),
        ("/api/v1/exceptions?group_by=kind", 422, "request.invalid"),
        ("/api/v1/exceptions/abc", 422, "request.invalid"),
        ("/api/v1/messages/999999", 404, "message.not_found"),
        ("/api/v1/orders/acme/shopify:404", 404, "order.not_found"),
        ("/api/v1/tenants/nobody", 404, "tenant.not_found"),
    ],
)
def test_bad_input_answers_4xx_with_an_error_body(shared, path, status, code):
    response = shared.get("partner_all", path)
    assert response.status_code == status, response.text
    assert _error(response)["code"] == code


@pytest.mark.parametrize(
    "path, body, status, code",
    [
        ("/api/v1/exceptions/{exception}/resubmit", {"reason": "no payload"}, 422, "request.invalid"),
        ("/api/v1/exceptions/{exception}/resubmit", {"payload": None}, 422, "exception.invalid_action"),
        ("/api/v1/exceptions/{exception}/resolve", {"reason": ""}, 422, "request.invalid"),
        ("/api/v1/exceptions/bulk", {"action": "retry"}, 422, "bulk.unfiltered"),
        ("/api/v1/exceptions/bulk", {"action": "delete", "all_open": True}, 422, "request.invalid"),
    ],
)
def test_bad_actions_answer_4xx_and_change_nothing(shared, path, body, status, code):
    response = shared.post("partner_all", _path(shared, path, OWN), body)
    assert response.status_code == status, response.text
    assert _error(response)["code"] == code
    assert shared.open_exceptions(OWN) == 1 and shared.open_exceptions(FOREIGN) == 1


def test_acting_on_an_exception_no_longer_open_is_409(fresh):
    exc = fresh.objects[OWN]["exception"]
    assert (
        fresh.post("tenant_admin", f"/api/v1/exceptions/{exc}/resolve", {"reason": "done"}).status_code == 200
    )
    again = fresh.post("tenant_admin", f"/api/v1/exceptions/{exc}/retry")
    assert again.status_code == 409 and _error(again)["code"] == "exception.not_open"


def test_openapi_and_docs_are_served_under_api_v1(shared):
    spec = shared.client.get("/api/v1/openapi.json").json()
    assert "/api/v1/orders/{tenant_id}/{order_ref}/timeline" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert "swagger" in shared.client.get("/api/v1/docs").text.lower()


# --------------------------------------------------------------------------- the CLI


def test_apikeys_cli_prints_a_key_once_lists_and_revokes(db_url, tmp_path):
    env = {"CROSSDOCK_DATABASE_URL": db_url, "CROSSDOCK_VAR_DIR": str(tmp_path)}
    runner = CliRunner()
    unknown = ["apikeys", "create", "--name", "desk", "--role", "tenant_viewer", "--tenant", "acme"]
    refused = runner.invoke(cli_app, unknown, env=env)
    assert refused.exit_code == 2 and "no tenant acme" in refused.output  # a misspelt tenant is no scope
    long_name = ["apikeys", "create", "--name", "x" * 161, "--role", "partner_admin", "--all-tenants"]
    assert runner.invoke(cli_app, long_name, env=env).exit_code == 2
    engine = make_engine(db_url)
    ensure_tenants(engine, "acme")
    engine.dispose()
    args = ["apikeys", "create", "--name", "desk", "--role", "tenant_viewer", "--tenant", "acme", "--json"]
    created = json.loads(runner.invoke(cli_app, args, env=env).stdout)
    assert created["key"].startswith(created["key_prefix"]) and created["tenants"] == ["acme"]
    listed = runner.invoke(cli_app, ["apikeys", "list", "--json"], env=env).stdout
    assert created["key"] not in listed and json.loads(listed)[0]["name"] == "desk"
    refused = ["apikeys", "create", "--name", "x", "--role", "tenant_admin", "--all-tenants"]
    assert runner.invoke(cli_app, refused, env=env).exit_code == 2
    assert runner.invoke(cli_app, ["apikeys", "revoke", str(created["id"])], env=env).exit_code == 0
    assert runner.invoke(cli_app, ["apikeys", "revoke", str(created["id"])], env=env).exit_code == 1
    engine = make_engine(db_url)
    with engine.connect() as c:
        assert api_keys.lookup(c, created["key"]) is None
    engine.dispose()
