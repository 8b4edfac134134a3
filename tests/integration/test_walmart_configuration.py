"""A Walmart connection in `crossdock apply`: validated, its secret sealed, its orders polled."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from crossdock.configuration import SecretBox, load_text
from crossdock.store import schedules
from crossdock.store.configuration import apply_config, load_connection
from crossdock.store.db import make_engine

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "sandbox.yaml").read_text()


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def apply(engine, text: str) -> SecretBox:
    box = SecretBox([Fernet.generate_key().decode()])
    apply_config(engine, load_text(text, "sandbox.yaml"), "sandbox.yaml", text, "ops@test", box)
    return box


def test_the_examples_walmart_connection_is_polled_and_its_secret_sealed(engine):
    box = apply(engine, EXAMPLE)
    with engine.begin() as conn:
        schedule = schedules.get_schedule(conn, "northwind", "poll:walmart")
    assert schedule is not None and schedule.enabled and schedule.kind == "order.poll"
    assert schedule.interval_seconds == 1.0
    stored = load_connection(engine, "walmart")
    assert stored.kind == "walmart" and stored.config.rate_limit("acknowledgeOrders").per_minute == 6000
    assert stored.config.client_secret.startswith("enc:")  # sealed at rest
    assert box.open(stored.config.client_secret) == "walmart-sandbox-secret"


def test_a_walmart_connection_that_only_publishes_is_not_polled(engine):
    apply(engine, EXAMPLE.replace("      poll_interval_seconds: 1\n      poll_overlap_seconds: 10\n      timeout_seconds: 5\n"
                                  "      rate_limits:\n        getAllOrders:",
                                  "      poll_orders: false\n      timeout_seconds: 5\n      rate_limits:\n"
                                  "        getAllOrders:", 1))  # fmt: skip
    with engine.begin() as conn:
        assert not schedules.get_schedule(conn, "northwind", "poll:walmart").enabled
        assert schedules.get_schedule(conn, "northwind", "poll:amazon").enabled
