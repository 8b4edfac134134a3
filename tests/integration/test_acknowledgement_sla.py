"""The acknowledgement SLA clock on a real database: orders a channel wants acknowledged
(Walmart: 4 hours from the order's time) and not yet acknowledged, in the console's
clocks and in `/metrics`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, update

from crossdock import bootstrap
from crossdock.api.app import create_app
from crossdock.store import console_sla
from crossdock.store.tables import orders, tenants

NOW = time.time()
HOUR = 3600.0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


# (order ref, stage, hours since it arrived, its document)
ORDERS = [
    # Placed 5 hours ago on Walmart, seen an hour ago (the poll was down): overdue all the same.
    ("walmart:1", "received", 1, {"placed_at": iso(NOW - 5 * HOUR), "acknowledged_at": None}),
    ("walmart:2", "validated", 3, {"placed_at": iso(NOW - 3 * HOUR)}),  # validated, not yet acknowledged
    ("walmart:3", "validated", 6, {"placed_at": iso(NOW - 6 * HOUR), "acknowledged_at": iso(NOW - 5 * HOUR)}),
    ("walmart:4", "received", 2, {}),  # no order time: its arrival counts
    ("walmart:5", "posted", 9, {"placed_at": iso(NOW - 9 * HOUR)}),  # posted: acknowledged before the ERP step
    ("amazon:6", "received", 9, {"placed_at": iso(NOW - 9 * HOUR)}),  # Amazon has no acknowledgement
]


@pytest.fixture
def hub(settings):
    h = bootstrap.build(settings)
    with h.engine.begin() as c:
        c.execute(insert(tenants).values(id="acme", name="ACME", settings="{}", created_at=NOW, updated_at=NOW))
        for ref, stage, hours, document in ORDERS:
            channel, oid = ref.split(":")
            c.execute(
                insert(orders).values(
                    tenant_id="acme", order_ref=ref, channel=channel, channel_order_id=oid, connection_id=channel,
                    stage=stage, status="open", document=json.dumps(document), version=1,
                    created_at=NOW - hours * HOUR, updated_at=NOW,
                )
            )  # fmt: skip
    yield h
    h.close()


def ack_clocks(hub) -> list[console_sla.Clock]:
    with hub.engine.connect() as conn:
        return [c for c in console_sla.clocks(conn, "acme", NOW) if c.name == "ack"]


def test_unacknowledged_orders_run_against_the_channels_deadline_from_the_order_time(hub):
    [clock] = ack_clocks(hub)
    assert (clock.channel, clock.deadline_minutes) == ("walmart", 240)
    assert (clock.waiting, clock.overdue) == (3, 1)  # walmart:1 (overdue), :2 and :4
    assert clock.oldest_at == pytest.approx(NOW - 5 * HOUR)


def test_a_tenants_own_deadline_replaces_walmarts(hub):
    with hub.engine.begin() as c:
        c.execute(update(tenants).values(settings=json.dumps({"sla": {"walmart": {"ack_minutes": 360}}})))
    [clock] = ack_clocks(hub)
    assert (clock.deadline_minutes, clock.waiting, clock.overdue) == (360, 3, 0)


def test_the_acknowledgement_clock_is_in_metrics(hub):
    with TestClient(create_app(hub, run_workers=False)) as client:
        text = client.get("/metrics").text
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    key = (("channel", "walmart"), ("clock", "ack"), ("tenant", "acme"))
    assert got["crossdock_sla_waiting", key] == 3
    assert got["crossdock_sla_overdue", key] == 1
    assert got["crossdock_sla_oldest_age_seconds", key] >= 5 * HOUR - 60
    assert ("crossdock_sla_waiting", (("channel", "amazon"), ("clock", "ack"), ("tenant", "acme"))) not in got
