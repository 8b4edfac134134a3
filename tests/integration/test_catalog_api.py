"""The catalog's operator surface on SQLite and PostgreSQL: the `catalog:` section validated and
applied (with its scheduled pull), `crossdock catalog sync`, and an item's listing status per
channel over the REST API."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from crossdock import bootstrap
from crossdock.access import Role
from crossdock.api.app import create_app
from crossdock.cli import app as cli_app
from crossdock.configuration import ConfigErrors, SecretBox, load_text
from crossdock.store import api_keys
from crossdock.store import catalog as store
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from crossdock.store.schedules import get_schedule
from crossdock.store.tables import messages
from tests.support.tenants import ensure_tenants

CONNECTIONS = """
    connections:
      - {id: acme-erp, kind: erp-rest, config: {base_url: "http://127.0.0.1:9/erp", api_key: k}}
      - {id: acme-shop, kind: shopify, config: {shop_domain: a.myshopify.com, access_token: t, webhook_secret: s}}
      - {id: acme-amz, kind: amazon, config: {endpoint: "http://127.0.0.1:9/amazon", client_id: c,
          client_secret: s, refresh_token: r, marketplace_ids: [ATVPDKIKX0DER], seller_id: S}}
"""


def config(catalog: str) -> str:
    return f"version: 1\ntenants:\n  - id: acme\n    name: ACME\n{CONNECTIONS}    catalog:\n{catalog}"


CATALOG = """      source: acme-erp
      sync_interval_seconds: 3600
      channels:
        acme-shop: {attributes: {vendor: {value: House}, metafields.custom.size: size}}
        acme-amz: {product_type: HOME, required: [product_description]}
"""


def _apply(settings, text: str) -> None:
    engine = make_engine(settings.database_url)
    apply_config(engine, load_text(text, "t.yaml"), "t.yaml", text, "test", SecretBox.from_settings(settings))
    engine.dispose()


@pytest.fixture
def hub(settings):
    _apply(settings, config(CATALOG))
    h = bootstrap.build(settings)
    yield h
    h.close()


def test_the_section_is_checked_against_the_tenants_connections():
    with pytest.raises(ConfigErrors) as raised:
        load_text(
            config("      source: acme-shop\n      channels:\n        acme-erp: {}\n        nope: {}\n")
        )
    text = str(raised.value)
    assert (
        "cannot supply the item master" in text and "has no catalog" in text and "unknown connection" in text
    )
    with pytest.raises(ConfigErrors, match="Shopify has no such product field"):
        load_text(config("      channels:\n        acme-shop: {attributes: {item_name: title}}\n"))
    with pytest.raises(ConfigErrors, match="needs a source"):
        load_text(config("      sync_interval_seconds: 600\n"))


def test_apply_schedules_the_pull_and_the_cli_queues_one_now(hub, settings):
    with hub.engine.connect() as c:
        schedule = get_schedule(c, "acme", store.SYNC_SCHEDULE)
    assert schedule is not None and schedule.kind == "catalog.sync" and schedule.enabled
    assert json.loads(schedule.payload) == {"connection_id": "acme-erp"}

    env = {"CROSSDOCK_DATABASE_URL": settings.database_url, "COLUMNS": "200"}
    result = CliRunner().invoke(cli_app, ["catalog", "sync", "--tenant", "acme", "--json"], env=env)
    assert result.exit_code == 0, result.output
    message_id = json.loads(result.output)["message_id"]
    with hub.engine.connect() as c:
        row = c.execute(select(messages).where(messages.c.id == message_id)).one()
    assert (row.kind, row.ordering_key, json.loads(row.payload)) == (
        "catalog.sync",
        "sync/acme-erp",
        {"connection_id": "acme-erp"},
    )
    refused = CliRunner().invoke(
        cli_app, ["catalog", "sync", "--tenant", "acme", "--connection", "nope"], env=env
    )
    assert refused.exit_code == 1 and "no connection 'nope'" in refused.output

    _apply(settings, config("      channels: {}\n"))  # no source, no interval: the pull stops
    with hub.engine.connect() as c:
        assert not get_schedule(c, "acme", store.SYNC_SCHEDULE).enabled


def test_an_items_listing_status_per_channel(hub):
    now = time.time()
    record = {"code": "CD-1", "title": "Hinge"}

    def seed(c):
        store.save_items(c, "acme", [("CD-1", json.dumps(record), "d0")], "acme-erp", now)
        store.put_listing(c, "acme", "acme-shop", "CD-1", expect=None, now=now, sku="CD-1", status="published",
                          digest="d1", published_digest="d1", published_at=now, channel_ref="gid://shopify/Product/1")  # fmt: skip
        why = {"category": "catalog.attribute_missing", "detail": "brand missing", "missing": ["brand"]}
        store.put_listing(c, "acme", "acme-amz", "CD-1", expect=None, now=now, sku="CD-1", status="blocked",
                          digest="d2", detail=json.dumps(why))  # fmt: skip

    hub.database.transaction(seed)
    ensure_tenants(hub.engine, "acme", "globex")
    key = hub.database.transaction(
        api_keys.create, "viewer", Role.TENANT_VIEWER, ["acme"], "t", now
    ).plaintext
    other = hub.database.transaction(
        api_keys.create, "other", Role.TENANT_VIEWER, ["globex"], "t", now
    ).plaintext
    client = TestClient(create_app(hub, run_workers=False))
    answer = client.get("/api/v1/tenants/acme/catalog/items/CD-1", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["record"] == record and body["source"] == "acme-erp"
    amz, shop = body["channels"]
    assert (shop["connection_id"], shop["status"], shop["current"]) == ("acme-shop", "published", True)
    assert (amz["status"], amz["current"], amz["problem"]["missing"]) == ("blocked", False, ["brand"])
    for url, who in (
        ("/api/v1/tenants/acme/catalog/items/NOPE", key),
        ("/api/v1/tenants/acme/catalog/items/CD-1", other),
    ):
        assert client.get(url, headers={"Authorization": f"Bearer {who}"}).status_code == 404
