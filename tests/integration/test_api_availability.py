"""`GET /api/v1/availability`: the number a channel may list and every step of how it was
computed, from the inventory flow's own results (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from crossdock import bootstrap
from crossdock.access import Role
from crossdock.api.app import create_app
from crossdock.configuration import SecretBox, load_text
from crossdock.flows.inventory import kinds
from crossdock.records import NewMessage
from crossdock.store import api_keys, users
from crossdock.store import messages as message_store
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from tests.integration.test_console import PASSWORD, sign_in

CONFIG = """
version: 1
tenants:
  - id: acme
    name: ACME Distribution
    connections:
      - {id: acme-shop, kind: http, config: {url: "http://127.0.0.1:9/shop"}}
    availability:
      channels:
        acme-shop:
          locations: [WH1, WH2]
          safety_stock: {units: 2}
          cap: 40
"""


@pytest.fixture
def api(settings):
    engine = make_engine(settings.database_url)
    box = SecretBox([Fernet.generate_key().decode()])
    apply_config(engine, load_text(CONFIG), "crossdock.yaml", CONFIG, "ops@test", box)
    engine.dispose()
    hub = bootstrap.build(settings)
    positions = [
        {"item": "SKU-1", "location": "WH1", "on_hand": "30", "allocated": "4", "unavailable": "1"},
        {"item": "SKU-1", "location": "WH2", "on_hand": "50"},
        {"item": "SKU-1", "location": "WH9", "on_hand": "500"},  # feeds no channel
    ]
    stock = NewMessage("acme", kinds.SNAPSHOT, "snap-1", {"source": "erp", "positions": positions})
    order = NewMessage(
        "acme",
        kinds.RESERVE,
        "res-1",
        {"order_ref": "shopify:1", "lines": [{"item": "SKU-1", "quantity": "3"}]},
        ordering_key="shopify:1",
    )
    hub.database.transaction(message_store.insert, [stock, order], time.time())
    asyncio.run(hub.worker().run_until_idle(timeout=30))
    key = hub.database.transaction(api_keys.create, "v", Role.TENANT_VIEWER, ["acme"], "test", time.time())
    with hub.engine.begin() as c:
        users.create_user(
            c, "vic", users.hash_password(PASSWORD), Role.TENANT_VIEWER, ["acme"], "t", time.time()
        )
    client = TestClient(
        create_app(hub, run_workers=False), headers={"Authorization": f"Bearer {key.plaintext}"}
    )
    yield client
    hub.close()


def test_availability_answers_the_number_and_how_it_was_computed(api):
    response = api.get("/api/v1/availability", params={"item": "SKU-1", "channel": "acme-shop"})
    assert response.status_code == 200, response.text
    [view] = response.json()["channels"]
    steps = {s["step"]: s for s in view["explanation"]}
    assert steps["on_hand"]["value"] == "80"  # WH1 + WH2; WH9 feeds no channel
    assert steps["allocated"]["value"] == "-4"
    assert steps["reserved"]["value"] == "-3"
    assert steps["unavailable"]["value"] == "-1"
    assert steps["safety_stock"]["value"] == "-2"
    assert steps["cap"]["rule"] == "at most 40"
    assert view["quantity"] == "40" == view["explanation"][-1]["total"]
    assert view["reserved_by"] == [{"order_ref": "shopify:1", "quantity": "3"}]
    assert {p["location"] for p in view["positions"]} == {"WH1", "WH2", "WH9"}


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"item": "NOPE", "channel": "acme-shop"}, 404),
        ({"item": "SKU-1", "channel": "globex-shop"}, 404),
        ({"item": "SKU-1", "tenant": "globex"}, 404),
        ({"channel": "acme-shop"}, 422),
        ({"item": ""}, 422),
    ],
)
def test_unknown_or_invalid_questions_get_a_clear_4xx(api, params, status):
    response = api.get("/api/v1/availability", params=params)
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) == {"code", "message", "hint"}


def test_the_console_explains_an_item_as_a_waterfall(api):
    assert sign_in(api, "vic").status_code == 303
    listing = api.get("/console/tenants/acme/availability")
    assert listing.status_code == 200 and "?item=SKU-1" in listing.text
    page = api.get("/console/tenants/acme/availability", params={"item": "SKU-1"})
    assert page.status_code == 200
    assert "acme-shop: <strong>40</strong> may be listed" in page.text
    assert page.text.count('class="wf-bar') == 6  # on hand, allocated, reserved, unavailable, safety, cap
    assert "shopify:1" in page.text  # the order holding units
    assert api.get("/console/tenants/globex/availability").status_code == 404
