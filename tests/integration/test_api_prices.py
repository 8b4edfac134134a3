"""Prices and approvals over the REST API, the web console and the CLI, on SQLite and
PostgreSQL: who may read and decide, what a decision hands to publishing, and the audit
entry naming who decided."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from crossdock import bootstrap
from crossdock.access import Role
from crossdock.api.app import create_app
from crossdock.cli import app as cli_app
from crossdock.configuration import SecretBox, load_text
from crossdock.domain.pricing import BasePrice, ChannelPriceRule, compute
from crossdock.flows.pricing import kinds
from crossdock.store import api_keys, price_approvals
from crossdock.store import channel_prices as prices_store
from crossdock.store import users as accounts
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from crossdock.store.tables import audit_log, messages

PASSWORD = "correct horse battery"
CONFIG = """version: 1
tenants:
  - id: acme
    name: Acme
    connections:
      - {id: acme-shop, kind: http, config: {url: "http://127.0.0.1:9/shop"}}
    pricing:
      channels:
        acme-shop: {currency: USD, markup_percent: 20, approval_threshold_percent: 10}
  - id: globex
    name: Globex
"""
RULE = ChannelPriceRule(
    "acme-shop", "USD", markup_percent=Decimal(20), approval_threshold_percent=Decimal(10)
)


@pytest.fixture
def world(settings):
    engine = make_engine(settings.database_url)
    apply_config(engine, load_text(CONFIG), "t.yaml", CONFIG, "test", SecretBox.from_settings(settings))
    engine.dispose()
    hub = bootstrap.build(settings)
    now = time.time()
    keys = {
        r.value: hub.database.transaction(
            api_keys.create, f"{r.value}-key", r, ["acme"], "test", now
        ).plaintext
        for r in Role
    }
    with hub.engine.begin() as c:
        for name, role in (("tina", Role.TENANT_ADMIN), ("vic", Role.TENANT_VIEWER)):
            accounts.create_user(c, name, accounts.hash_password(PASSWORD), role, ["acme"], "test", now)
    with TestClient(create_app(hub, run_workers=False)) as client:
        yield hub, client, keys
    hub.close()


def waiting(hub, item: str = "CD-1", old: str = "120.00", base: str = "200.00") -> int:
    """An item published at `old`, whose computed price now waits for approval (as the flow leaves it)."""
    price = compute(item, BasePrice(item, Decimal(base), "USD"), [], RULE, time.time())
    with hub.engine.begin() as c:
        prices_store.save_computed(c, price, "acme", time.time())
        prices_store.queue_publication(c, "acme", "acme-shop", item, Decimal(old), time.time())
        prices_store.mark(
            c, "acme", "acme-shop", item, Decimal(old), prices_store.PublishState.IDLE, time.time()
        )
        return price_approvals.request(
            c,
            "acme",
            price,
            Decimal(old),
            Decimal("100.00"),
            RULE.approval_threshold_percent,
            None,
            time.time(),
        )


def auth(keys, role: Role = Role.TENANT_ADMIN) -> dict:
    return {"Authorization": f"Bearer {keys[role.value]}"}


def publishes(hub) -> list[dict]:
    with hub.engine.connect() as c:
        rows = c.execute(select(messages).where(messages.c.kind == kinds.PUBLISH))
        return [dict(r._mapping) for r in rows]


def decisions(hub) -> list[tuple[str, str, dict]]:
    with hub.engine.connect() as c:
        rows = c.execute(select(audit_log).where(audit_log.c.action.like("price.%")).order_by(audit_log.c.id))
        return [(r.action, r.actor, json.loads(r.details)) for r in rows]


def test_a_viewer_reads_prices_and_approvals_but_may_not_decide(world):
    hub, client, keys = world
    aid = waiting(hub)
    viewer = auth(keys, Role.TENANT_VIEWER)
    listed = client.get("/api/v1/tenants/acme/prices/approvals", headers=viewer)
    assert listed.status_code == 200, listed.text
    (found,) = listed.json()["items"]
    assert (found["id"], found["old_price"], found["new_price"], found["status"]) == (
        aid,
        "120.00",
        "240.00",
        "pending",
    )
    price = client.get("/api/v1/tenants/acme/prices/acme-shop/CD-1", headers=viewer).json()
    assert price["computed"] == "240.00" and price["published"] == "120.00" and price["confirmed"] == "120.00"
    assert [s["step"] for s in price["explanation"]] == ["base", "markup", "rounding"]
    refused = client.post(f"/api/v1/tenants/acme/prices/approvals/{aid}/approve", headers=viewer)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.forbidden"
    assert not publishes(hub) and not decisions(hub)


@pytest.mark.parametrize("role", [Role.TENANT_ADMIN, Role.PARTNER_OPERATOR, Role.PARTNER_ADMIN])
def test_approving_over_the_api_hands_the_price_to_publishing_and_is_audited(world, role):
    hub, client, keys = world
    aid = waiting(hub)
    answer = client.post(
        f"/api/v1/tenants/acme/prices/approvals/{aid}/approve",
        json={"reason": "new season"},
        headers=auth(keys, role),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["reason"]) == ("approved", "new season")
    assert re.fullmatch(rf"api-key:\d+:{role.value}-key", body["decided_by"])
    with hub.engine.connect() as c:
        rec = prices_store.get_channel_price(c, "acme", "acme-shop", "CD-1")
    assert (str(rec.published), rec.publish_state) == ("240.00", "queued")
    (publish,) = publishes(hub)
    assert json.loads(publish["payload"]) == {"connection_id": "acme-shop"}
    assert publish["ordering_key"] == "prices/acme-shop"
    ((action, actor, details),) = decisions(hub)
    assert (action, actor, details["new_price"], details["old_price"]) == (
        "price.approve",
        body["decided_by"],  # who approved, in the hash-chained audit log
        "240.00",
        "120.00",
    )
    again = client.post(f"/api/v1/tenants/acme/prices/approvals/{aid}/reject", headers=auth(keys, role))
    assert again.status_code == 409 and again.json()["error"]["code"] == "price_approval.not_pending"


def test_rejecting_keeps_the_channel_price(world):
    hub, client, keys = world
    aid = waiting(hub)
    answer = client.post(f"/api/v1/tenants/acme/prices/approvals/{aid}/reject", headers=auth(keys))
    assert answer.status_code == 200 and answer.json()["status"] == "rejected"
    with hub.engine.connect() as c:
        rec = prices_store.get_channel_price(c, "acme", "acme-shop", "CD-1")
    assert (str(rec.published), rec.publish_state) == ("120.00", "idle")
    assert not publishes(hub) and [d[0] for d in decisions(hub)] == ["price.reject"]
    history = client.get("/api/v1/tenants/acme/prices/approvals?status=any", headers=auth(keys)).json()[
        "items"
    ]
    assert [(a["id"], a["status"]) for a in history] == [(aid, "rejected")]


def test_another_tenants_approval_answers_404(world):
    hub, client, keys = world
    aid = waiting(hub)
    foreign = hub.database.transaction(
        api_keys.create, "globex-admin", Role.TENANT_ADMIN, ["globex"], "t", time.time()
    )
    headers = {"Authorization": f"Bearer {foreign.plaintext}"}
    assert (
        client.post(f"/api/v1/tenants/acme/prices/approvals/{aid}/approve", headers=headers).status_code
        == 404
    )
    assert (
        client.post(f"/api/v1/tenants/globex/prices/approvals/{aid}/approve", headers=headers).status_code
        == 404
    )
    assert client.get("/api/v1/tenants/acme/prices/approvals", headers=headers).status_code == 404
    assert client.get(f"/api/v1/tenants/acme/prices/approvals/{aid}", headers=auth(keys)).status_code == 200
    assert not decisions(hub)


def test_entries_over_the_api_are_validated_then_queued(world):
    hub, client, keys = world
    url = "/api/v1/tenants/acme/prices/entries"
    bad = client.post(
        url, json={"item": "CD-1", "price": "-1", "starts_at": "2026-12-01T00:00:00Z"}, headers=auth(keys)
    )
    assert bad.status_code == 422 and "price" in bad.json()["error"]["message"]
    nul = {"item": "CD\u00001", "price": "9", "starts_at": "2026-12-01"}  # PostgreSQL stores no NUL
    assert client.post(url, json=nul, headers=auth(keys)).status_code == 422
    backwards = {"item": "CD-1", "price": "9", "starts_at": "2026-12-02", "ends_at": "2026-12-01"}
    assert client.post(url, json=backwards, headers=auth(keys)).status_code == 422
    stranger = {"item": "CD-1", "price": "9", "starts_at": "2026-12-01", "connection_id": "globex-shop"}
    assert client.post(url, json=stranger, headers=auth(keys)).status_code == 422
    viewer = client.post(
        url,
        json={"item": "CD-1", "price": "9", "starts_at": "2026-12-01"},
        headers=auth(keys, Role.TENANT_VIEWER),
    )
    assert viewer.status_code == 403
    good = {
        "ref": "xmas",
        "item": "CD-1",
        "price": "9.50",
        "starts_at": "2026-12-20T00:00:00Z",
        "ends_at": "2026-12-27T00:00:00Z",
    }
    queued = client.post(url, json=good, headers=auth(keys))
    assert queued.status_code == 202 and queued.json()["ref"] == "xmas"
    with hub.engine.connect() as c:
        row = c.execute(select(messages).where(messages.c.id == queued.json()["message_id"])).one()
    payload = json.loads(row.payload)
    assert (
        row.kind == kinds.ENTRIES
        and payload["actor"].endswith(":tenant_admin-key")
        and payload["set"][0]["ref"] == "xmas"
    )
    assert client.delete(f"{url}/nope", headers=auth(keys)).status_code == 404


def test_each_entry_request_is_its_own_change_unless_it_repeats_an_idempotency_key(world):
    hub, client, keys = world
    url = "/api/v1/tenants/acme/prices/entries"
    entry = {"item": "CD-1", "price": "9.50", "starts_at": "2026-12-20T00:00:00Z"}
    twice = [client.post(url, json=entry, headers=auth(keys)).json() for _ in range(2)]
    assert twice[0]["message_id"] != twice[1]["message_id"] and twice[0]["ref"] != twice[1]["ref"]

    retried = {**auth(keys), "Idempotency-Key": "order-42"}
    again = [client.post(url, json=entry, headers=retried).json() for _ in range(2)]
    assert again[0] == again[1]  # one message, one ref
    partner = {**auth(keys, Role.PARTNER_ADMIN), "Idempotency-Key": "order-42"}
    other = client.post(url, json=entry, headers=partner)
    assert other.json()["message_id"] != again[0]["message_id"]  # another key holder's request
    with hub.engine.connect() as c:
        queued = c.execute(select(messages.c.id).where(messages.c.kind == kinds.ENTRIES)).all()
    assert len(queued) == 4


def test_the_console_page_lists_waiting_changes_and_approves_with_the_user_as_who(world):
    hub, client, _ = world
    aid = waiting(hub)
    _sign_in(client, "vic")
    page = client.get("/console/tenants/acme/prices")
    assert page.status_code == 200 and "240.00" in page.text and "Approve" not in page.text
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text).group(1)
    refused = client.post(f"/console/tenants/acme/prices/approvals/{aid}/approve", data={"csrf_token": token})
    assert refused.status_code == 403
    assert client.get("/console/tenants/globex/prices").status_code == 404
    client.post("/console/logout", data={"csrf_token": token})

    _sign_in(client, "tina")
    page = client.get("/console/tenants/acme/prices")
    assert "Approve" in page.text and "Reject" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    forged = client.post(
        f"/console/tenants/acme/prices/approvals/{aid}/approve", data={"csrf_token": "0" * 64}
    )
    assert forged.status_code == 403
    done = client.post(
        f"/console/tenants/acme/prices/approvals/{aid}/approve",
        data={"csrf_token": token, "reason": "checked"},
        headers={"HX-Request": "true"},
    )
    assert done.status_code == 200 and f"Approved: the price goes to the channel (#{aid})" in done.text
    assert "user:tina" in done.text  # the recent decisions name who decided
    ((action, actor, details),) = decisions(hub)
    assert (action, actor, details["reason"]) == ("price.approve", "user:tina", "checked")
    twice = client.post(f"/console/tenants/acme/prices/approvals/{aid}/reject", data={"csrf_token": token})
    assert twice.status_code == 200 and "Someone decided on it already" in twice.text


def test_the_cli_approves_with_the_name_given(world, monkeypatch):
    hub, _, _ = world
    first, second = waiting(hub, "CD-1"), waiting(hub, "CD-2")
    monkeypatch.setenv("CROSSDOCK_DATABASE_URL", hub.settings.database_url)
    monkeypatch.setenv("CROSSDOCK_VAR_DIR", str(hub.settings.var_dir))
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["prices", "approvals", "--tenant", "acme", "--json"])
    assert listed.exit_code == 0, listed.output
    assert sorted(a["id"] for a in json.loads(listed.output)) == [first, second]
    ok = runner.invoke(cli_app, ["prices", "approve", str(first), "--by", "maria@acme", "--reason", "fine"])
    assert ok.exit_code == 0, ok.output
    assert "approved" in ok.output and "maria@acme" in ok.output
    assert runner.invoke(cli_app, ["prices", "reject", str(second), "--by", "maria@acme"]).exit_code == 0
    assert runner.invoke(cli_app, ["prices", "approve", str(first), "--by", "x"]).exit_code == 3
    assert runner.invoke(cli_app, ["prices", "approve", "999999", "--by", "x"]).exit_code == 1
    assert [(a, who) for a, who, _ in decisions(hub)] == [
        ("price.approve", "maria@acme"),
        ("price.reject", "maria@acme"),
    ]
    assert len(publishes(hub)) == 1
    scheduled = runner.invoke(
        cli_app,
        [
            "prices",
            "schedule",
            "CD-1",
            "80",
            "--tenant",
            "acme",
            "--from",
            "2026-12-01T00:00Z",
            "--ref",
            "promo",
        ],
    )
    assert scheduled.exit_code == 0, scheduled.output
    with hub.engine.connect() as c:
        payloads = [
            json.loads(p)
            for p in c.execute(select(messages.c.payload).where(messages.c.kind == kinds.ENTRIES)).scalars()
        ]
    assert payloads[0]["set"][0]["ref"] == "promo" and payloads[0]["set"][0]["price"] == "80"

    on_channel = ["prices", "schedule", "CD-1", "80", "--tenant", "acme", "--from", "2026-12-01T00:00Z"]
    typo = runner.invoke(cli_app, [*on_channel, "--channel", "acme-shpo"])
    assert typo.exit_code == 1 and "acme-shop" in typo.output  # names the connections it has
    everywhere = runner.invoke(cli_app, on_channel)
    one = runner.invoke(cli_app, [*on_channel, "--channel", "acme-shop"])
    assert everywhere.exit_code == one.exit_code == 0, one.output
    refs = {out.output.split(":")[0] for out in (everywhere, one)}
    assert len(refs) == 2  # the channel's entry does not replace the one for every channel
    assert runner.invoke(cli_app, ["prices", "cancel", "nope", "--tenant", "acme"]).exit_code == 1
    with hub.engine.connect() as c:
        entries = c.execute(select(messages.c.id).where(messages.c.kind == kinds.ENTRIES)).all()
    assert len(entries) == 3


def _sign_in(client, username: str) -> None:
    page = client.get("/console/login")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)
    answer = client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "nonce": nonce},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
