"""Mappings as tenant data over the REST API, on SQLite and PostgreSQL: list, add or
replace and remove entries (validated, audited, role- and tenant-checked); an order parked
for an unmapped SKU completes once the SKU is mapped over the API and its category retried.

The order step is a hook handler that maps its SKUs with the tenant's stored rules
(`store.mappings.read_rules` + the domain's `find_item`), as the order flow's validate
step does, on the real engine and worker."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from crossdock import bootstrap
from crossdock.access import Role
from crossdock.api.app import create_app
from crossdock.configuration import SecretBox, load_text
from crossdock.errors import PermanentError
from crossdock.records import NewMessage, Status
from crossdock.store import api_keys
from crossdock.store import messages as store
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from crossdock.store.mappings import read_rules
from crossdock.store.tables import audit_log, exceptions

OWN, FOREIGN = "acme", "globex"
CONFIG = """version: 1
tenants:
  - id: acme
    name: Acme Distribution
    mappings:
      sku:
        - {channel: shopify, sku: A-1, item: ITEM-A1}
  - id: globex
    name: Globex
"""
MAPPED: list[tuple[str, str]] = []  # (order key, ERP item) of order steps that mapped every line


def _hooks(registry):
    @registry.handler("test.order")
    async def order(msg, ctx):
        tenant = msg.tenant_id
        rules = await ctx.read(lambda c: read_rules(c, tenant))
        items = []
        for sku in ctx.payload["skus"]:
            xref = rules.mappings.find_item("shopify", sku)
            if xref is None:
                raise PermanentError("mapping.sku_unknown", f"SKU {sku} is not mapped", f"Map {sku}.")
            items.append(xref.item_code)
        MAPPED.extend((msg.idempotency_key, i) for i in items)


@pytest.fixture
def world(settings):
    MAPPED.clear()
    engine = make_engine(settings.database_url)
    apply_config(
        engine, load_text(CONFIG, "t.yaml"), "t.yaml", CONFIG, "test", SecretBox.from_settings(settings)
    )
    engine.dispose()
    hub = bootstrap.build(settings, hooks=[_hooks])
    keys = {r.value: _key(hub, f"{r.value}-key", r, [OWN]) for r in Role}
    client = TestClient(create_app(hub, run_workers=False))
    yield hub, client, keys
    hub.close()


def _key(hub, name: str, role: Role, tenants: list[str]) -> str:
    return hub.database.transaction(api_keys.create, name, role, tenants, "test", time.time()).plaintext


def _auth(keys, who: str = Role.TENANT_ADMIN.value) -> dict:
    return {"Authorization": f"Bearer {keys[who]}"}


def _url(tenant: str = OWN, section: str = "sku") -> str:
    return f"/api/v1/tenants/{tenant}/mappings/{section}"


def _audit(hub, action: str) -> list:
    with hub.engine.connect() as c:
        return c.execute(select(audit_log).where(audit_log.c.action == action)).all()


def test_put_then_get_shows_the_entry_and_the_change_is_audited(world):
    hub, client, keys = world
    entry = {"channel": "shopify", "sku": "B-2", "item": "ITEM-B2"}
    put = client.put(_url(), json=entry, headers=_auth(keys))
    assert put.status_code == 200, put.text
    key = put.json()["key"]
    listed = client.get(_url(), headers=_auth(keys, Role.TENANT_VIEWER.value))
    assert listed.status_code == 200, listed.text
    items = {i["key"]: i for i in listed.json()["items"]}
    assert items[key]["value"] == entry and items[key]["updated_by"].endswith(":tenant_admin-key")
    assert len(items) == 2  # the applied A-1 and the new B-2
    (row,) = _audit(hub, "mapping.upsert")
    assert row.actor.endswith(":tenant_admin-key") and row.tenant_id == OWN and row.target == f"sku:{key}"
    details = json.loads(row.details) if isinstance(row.details, str) else row.details
    assert details == {"before": None, "after": entry}

    again = client.put(_url(), json={**entry, "item": "ITEM-B2-NEW"}, headers=_auth(keys))
    assert again.json()["key"] == key  # same key: replaced, not added
    assert len(client.get(_url(), headers=_auth(keys)).json()["items"]) == 2

    gone = client.delete(f"{_url()}/{quote(key, safe='')}", headers=_auth(keys))
    assert gone.status_code == 200, gone.text
    assert len(_audit(hub, "mapping.delete")) == 1
    missing = client.delete(f"{_url()}/{quote(key, safe='')}", headers=_auth(keys))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "mapping.not_found"


def test_roles_and_tenants_are_enforced(world):
    hub, client, keys = world
    entry = {"channel": "shopify", "sku": "C-3", "item": "ITEM-C3"}
    for role in (Role.TENANT_VIEWER.value, Role.PARTNER_OPERATOR.value):
        refused = client.put(_url(), json=entry, headers=_auth(keys, role))
        assert refused.status_code == 403, (role, refused.text)
        deleted = client.delete(f"{_url()}/x", headers=_auth(keys, role))
        assert deleted.status_code == 403
    assert client.put(_url(), json=entry, headers=_auth(keys, Role.PARTNER_ADMIN.value)).status_code == 200
    for method in ("get", "put"):
        foreign = client.request(method.upper(), _url(FOREIGN), json=entry, headers=_auth(keys))
        assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "tenant.not_found"
    assert client.get(_url(), headers={}).status_code == 401
    assert client.get(_url(section="nope"), headers=_auth(keys)).status_code == 404
    assert not any(r.tenant_id == FOREIGN for r in _audit(hub, "mapping.upsert"))


@pytest.mark.parametrize(
    "entry, words",
    [
        ({"channel": "shopify", "item": "ITEM-X"}, "give sku, product_ref or both"),
        ({"channel": "shopify", "sku": "D-4", "item": "ITEM-D4", "colour": "red"}, "colour"),
        ({"channel": "shopify", "sku": "D-4"}, "item"),
    ],
)
def test_an_invalid_entry_answers_422_naming_the_problem(world, entry, words):
    hub, client, keys = world
    response = client.put(_url(), json=entry, headers=_auth(keys))
    assert response.status_code == 422, response.text
    assert words in response.json()["error"]["message"]
    assert len(client.get(_url(), headers=_auth(keys)).json()["items"]) == 1
    assert not _audit(hub, "mapping.upsert")


def test_an_unmapped_sku_order_completes_after_mapping_it_over_the_api_and_a_bulk_retry(world):
    hub, client, keys = world
    now = time.time()
    orders = [
        NewMessage(OWN, "test.order", f"o-{n}", json.dumps({"skus": ["A-1", "NEW-9"]})) for n in range(3)
    ]
    ids = [r.message_id for r in hub.database.transaction(store.insert, orders, now)]
    asyncio.run(hub.worker().run_until_idle(timeout=20))
    with hub.engine.connect() as c:
        assert {store.get(c, i).status for i in ids} == {Status.PARKED}
        parked = c.execute(select(exceptions.c.category).where(exceptions.c.status == "open")).scalars().all()
    assert parked == ["mapping.sku_unknown"] * 3 and not MAPPED

    put = client.put(
        _url(), json={"channel": "shopify", "sku": "NEW-9", "item": "ITEM-N9"}, headers=_auth(keys)
    )
    assert put.status_code == 200, put.text
    body = {"action": "retry", "filter": {"category": "mapping.sku_unknown"}}
    retried = client.post(f"/api/v1/exceptions/bulk?tenant={OWN}", json=body, headers=_auth(keys))
    assert retried.status_code == 202, retried.text
    asyncio.run(hub.worker().run_until_idle(timeout=20))

    with hub.engine.connect() as c:
        assert {store.get(c, i).status for i in ids} == {Status.DONE}
    assert sorted(MAPPED) == sorted((f"o-{n}", i) for n in range(3) for i in ("ITEM-A1", "ITEM-N9"))
    assert client.get(f"/api/v1/exceptions?tenant={OWN}", headers=_auth(keys)).json()["items"] == []


def test_order_rule_documents_are_read_and_replaced_over_the_api(world):
    hub, client, keys = world
    url = f"/api/v1/tenants/{OWN}/rules"
    assert client.get(f"{url}/legal_entities", headers=_auth(keys)).json()["value"] is None
    entities = {"default": "ACME-US", "rules": [{"entity": "ACME-CA", "countries": ["CA"]}]}
    put = client.put(f"{url}/legal_entities", json=entities, headers=_auth(keys))
    assert put.status_code == 200 and put.json()["updated_by"]
    stored = put.json()["value"]
    assert stored["default"] == "ACME-US" and stored["rules"][0]["countries"] == ["CA"]
    policy = {"unmatched": {"shopify": {"policy": "default_account", "account": "C-WEB"}}}
    assert client.put(f"{url}/customer_policies", json=policy, headers=_auth(keys)).status_code == 200
    with hub.engine.connect() as c:
        rules = read_rules(c, OWN)
    assert rules.mappings.default_legal_entity == "ACME-US"
    assert rules.mappings.customer_policies["shopify"].account == "C-WEB"
    assert len(_audit(hub, "rules.put")) == 2

    guess = {"unmatched": {"shopify": {"policy": "guess"}}}
    bad = client.put(f"{url}/customer_policies", json=guess, headers=_auth(keys))
    assert bad.status_code == 422 and "policy" in bad.json()["error"]["message"]
    assert client.put(f"{url}/pricing", json={}, headers=_auth(keys)).status_code == 404  # crossdock apply's
    viewer = _auth(keys, Role.TENANT_VIEWER.value)
    assert client.put(f"{url}/legal_entities", json=entities, headers=viewer).status_code == 403
    assert client.get(f"/api/v1/tenants/{FOREIGN}/rules/routing", headers=_auth(keys)).status_code == 404


def test_a_key_with_the_longest_name_allowed_is_recorded_as_who_changed_a_mapping(world):
    hub, client, _keys = world
    longest = _key(hub, "k" * 160, Role.TENANT_ADMIN, [OWN])
    entry = {"channel": "shopify", "sku": "LONG-1", "item": "ITEM-L1"}
    put = client.put(_url(), json=entry, headers={"Authorization": f"Bearer {longest}"})
    assert put.status_code == 200, put.text  # PostgreSQL refused a longer actor than its column
    [change] = _audit(hub, "mapping.upsert")
    assert change.actor.endswith("k" * 160)


def test_a_mapping_for_a_channel_no_order_comes_from_is_refused(world):
    _hub, client, keys = world
    typo = client.put(_url(), json={"channel": "shopfy", "sku": "A-2", "item": "ITEM-A2"}, headers=_auth(keys))
    assert typo.status_code == 422 and "unknown channel 'shopfy'" in typo.json()["error"]["message"]
    every = client.put(_url(), json={"channel": "*", "sku": "A-2", "item": "ITEM-A2"}, headers=_auth(keys))
    assert every.status_code == 200
