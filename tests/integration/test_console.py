"""The web console over HTTP (TestClient) on a real database: signing in, tenant isolation,
roles, the exception desk's actions on messages parked by the real engine, white-label."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from crossdock import bootstrap
from crossdock.access import Role
from crossdock.api.app import create_app
from crossdock.errors import PermanentError
from crossdock.records import NewMessage, Status
from crossdock.store import messages as store
from crossdock.store import users as accounts
from crossdock.store.tables import (
    audit_log,
    exception_actions,
    exceptions,
    messages,
    orders,
    shipments,
    tenants,
)

PASSWORD = "correct horse battery"
KNOWN_SKUS: set[str] = set()


def _hooks(registry):
    @registry.handler("order.line")
    async def line(msg, ctx):
        if ctx.payload["sku"] not in KNOWN_SKUS:
            raise PermanentError("mapping.sku_unknown", f"SKU {ctx.payload['sku']} is not mapped", "Map it.")


@pytest.fixture
def hub(settings, monkeypatch):
    for name in ("NAME", "LOGO_URL", "COLOR", "ACCENT", "SUPPORT"):
        monkeypatch.delenv(f"CROSSDOCK_PARTNER_{name}", raising=False)
    KNOWN_SKUS.clear()
    h = bootstrap.build(settings, hooks=[_hooks])
    now = time.time()
    with h.engine.begin() as c:
        for tid, name in (("acme", "ACME Distribution"), ("globex", "Globex Supply")):
            c.execute(
                insert(tenants).values(id=tid, name=name, settings="{}", created_at=now, updated_at=now)
            )
        for name, role, scope in (
            ("olga", Role.PARTNER_OPERATOR, ["*"]),
            ("tina", Role.TENANT_ADMIN, ["acme"]),
            ("vic", Role.TENANT_VIEWER, ["acme"]),
        ):
            accounts.create_user(c, name, accounts.hash_password(PASSWORD), role, scope, "test", now)
    yield h
    h.close()


@pytest.fixture
def client(hub):
    with TestClient(create_app(hub, run_workers=False)) as c:
        yield c


def park(hub, tenant: str, n: int, sku: str = "NOPE", corr: str = "shopify:1001") -> list[int]:
    """n messages parked by the real worker as `mapping.sku_unknown`."""
    new = [
        NewMessage(
            tenant, "order.line", f"{corr}/{sku}/{i}", json.dumps({"sku": sku, "n": i}), correlation_id=corr
        )
        for i in range(n)
    ]
    ids = [w.message_id for w in hub.database.transaction(store.insert, new, time.time())]
    asyncio.run(hub.worker().run_until_idle(timeout=20))
    return ids


def sign_in(client, username: str, password: str = PASSWORD):
    page = client.get("/console/login")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)
    data = {"username": username, "password": password, "nonce": nonce}
    return client.post("/console/login", data=data, follow_redirects=False)


def csrf(client, url: str = "/console/exceptions") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).text).group(1)


def rows(hub, table, *where):
    with hub.engine.connect() as c:
        return c.execute(select(table).where(*where)).all()


def status_of(hub, ids: list[int]) -> set[str]:
    return {r.status for r in rows(hub, messages, messages.c.id.in_(ids))}


def test_sign_in_with_good_and_bad_password_is_audited(client, hub):
    bad = sign_in(client, "olga", "wrong password!")
    assert bad.status_code == 401 and "Wrong username or password" in bad.text
    assert "crossdock_session" not in bad.headers.get("set-cookie", "")
    assert sign_in(client, "nobody").status_code == 401
    good = sign_in(client, "olga")
    assert good.status_code == 303 and good.headers["location"] == "/console/"
    cookie = [h for h in good.headers.get_list("set-cookie") if h.startswith("crossdock_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    entries = [(r.actor, r.action, json.loads(r.details).get("result")) for r in rows(hub, audit_log)]
    assert ("user:olga", "console.login_failed", "bad_password") in entries
    assert ("user:nobody", "console.login_failed", "unknown_user") in entries
    assert ("user:olga", "console.login", "ok") in entries
    assert client.get("/console/").status_code == 200


def test_every_page_needs_a_session(client, hub):
    (eid,) = [r.id for r in rows(hub, exceptions)] or [1]
    for url in (
        "/console/",
        "/console/tenants/acme",
        "/console/exceptions",
        f"/console/exceptions/{eid}",
        "/console/tenants/acme/orders",
        "/console/tenants/acme/orders/x",
        "/console/tenants/acme/connections",
    ):
        answer = client.get(url, follow_redirects=False)
        assert (url, answer.status_code, answer.headers.get("location")) == (url, 303, "/console/login")
    assert (
        client.post("/console/exceptions/act", data={"op": "retry_all"}, follow_redirects=False).status_code
        == 303
    )
    htmx = client.get("/console/exceptions", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"] == "/console/login"


def test_a_url_to_another_tenants_order_or_exception_answers_404(client, hub):
    park(hub, "acme", 1, corr="shopify:1")
    (theirs,) = park(hub, "globex", 1, corr="shopify:2")
    (their_exc,) = [r.id for r in rows(hub, exceptions, exceptions.c.tenant_id == "globex")]
    sign_in(client, "tina")
    assert client.get("/console/tenants/acme/orders/shopify:1").status_code == 200
    for url in (
        "/console/tenants/globex",
        "/console/tenants/globex/orders/shopify:2",
        f"/console/exceptions/{their_exc}",
        "/console/exceptions?tenant=globex",
        "/console/tenants/globex/connections",
        "/console/tenants/nowhere",
    ):
        assert (url, client.get(url).status_code) == (url, 404)
    token = csrf(client)
    answer = client.post(
        "/console/exceptions/act", data={"op": "retry_selected", "ids": [their_exc], "csrf_token": token}
    )
    assert answer.status_code == 200 and "Sent back to the queue: 0" in answer.text
    assert status_of(hub, [theirs]) == {"parked"}
    assert "globex" not in client.get("/console/exceptions").text


def test_a_viewer_sees_the_desk_but_cannot_act(client, hub):
    ids = park(hub, "acme", 2)
    sign_in(client, "vic")
    desk = client.get("/console/exceptions")
    assert (
        "mapping.sku_unknown" in desk.text
        and "Retry selected" not in desk.text
        and "Resubmit" not in desk.text
    )
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', desk.text).group(1)
    eid = rows(hub, exceptions)[0].id
    assert (
        client.post("/console/exceptions/act", data={"op": "retry_all", "csrf_token": token}).status_code
        == 403
    )
    resubmit = client.post(f"/console/exceptions/{eid}/resubmit", data={"payload": "{}", "csrf_token": token})
    assert resubmit.status_code == 403
    assert status_of(hub, ids) == {"parked"}


def test_an_action_without_this_sessions_csrf_token_is_refused(client, hub):
    ids = park(hub, "acme", 1)
    sign_in(client, "olga")
    assert (
        client.post("/console/exceptions/act", data={"op": "retry_all", "tenant": "acme"}).status_code == 403
    )
    forged = {"op": "retry_all", "tenant": "acme", "csrf_token": "0" * 64}
    assert client.post("/console/exceptions/act", data=forged).status_code == 403
    assert status_of(hub, ids) == {"parked"}


def test_bulk_retry_from_the_desk_sends_parked_messages_back_to_ready(client, hub):
    ids = park(hub, "acme", 3)
    sign_in(client, "olga")
    desk = client.get("/console/exceptions?tenant=acme")
    assert re.search(r'group-name">mapping.sku_unknown</span>\s*<span class="group-count">3<', desk.text)
    data = {"op": "retry_all", "tenant": "acme", "category": "mapping.", "csrf_token": csrf(client)}
    answer = client.post("/console/exceptions/act", data=data, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and "Sent back to the queue: 3 exception(s)." in answer.text
    assert status_of(hub, ids) == {Status.READY.value}
    assert {(r.action, r.actor) for r in rows(hub, exception_actions)} == {("retry", "user:olga")}
    KNOWN_SKUS.add("NOPE")
    asyncio.run(hub.worker().run_until_idle(timeout=20))
    assert status_of(hub, ids) == {Status.DONE.value}


def test_retry_and_resolve_by_selection_and_resolve_needs_a_reason(client, hub):
    ids = park(hub, "acme", 3)
    sign_in(client, "tina")
    token = csrf(client)
    excs = sorted(r.id for r in rows(hub, exceptions))
    no_reason = client.post(
        "/console/exceptions/act", data={"op": "resolve_selected", "ids": excs[:1], "csrf_token": token}
    )
    assert "needs a reason" in no_reason.text and status_of(hub, ids) == {"parked"}
    data = {"op": "resolve_selected", "ids": excs[:2], "reason": "duplicate order", "csrf_token": token}
    assert "Resolved: 2 exception(s)." in client.post("/console/exceptions/act", data=data).text
    assert sorted(r.status for r in rows(hub, messages, messages.c.id.in_(ids))) == [
        "parked",
        "resolved",
        "resolved",
    ]
    page = client.get(f"/console/exceptions/{excs[0]}")
    assert "duplicate order" in page.text and "user:tina" in page.text


def test_resubmit_with_invalid_json_shows_the_error_and_changes_nothing(client, hub):
    (mid,) = park(hub, "acme", 1)
    eid = rows(hub, exceptions)[0].id
    sign_in(client, "olga")
    url = f"/console/exceptions/{eid}"
    token = csrf(client, url)
    answer = client.post(f"{url}/resubmit", data={"payload": '{"sku": "A-1",', "csrf_token": token})
    assert answer.status_code == 422
    assert "not valid JSON" in answer.text and "{&#34;sku&#34;: &#34;A-1&#34;," in answer.text
    for bad, why in (('{"sku": "A-1", "sku": "B-2"}', "twice"), ("null", "null")):
        refused = client.post(f"{url}/resubmit", data={"payload": bad, "csrf_token": token})
        assert refused.status_code == 422 and why in refused.text
    with hub.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(messages)).scalar_one() == 1
    assert status_of(hub, [mid]) == {"parked"} and rows(hub, exceptions)[0].status == "open"
    good = client.post(
        f"{url}/resubmit",
        data={"payload": '{"sku": "A-1", "n": 0}', "reason": "fixed SKU", "csrf_token": token},
    )
    assert good.status_code == 200 and "resubmitted" in good.text
    assert status_of(hub, [mid]) == {"resubmitted"}


def test_a_misspelt_status_on_the_desk_says_so(client, hub):
    park(hub, "acme", 1)
    sign_in(client, "olga")
    page = client.get("/console/exceptions?status=resolvd")
    assert page.status_code == 200 and "no status" in page.text and "resolvd" in page.text


def test_the_partners_brand_appears_on_every_page(settings, hub, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_PARTNER_NAME", "Northwind Integrations")
    monkeypatch.setenv("CROSSDOCK_PARTNER_COLOR", "#7a1f5c")
    monkeypatch.setenv("CROSSDOCK_PARTNER_SUPPORT", "help@northwind.example")
    with TestClient(create_app(hub, run_workers=False)) as client:
        login = client.get("/console/login")
        assert "Northwind Integrations" in login.text and "--brand: #7a1f5c" in login.text
        sign_in(client, "olga")
        for url in ("/console/", "/console/tenants/acme", "/console/exceptions"):
            page = client.get(url)
            assert "Northwind Integrations" in page.text and "help@northwind.example" in page.text
            assert "Crossdock" not in page.text


def test_overview_shows_flows_exceptions_and_sla_clocks(client, hub):
    park(hub, "acme", 2)
    now = time.time()
    with hub.engine.begin() as c:
        for ref, channel, stage, age_h in (
            ("walmart:1", "walmart", "received", 5),
            ("amazon:7", "amazon", "posted", 30),
        ):
            c.execute(
                insert(orders).values(
                    tenant_id="acme",
                    order_ref=ref,
                    channel=channel,
                    channel_order_id=ref.split(":")[1],
                    connection_id=channel,
                    stage=stage,
                    status="open",
                    document="{}",
                    version=1,
                    created_at=now - age_h * 3600,
                    updated_at=now,
                )
            )
        c.execute(
            insert(shipments).values(
                tenant_id="acme",
                shipment_ref="amazon:7/1",
                order_ref="amazon:7",
                document="{}",
                created_at=now - 26 * 3600,
            )
        )
    sign_in(client, "vic")
    page = client.get("/console/tenants/acme")
    assert page.status_code == 200
    assert '<svg class="spark"' in page.text and "mapping.sku_unknown" in page.text
    clocks = re.findall(
        r"<td>(Acknowledge to channel|Post to ERP|Confirm shipment)</td>\s*<td>(\w+)</td>", page.text
    )
    assert set(clocks) == {
        ("Acknowledge to channel", "walmart"),
        ("Post to ERP", "walmart"),
        ("Confirm shipment", "amazon"),
    }
    timeline = client.get("/console/tenants/acme/orders/shopify:1001")
    assert timeline.status_code == 200 and timeline.text.count("order.line</strong>") == 2


def test_connections_page_counts_the_tenants_events(client, hub):
    from crossdock.store.counters import bump_counter

    with hub.engine.begin() as c:
        bump_counter(c, "acme", "stock.duplicate", 4)
        bump_counter(c, "acme", "webhook.refused.signature.mismatch")
        bump_counter(c, "globex", "stock.superseded", 9)
    sign_in(client, "tina")
    page = client.get("/console/tenants/acme/connections").text
    events = page[page.index('id="events"'):]
    assert re.search(r"stock\.duplicate</td><td class=\"num\">4<", events)
    assert "adjustments delivered again: ignored" in events
    assert "deliveries refused, by reason" in events
    assert "stock.superseded" not in events  # another tenant's
