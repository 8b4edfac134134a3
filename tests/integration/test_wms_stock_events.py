"""A WMS's stock events as webhook intake stores them (`{"topic", "webhook_id", "event"}`)
set and move the tenant's stock positions, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from cryptography.fernet import Fernet

from crossdock import bootstrap
from crossdock.api.hooks import _payload
from crossdock.configuration import SecretBox, load_text
from crossdock.records import NewMessage
from crossdock.store import inventory as store
from crossdock.store import messages as message_store
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from tests.support.clock import FakeClock

CONFIG = """
version: 1
tenants:
  - id: acme
    name: ACME Distribution
    connections:
      - {id: acme-wms, kind: http, config: {url: "http://127.0.0.1:9/wms"}}
"""


@pytest.fixture
def hub(settings):
    engine = make_engine(settings.database_url)
    box = SecretBox([Fernet.generate_key().decode()])
    apply_config(engine, load_text(CONFIG), "crossdock.yaml", CONFIG, "ops@test", box)
    engine.dispose()
    h = bootstrap.build(settings, clock=FakeClock(1_800_000_000.0))
    yield h
    h.close()


def deliver(hub, msg_id: str, event: dict) -> None:
    """As intake stores a verified WMS delivery, then the worker until nothing is due."""
    payload = _payload(event["type"], f"acme-wms:{msg_id}", orjson.dumps(event).decode())
    new = NewMessage(
        "acme", event["type"], f"acme-wms:{msg_id}", payload, connection_id="acme-wms",
        ordering_key="acme-wms:stock:MAIN", correlation_id="acme-wms:stock:MAIN",
    )  # fmt: skip
    hub.database.transaction(message_store.insert, [new], hub.clock())
    asyncio.run(hub.worker().run_until_idle(timeout=30))


def test_a_snapshot_then_adjustments_from_the_wms_move_positions(hub):
    positions = [{"item": "CD-1001", "location": "MAIN", "on_hand": 40}]
    deliver(hub, "m1", {"type": "inventory.snapshot", "data": {"warehouse": "MAIN", "positions": positions}})
    moves = [
        {"item": "CD-1001", "location": "MAIN", "on_hand": -3},
        {"item": "CD-1002", "location": "MAIN", "on_hand": 24},
    ]
    deliver(
        hub,
        "m2",
        {
            "type": "inventory.adjusted",
            "data": {"warehouse": "MAIN", "reason": "shipment", "adjustments": moves},
        },
    )
    with hub.engine.connect() as c:
        held = store.read_positions(c, "acme", ["CD-1001", "CD-1002"])
    assert [(p.item, p.location, p.on_hand) for p in held] == [
        ("CD-1001", "MAIN", 37),
        ("CD-1002", "MAIN", 24),
    ]
