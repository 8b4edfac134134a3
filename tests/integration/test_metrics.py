"""`/metrics` over HTTP on a real database: worker instruments and the figures read from the database."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from crossdock import bootstrap
from crossdock.api.app import create_app
from crossdock.errors import PermanentError
from crossdock.records import NewMessage
from crossdock.store import messages as store
from crossdock.store.counters import bump_counter
from crossdock.store.tables import channel_availability, tenants


def _hooks(registry):
    @registry.handler("metrics.ok")
    async def ok(msg, ctx):
        return None

    @registry.handler("metrics.bad")
    async def bad(msg, ctx):
        raise PermanentError("mapping.sku_unknown", "SKU NOPE is not mapped", "Map it.")


@pytest.fixture
def hub(settings):
    h = bootstrap.build(settings, hooks=[_hooks])
    now = time.time()
    with h.engine.begin() as c:
        c.execute(insert(tenants).values(id="acme", name="ACME", settings="{}", created_at=now, updated_at=now))
        c.execute(
            insert(channel_availability).values(
                tenant_id="acme",
                connection_id="shop-1",
                item_code="SKU-1",
                computed="7",
                computed_at=now - 120,
                explanation="{}",
                published="5",
                published_at=now - 600,
            )
        )
    yield h
    h.close()


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _scrape(client) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def test_metrics_show_worker_outcomes_and_database_figures(hub):
    before_count = _sample("crossdock_handler_seconds_count", {"kind": "metrics.ok"})
    before_done = _sample("crossdock_messages_total", {"kind": "metrics.ok", "outcome": "done"})
    before_parked = _sample("crossdock_messages_total", {"kind": "metrics.bad", "outcome": "parked"})

    new = [NewMessage("acme", "metrics.ok", f"ok-{i}", json.dumps({"i": i})) for i in range(3)]
    new.append(NewMessage("acme", "metrics.bad", "bad-0", json.dumps({"i": 0})))
    hub.database.transaction(store.insert, new, time.time())
    asyncio.run(hub.worker().run_until_idle(timeout=20))
    # One READY message, due for 30 s: a backlog of one, and its age.
    hub.database.transaction(store.insert, [NewMessage("acme", "metrics.ok", "later", "{}")], time.time() - 30)

    with TestClient(create_app(hub, run_workers=False)) as client:
        got = _scrape(client)
        again = client.get("/metrics").text  # within the cache window: same snapshot, no new read

    stream = "metrics"  # records.stream_of("metrics.ok")
    assert got["crossdock_messages_open", (("status", "parked"), ("stream", stream), ("tenant", "acme"))] == 1
    assert got["crossdock_messages_open", (("status", "ready"), ("stream", stream), ("tenant", "acme"))] == 1
    assert got["crossdock_messages_open", (("status", "running"), ("stream", stream), ("tenant", "acme"))] == 0
    assert got["crossdock_oldest_ready_age_seconds", (("stream", stream), ("tenant", "acme"))] >= 0
    assert got["crossdock_exceptions_open", (("category", "mapping.sku_unknown"), ("tenant", "acme"))] == 1
    lag = got["crossdock_availability_lag_seconds", (("connection", "shop-1"), ("tenant", "acme"))]
    assert 100 < lag < 1000
    assert got["crossdock_metrics_db_errors", ()] == 0

    # Worker instruments (process-wide registry, so compared with their values before the run).
    assert got["crossdock_handler_seconds_count", (("kind", "metrics.ok"),)] == before_count + 3
    assert got["crossdock_messages_total", (("kind", "metrics.ok"), ("outcome", "done"))] == before_done + 3
    assert got["crossdock_messages_total", (("kind", "metrics.bad"), ("outcome", "parked"))] == before_parked + 1
    assert "crossdock_handler_seconds_bucket" in again


def test_sla_clock_is_exported(hub):
    from crossdock.store.tables import orders

    now = time.time()
    with hub.engine.begin() as c:
        c.execute(
            insert(orders).values(
                tenant_id="acme",
                order_ref="amazon:1",
                channel="amazon",
                channel_order_id="1",
                connection_id="amz",
                stage="validated",
                status="open",
                document="{}",
                version=1,
                created_at=now - 2 * 3600,
                updated_at=now - 2 * 3600,
            )
        )
    with TestClient(create_app(hub, run_workers=False)) as client:
        got = _scrape(client)
    key = (("channel", "amazon"), ("clock", "post"), ("tenant", "acme"))
    assert got["crossdock_sla_waiting", key] == 1
    assert got["crossdock_sla_overdue", key] == 1
    assert got["crossdock_sla_oldest_age_seconds", key] >= 2 * 3600 - 60


def test_durable_counters_are_exported_per_tenant_and_event(hub):
    with hub.engine.begin() as c:
        bump_counter(c, "acme", "stock.duplicate")
        bump_counter(c, "acme", "stock.duplicate", 2)
        bump_counter(c, "_system", "webhook.refused.connection.unknown")
    with TestClient(create_app(hub, run_workers=False)) as client:
        got = _scrape(client)
    assert got["crossdock_events_total", (("event", "stock.duplicate"), ("tenant", "acme"))] == 3
    assert got["crossdock_events_total", (("event", "webhook.refused.connection.unknown"), ("tenant", "_system"))] == 1
