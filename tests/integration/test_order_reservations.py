"""An order reserves its units within the free stock, in the transaction of its validation
step; two orders reserving the last units run one after the other (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet

from crossdock import bootstrap
from crossdock.configuration import SecretBox, load_text
from crossdock.domain.availability import Position, ReservationState, settle
from crossdock.errors import PermanentError
from crossdock.flows.inventory import kinds
from crossdock.records import NewMessage
from crossdock.store import inventory as store
from crossdock.store import messages as message_store
from crossdock.store import reservations
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine

T = "acme"


@pytest.fixture
def engine(settings):
    e = make_engine(settings.database_url)
    with e.begin() as c:
        store.apply_snapshot(
            c,
            T,
            [Position("SKU-1", "WH1", Decimal(8), Decimal(1)), Position("SKU-1", "WH2", Decimal(3))],
            "erp",
            1.0,
        )
    yield e
    e.dispose()


def reserve(engine, ref: str, qty: int, item: str = "SKU-1", within: bool = True) -> list[str]:
    with engine.begin() as c:
        return reservations.reserve_order(c, T, ref, [(item, Decimal(qty))], 2.0, within_stock=within)


def held(engine, ref: str) -> list[tuple[str, Decimal, ReservationState]]:
    with engine.connect() as c:
        return [(r.item, r.quantity, r.state) for r in reservations.read_reservations(c, T, ref)]


def test_orders_hold_only_the_free_stock(engine):
    assert reserve(engine, "o:1", 7) == ["SKU-1"]  # 8 − 1 + 3 = 10 free
    with pytest.raises(PermanentError) as err:
        reserve(engine, "o:2", 4)
    assert err.value.category == "business.insufficient_stock"
    assert "SKU-1: wants 4, 3 free" in err.value.detail
    assert held(engine, "o:2") == []  # nothing held by the refused order
    assert reserve(engine, "o:2", 3) == ["SKU-1"]
    assert reserve(engine, "o:1", 7) == []  # the same lines again change nothing
    assert reserve(engine, "o:1", 6) == ["SKU-1"]  # an order may shrink
    assert reserve(engine, "o:9", 5, item="UNTRACKED") == ["UNTRACKED"]  # no stock reported: no check
    assert reserve(engine, "o:3", 50, within=False) == ["SKU-1"]  # the tenant accepts orders beyond stock


def test_released_units_are_free_again(engine):
    reserve(engine, "o:1", 10)
    with pytest.raises(PermanentError):
        reserve(engine, "o:2", 1)
    with engine.begin() as c:
        reservations.save_reservations(
            c, T, settle(reservations.read_reservations(c, T, "o:1"), None, ReservationState.RELEASED), 3.0
        )
    assert reserve(engine, "o:2", 10) == ["SKU-1"]


def test_concurrent_orders_never_hold_more_than_the_stock(engine):
    def attempt(i: int) -> bool:
        try:
            reserve(engine, f"o:{i}", 1)
            return True
        except PermanentError:
            return False

    with ThreadPoolExecutor(8) as pool:
        accepted = sum(pool.map(attempt, range(40)))
    assert accepted == 10
    with engine.connect() as c:
        assert reservations.reserved_totals(c, T, ["SKU-1"]) == {"SKU-1": Decimal(10)}


CONFIG = """
version: 1
tenants:
  - id: acme
    name: ACME Distribution
    connections:
      - {id: acme-wms, kind: http, config: {url: "http://127.0.0.1:9/wms"}}
      - {id: acme-shop, kind: http, config: {url: "http://127.0.0.1:9/shop"}}
    availability:
      channels:
        acme-shop: {locations: [WH1]}
"""


def test_a_shipment_report_naming_the_order_ends_its_hold_with_the_stock_it_took(settings, engine):
    """The on-hand decrement and the end of the order's reservation commit together: in
    between, the shipped units are never free for another order."""
    apply_config(
        engine,
        load_text(CONFIG),
        "crossdock.yaml",
        CONFIG,
        "ops",
        SecretBox([Fernet.generate_key().decode()]),
    )
    reserve(engine, "o:1", 4)
    reserve(engine, "o:2", 6)  # 10 free: all held
    hub = bootstrap.build(settings)
    try:
        shipped = {
            "warehouse": "WH1",
            "reason": "shipment",
            "reference": "o:1@WH1-S1",
            "order_reference": "o:1",
            "adjustments": [{"item": "SKU-1", "location": "WH1", "on_hand": -3}],
        }
        msg = NewMessage(T, kinds.ADJUSTED, "ship-1", shipped, connection_id="acme-wms")
        hub.database.transaction(message_store.insert, [msg], time.time())
        asyncio.run(hub.worker().run_until_idle(timeout=30))
    finally:
        hub.close()
    assert held(engine, "o:1") == [("SKU-1", Decimal(1), ReservationState.RESERVED)]  # 1 still to ship
    with engine.connect() as c:
        on_hand = sum(p.on_hand for p in store.read_positions(c, T, ["SKU-1"]))
    assert on_hand == 8  # 11 − 3
    with pytest.raises(PermanentError):  # 8 − 1 allocated = 7 free, 1 + 6 held: nothing free
        reserve(engine, "o:3", 1)
