"""Inventory flow end to end on SQLite and PostgreSQL: stock snapshots and adjustments,
reservations from the order flow, availability per channel, and what goes to publishing."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from crossdock import bootstrap
from crossdock.configuration import SecretBox, load_text
from crossdock.flows.inventory import kinds, reservation_messages
from crossdock.records import NewMessage, Status
from crossdock.store import channel_availability, reservations
from crossdock.store import inventory as store
from crossdock.store import messages as message_store
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from crossdock.store.tables import exceptions, messages, publish_queue
from tests.support.clock import FakeClock

CONFIG = """
version: 1
tenants:
  - id: acme
    name: ACME Distribution
    connections:
      - {id: acme-erp, kind: http, config: {url: "http://127.0.0.1:9/erp"}}
      - {id: acme-shop, kind: http, config: {url: "http://127.0.0.1:9/shop"}}
      - {id: acme-amz, kind: http, config: {url: "http://127.0.0.1:9/amz"}}
    availability:
      channels:
        acme-shop:
          locations: [WH1]
          safety_stock: {units: 2}
          dampen_increase_seconds: 300
        acme-amz:
          locations: [WH1, WH2]
          share_percent: 50
"""
ORDER = "shopify:1001"


@pytest.fixture
def hub(settings):
    engine = make_engine(settings.database_url)
    apply_config(
        engine,
        load_text(CONFIG),
        "crossdock.yaml",
        CONFIG,
        "ops@test",
        SecretBox([Fernet.generate_key().decode()]),
    )
    engine.dispose()
    clock = FakeClock(1_800_000_000.0)

    def order_flow(registry):
        @registry.handler("test.order")
        async def order_step(msg, ctx):  # what the order flow does at capture, cancel, ship
            p = ctx.payload
            for kind, payload, key in reservation_messages(p["order_ref"], p.get("lines"), p["action"]):
                ctx.emit(kind, payload, ordering_key=key)

    h = bootstrap.build(settings, hooks=[order_flow], clock=clock)
    h.fake_clock = clock
    h.outbox_seen, h.outbox_log = set(), []
    yield h
    h.close()


def run(hub) -> None:
    asyncio.run(hub.worker().run_until_idle(timeout=30))
    _note_outbox(hub)


def _note_outbox(hub) -> None:
    """Log every value that joined a channel's outbox since the last look (the test's
    connections have no publisher, so values stay queued until a newer one replaces them)."""
    q = publish_queue.c
    with hub.engine.connect() as c:
        rows = c.execute(
            select(q.connection_id, q.item_code, q.quantity, q.urgency, q.seq).order_by(
                q.seq, q.connection_id
            )
        )
        for connection_id, item, quantity, urgency, seq in rows:
            if (connection_id, item, seq) not in hub.outbox_seen:
                hub.outbox_seen.add((connection_id, item, seq))
                hub.outbox_log.append((connection_id, quantity, urgency))


def deliver(hub, kind: str, key: str, body: dict) -> None:
    """As intake would: one message, then the worker until nothing is due."""
    new = NewMessage("acme", kind, key, body, connection_id="acme-erp", correlation_id=key)
    hub.database.transaction(message_store.insert, [new], hub.clock())
    run(hub)


def order(hub, action: str, key: str, lines=None) -> None:
    deliver(hub, "test.order", key, {"order_ref": ORDER, "action": action, "lines": lines})


def snapshot(hub, key: str, wh1: int, wh2: int) -> None:
    positions = [
        {"item": "SKU-1", "location": "WH1", "on_hand": wh1, "allocated": "0", "unavailable": 0},
        {"item": "SKU-1", "location": "WH2", "on_hand": str(wh2)},
    ]
    deliver(hub, kinds.SNAPSHOT, key, {"source": "erp", "positions": positions})


def published(hub) -> list[tuple[str, str, str]]:
    """(connection, quantity, urgency) of every value handed to publishing, oldest first."""
    return list(hub.outbox_log)


def channel(hub, connection_id: str) -> channel_availability.ChannelAvailabilityRecord:
    with hub.engine.connect() as c:
        rec = channel_availability.get_channel_availability(c, "acme", connection_id, "SKU-1")
    assert rec is not None
    return rec


def test_snapshot_sets_positions_and_computes_availability_per_channel(hub):
    snapshot(hub, "snap-1", wh1=20, wh2=10)
    with hub.engine.connect() as c:
        positions = store.read_positions(c, "acme", ["SKU-1"])
    assert [(p.location, p.on_hand) for p in positions] == [("WH1", 20), ("WH2", 10)]
    assert channel(hub, "acme-shop").computed == 18  # WH1 only, 2 kept back
    assert channel(hub, "acme-amz").computed == 15  # both locations, half of them
    assert sorted(published(hub)) == [("acme-amz", "15", "decrease"), ("acme-shop", "18", "decrease")]


def test_same_snapshot_again_publishes_nothing(hub):
    snapshot(hub, "snap-1", wh1=20, wh2=10)
    snapshot(hub, "snap-2", wh1=20, wh2=10)
    assert len(published(hub)) == 2
    assert channel(hub, "acme-shop").published == 18


def test_reservation_lowers_availability_at_once_and_release_raises_it_dampened(hub):
    snapshot(hub, "snap-1", wh1=20, wh2=10)
    order(hub, "reserve", "o-1", [["SKU-1", 3]])
    assert sorted(published(hub)[2:]) == [("acme-amz", "13", "decrease"), ("acme-shop", "15", "decrease")]

    order(hub, "release", "o-2")  # cancelled: the whole order
    shop = channel(hub, "acme-shop")
    assert (shop.computed, shop.published, shop.pending_since) == (18, 15, hub.fake_clock.now)
    # No dampening on that channel. The outbox ranks a value against what the channel
    # shows; these channels never confirmed a figure, so every value ranks as a first listing.
    assert published(hub)[4:] == [("acme-amz", "15", "decrease")]

    hub.fake_clock.advance(301)
    run(hub)  # the held increase comes due
    assert published(hub)[5:] == [("acme-shop", "18", "decrease")]
    shop = channel(hub, "acme-shop")
    assert (shop.published, shop.pending_since) == (18, None)


def test_a_flapping_reservation_never_raises_the_listing(hub):
    snapshot(hub, "snap-1", wh1=20, wh2=10)
    order(hub, "reserve", "o-1", [["SKU-1", 3]])
    order(hub, "release", "o-2")
    order(hub, "reserve", "o-3", [["SKU-1", 3]])  # back before the increase was due
    hub.fake_clock.advance(301)
    run(hub)
    shop = [p for p in published(hub) if p[0] == "acme-shop"]
    assert shop == [("acme-shop", "18", "decrease"), ("acme-shop", "15", "decrease")]


def test_converted_and_consumed_reservations_stop_counting(hub):
    snapshot(hub, "snap-1", wh1=20, wh2=10)
    order(hub, "reserve", "o-1", [["SKU-1", 3], ["SKU-2", 1]])
    order(hub, "convert", "o-2", [["SKU-1", 1]])
    with hub.engine.connect() as c:
        held = {r.item: (r.quantity, r.converted, r.held) for r in reservations.read_reservations(c, "acme", ORDER)}
        assert reservations.reserved_totals(c, "acme", ["SKU-1", "SKU-2"]) == {"SKU-1": 2, "SKU-2": 1}
    assert held == {"SKU-1": (3, 1, 2), "SKU-2": (1, 0, 1)}  # wanted, converted, held by the order
    order(hub, "consume", "o-3")
    with hub.engine.connect() as c:
        assert reservations.reserved_totals(c, "acme", ["SKU-1", "SKU-2"]) == {}
    assert channel(hub, "acme-amz").computed == 15


def test_adjustments_add_to_positions(hub):
    snapshot(hub, "snap-1", wh1=20, wh2=10)
    adjustments = [
        {"item": "SKU-1", "location": "WH1", "on_hand": -5, "unavailable": "1"},
        {"item": "SKU-1", "location": "WH3", "on_hand": 4},  # a location not seen before
    ]
    deliver(hub, kinds.ADJUSTED, "adj-1", {"source": "wms", "adjustments": adjustments})
    with hub.engine.connect() as c:
        positions = {
            p.location: (p.on_hand, p.unavailable) for p in store.read_positions(c, "acme", ["SKU-1"])
        }
    assert positions == {"WH1": (15, 1), "WH2": (10, 0), "WH3": (4, 0)}
    assert channel(hub, "acme-shop").computed == 12  # 15 − 1 − 2


def test_the_explanation_is_stored_and_readable(hub):
    snapshot(hub, "snap-1", wh1=20, wh2=10)
    order(hub, "reserve", "o-1", [["SKU-1", "3"]])
    explained = channel(hub, "acme-amz").availability
    steps = [(s.name.value, s.value, s.total) for s in explained.explanation]
    assert steps == [
        ("on_hand", 30, 30),
        ("allocated", 0, 30),
        ("reserved", -3, 27),
        ("unavailable", 0, 27),
        ("share", Decimal("-13.5"), Decimal("13.5")),
        ("round_down", Decimal("-0.5"), 13),
    ]
    assert explained.quantity == 13


@pytest.mark.parametrize("on_hand", ["ten", "1e30", "-1e12", "0.0000000000001"])
def test_malformed_stock_feed_becomes_an_exception(hub, on_hand):
    deliver(
        hub, kinds.SNAPSHOT, "bad-1", {"positions": [{"item": "SKU-1", "location": "WH1", "on_hand": on_hand}]}
    )
    with hub.engine.connect() as c:
        status = c.execute(select(messages.c.status).where(messages.c.kind == kinds.SNAPSHOT)).scalar_one()
        category, summary = c.execute(select(exceptions.c.category, exceptions.c.summary)).one()
    assert (status, category) == (Status.PARKED.value, "validation.inventory_payload")
    assert on_hand in summary  # names the value
