"""A WMS's stock events as webhook intake stores them (`{"topic", "webhook_id", "event"}`)
set and move the tenant's stock positions, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import orjson
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from crossdock import bootstrap
from crossdock.api.hooks import _payload
from crossdock.configuration import SecretBox, load_text
from crossdock.records import NewMessage, Status
from crossdock.store import inventory as store
from crossdock.store import messages as message_store
from crossdock.store import reservations
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from crossdock.store.tables import counters, exceptions, inventory_journal, inventory_positions, messages
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


# -- stock ledger sequences -------------------------------------------------------------------


def stock(kind: str, sequence, entries: list[dict], **extra) -> dict:
    field = "positions" if kind == "inventory.snapshot" else "adjustments"
    data = {"warehouse": "MAIN", field: entries, **extra}
    if sequence is not None:
        data["sequence"] = sequence
    return {"type": kind, "data": data}


def snap(sequence, on_hand: int, item: str = "CD-1001") -> dict:
    return stock("inventory.snapshot", sequence, [{"item": item, "location": "MAIN", "on_hand": on_hand}])


def moved(sequence, delta: int, item: str = "CD-1001", **extra) -> dict:
    return stock(
        "inventory.adjusted", sequence, [{"item": item, "location": "MAIN", "on_hand": delta}], **extra
    )


def on_hand(hub, item: str = "CD-1001"):
    with hub.engine.connect() as c:
        return {p.location: p.on_hand for p in store.read_positions(c, "acme", [item])}.get("MAIN")


def stock_counters(hub) -> dict[str, int]:
    with hub.engine.connect() as c:
        rows = c.execute(select(counters.c.name, counters.c.value).where(counters.c.name.like("stock.%")))
        return dict(rows.all())


def test_numbered_stock_events_end_right_whatever_order_they_arrive_in(hub):
    """The warehouse counted 40 at entry 10; #11 shipped 3, #12 received 24, #13 wrote 2 off."""
    deliver(hub, "m1", moved(12, 24))  # before the snapshot it is newer than
    deliver(hub, "m2", snap(11, 37))  # counts #11: rebased on #12
    deliver(hub, "m3", moved(11, -3))  # counted by the snapshot already
    deliver(hub, "m4", moved(12, 24))  # #12 sent again under another webhook id
    deliver(hub, "m5", snap(10, 40))  # older than what the position includes
    deliver(hub, "m6", moved(13, -2))
    assert on_hand(hub) == 37 + 24 - 2
    assert stock_counters(hub) == {
        "stock.rebased": 1,
        "stock.included": 1,
        "stock.duplicate": 1,
        "stock.superseded": 1,
    }
    with hub.engine.connect() as c:
        position = c.execute(
            select(inventory_positions.c.sequence, inventory_positions.c.sequence_source)
        ).one()
        journal = c.execute(
            select(inventory_journal.c.sequence).order_by(inventory_journal.c.sequence)
        ).scalars()
        assert (tuple(position), list(journal)) == ((11, "acme-wms"), [12, 13])  # #11 and older: pruned


def test_reports_without_a_sequence_keep_their_old_behaviour(hub):
    deliver(hub, "m1", moved(None, 24))
    deliver(hub, "m2", snap(None, 37))  # wipes the adjustment before it
    deliver(hub, "m3", moved(None, -3))
    deliver(hub, "m4", moved(None, -3))  # a second event of the same change counts twice
    assert on_hand(hub) == 31 and stock_counters(hub) == {}


def test_a_shipment_the_snapshot_counted_still_ends_the_orders_hold_once(hub):
    with hub.engine.begin() as c:
        reservations.reserve_order(c, "acme", "shopify:1", [("CD-1001", Decimal(6))], 1.0, within_stock=False)
    deliver(hub, "m1", snap(8, 16))  # counts the entries up to #8: the shipment #7 among them
    shipped = {"reason": "shipment", "order_reference": "shopify:1"}
    deliver(hub, "m2", moved(7, -2, **shipped))  # on hand: counted already; the hold ends
    deliver(hub, "m3", moved(9, -2, **shipped))
    deliver(hub, "m4", moved(9, -2, **shipped))  # sent again: the hold already ended for it
    with hub.engine.connect() as c:
        held = reservations.read_reservations(c, "acme", "shopify:1")
    assert on_hand(hub) == 14
    assert [(r.quantity, r.state.value) for r in held] == [(2, "reserved")]  # 6 held, 2 + 2 shipped


def held(hub) -> list[tuple[Decimal, str]]:
    """The order's rows: the units it holds itself (wanted, less what its source allocates to
    it) and the row's state."""
    with hub.engine.connect() as c:
        rows = reservations.read_reservations(c, "acme", "shopify:1")
    return [(r.held if r.state.value == "reserved" else r.quantity, r.state.value) for r in rows]


def test_a_shipment_counted_by_a_snapshot_and_delivered_again_ends_the_hold_once(hub):
    with hub.engine.begin() as c:
        reservations.reserve_order(c, "acme", "shopify:1", [("CD-1001", Decimal(6))], 1.0, within_stock=False)
    deliver(hub, "m1", snap(8, 16))  # counts the shipment #7
    shipped = {"reason": "shipment", "order_reference": "shopify:1"}
    deliver(hub, "m2", moved(7, -2, **shipped))  # included: the hold 6 -> 4
    deliver(hub, "m3", moved(7, -2, **shipped))  # the same entry under another webhook id
    assert on_hand(hub) == 16 and held(hub) == [(4, "reserved")]


def test_a_shipment_delivered_again_after_a_snapshot_pruned_its_journal_ends_the_hold_once(hub):
    with hub.engine.begin() as c:
        reservations.reserve_order(c, "acme", "shopify:1", [("CD-1001", Decimal(6))], 1.0, within_stock=False)
    deliver(hub, "m0", snap(6, 18))
    shipped = {"reason": "shipment", "order_reference": "shopify:1"}
    deliver(hub, "m1", moved(7, -2, **shipped))  # applied: 16 on hand, the hold 4
    deliver(hub, "m2", snap(8, 16))  # counts #7: its journal entry goes
    deliver(hub, "m3", moved(7, -2, **shipped))  # delivered again: included now
    assert on_hand(hub) == 16 and held(hub) == [(4, "reserved")]


def test_the_record_of_shipped_entries_goes_with_the_hold(hub):
    from crossdock.store.tables import reservation_shipments

    with hub.engine.begin() as c:
        reservations.reserve_order(c, "acme", "shopify:1", [("CD-1001", Decimal(4))], 1.0, within_stock=False)
    shipped = {"reason": "shipment", "order_reference": "shopify:1"}
    deliver(hub, "m0", snap(6, 18))
    deliver(hub, "m1", moved(7, -2, **shipped))
    with hub.engine.connect() as c:
        assert len(c.execute(select(reservation_shipments)).all()) == 1
    deliver(hub, "m2", moved(8, -2, **shipped))  # the last units held: the hold ends
    assert held(hub) == [(0, "consumed")]
    with hub.engine.connect() as c:
        assert c.execute(select(reservation_shipments)).all() == []


def test_the_record_of_shipped_entries_goes_when_the_order_is_cancelled(hub):
    from crossdock.domain.availability import ReservationState, settle
    from crossdock.store.tables import reservation_shipments

    with hub.engine.begin() as c:
        reservations.reserve_order(c, "acme", "shopify:1", [("CD-1001", Decimal(4))], 1.0, within_stock=False)
    deliver(hub, "m0", snap(6, 18))
    deliver(hub, "m1", moved(7, -2, reason="shipment", order_reference="shopify:1"))
    with hub.engine.begin() as c:
        assert len(c.execute(select(reservation_shipments)).all()) == 1
        released = settle(reservations.read_reservations(c, "acme", "shopify:1"), None, ReservationState.RELEASED)
        reservations.save_reservations(c, "acme", released, 2.0)
    assert held(hub) == [(0, "released")]
    with hub.engine.connect() as c:
        assert c.execute(select(reservation_shipments)).all() == []


@pytest.mark.parametrize("bad", [-1, 1.5, "12a", True, 2**63, [3]])
def test_a_malformed_sequence_parks_the_report(hub, bad):
    deliver(hub, "m1", moved(bad, 5))
    assert on_hand(hub) is None
    with hub.engine.connect() as c:
        status = c.execute(select(messages.c.status)).scalar_one()
        category = c.execute(select(exceptions.c.category)).scalar_one()
    assert (status, category) == (Status.PARKED.value, "validation.inventory_payload")


def test_an_entry_may_carry_its_own_sequence(hub):
    entries = [
        {"item": "CD-1001", "location": "MAIN", "on_hand": 40, "sequence": 10},
        {"item": "CD-1001", "location": "EAST", "on_hand": 7, "sequence": 3},
    ]
    deliver(hub, "m1", stock("inventory.snapshot", None, entries))
    deliver(
        hub, "m2", stock("inventory.adjusted", 10, [{"item": "CD-1001", "location": "MAIN", "on_hand": -1}])
    )
    deliver(
        hub, "m3", stock("inventory.adjusted", 4, [{"item": "CD-1001", "location": "EAST", "on_hand": -1}])
    )
    with hub.engine.connect() as c:
        held = {p.location: p.on_hand for p in store.read_positions(c, "acme", ["CD-1001"])}
    assert held == {"EAST": 6, "MAIN": 40}


def test_another_sources_numbers_start_the_positions_ledger_over(hub, caplog):
    caplog.set_level(logging.INFO, "crossdock.stock")
    deliver(hub, "m1", snap(10, 40))
    deliver(hub, "m2", moved(11, -3))
    deliver(hub, "m3", moved(11, 5, source="erp"))  # the ERP's #11 is not the WMS's
    deliver(hub, "m4", moved(11, 5, source="erp"))  # but the ERP's #11 again is
    assert on_hand(hub) == 42
    assert stock_counters(hub) == {"stock.restarted": 1, "stock.duplicate": 1}
    with hub.engine.connect() as c:
        journal = c.execute(select(inventory_journal.c.sequence, inventory_journal.c.on_hand)).all()
    assert [tuple(r) for r in journal] == [(11, "5")]
    logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "crossdock.stock"]
    assert [level for level, _ in logged] == [logging.WARNING, logging.INFO]
    assert "of erp, sequence 11: 1 restarted (e.g. CD-1001@MAIN, position at sequence 10)" in logged[0][1]


# -- reservations convert when the source allocates ------------------------------------------


def allocated(sequence, units: int, on_hand: int = 0, **extra) -> dict:
    entry = {"item": "CD-1001", "location": "MAIN", "on_hand": on_hand, "allocated": units}
    return stock("inventory.adjusted", sequence, [entry], **extra)


def free(hub) -> Decimal:
    """What another order could still take: on hand − allocated − unavailable − reserved."""
    with hub.engine.connect() as c:
        positions = store.read_positions(c, "acme", ["CD-1001"])
        reserved = reservations.reserved_totals(c, "acme", ["CD-1001"]).get("CD-1001", Decimal(0))
    return sum(p.on_hand - p.allocated - p.unavailable for p in positions) - reserved


ORDER = {"order_reference": "shopify:1"}


def test_an_allocation_naming_the_order_converts_its_hold_and_free_stock_stays_the_same(hub):
    hold(hub, 6)
    deliver(hub, "m0", snap(6, 20))
    assert free(hub) == 14
    deliver(hub, "m1", allocated(7, 6, reason="allocation", **ORDER))
    assert held(hub) == [(0, "reserved")] and free(hub) == 14  # counted once: as allocated now
    deliver(hub, "m2", allocated(8, -6, on_hand=-6, reason="shipment", **ORDER))
    assert held(hub) == [(0, "consumed")] and free(hub) == 14 and on_hand(hub) == 14


def test_a_shipment_takes_the_allocated_units_before_the_reservation(hub):
    """Of 5 ordered, the warehouse allocated 2 (3 waiting for stock): shipping those 2 leaves
    the 3 reserved; a later shipment of 3 beyond the allocation consumes them."""
    hold(hub, 5)
    deliver(hub, "m0", snap(6, 20))
    deliver(hub, "m1", allocated(7, 2, reason="allocation", **ORDER))
    assert held(hub) == [(3, "reserved")] and free(hub) == 15
    deliver(hub, "m2", allocated(8, -2, on_hand=-2, reason="shipment", **ORDER))
    assert held(hub) == [(3, "reserved")] and free(hub) == 15
    deliver(hub, "m3", allocated(9, 0, on_hand=-3, reason="shipment", **ORDER))
    assert held(hub) == [(0, "consumed")] and free(hub) == 15 and on_hand(hub) == 15


def test_an_allocation_delivered_again_or_counted_by_a_snapshot_converts_once(hub):
    hold(hub, 6)
    deliver(hub, "m0", snap(6, 20))
    deliver(hub, "m1", allocated(7, 2, reason="allocation", **ORDER))
    deliver(hub, "m2", allocated(7, 2, reason="allocation", **ORDER))  # the same entry, another webhook id
    assert held(hub) == [(4, "reserved")]
    positions = [{"item": "CD-1001", "location": "MAIN", "on_hand": 20, "allocated": 5}]
    deliver(hub, "m3", stock("inventory.snapshot", 8, positions))  # counts #7 and #8 (3 more)
    deliver(hub, "m4", allocated(8, 3, reason="allocation", **ORDER))  # included: still converts, once
    deliver(hub, "m5", allocated(8, 3, reason="allocation", **ORDER))
    assert held(hub) == [(1, "reserved")] and free(hub) == 14  # 20 − 5 allocated − 1 reserved


def test_a_snapshot_counting_the_orders_allocation_does_not_count_it_twice(hub):
    """Before conversion existed, an ERP or WMS snapshot whose `allocated` included the hub's
    order left its reservation open too: the units were taken twice and the next order
    parked as insufficient stock."""
    hold(hub, 6)
    deliver(hub, "m1", allocated(7, 6, reason="allocation", **ORDER))
    positions = [{"item": "CD-1001", "location": "MAIN", "on_hand": 10, "allocated": 6}]
    deliver(hub, "m2", stock("inventory.snapshot", 7, positions))
    assert free(hub) == 4
    hold(hub, 4, order="shopify:2")  # fits exactly: raised business.insufficient_stock before


def test_an_allocation_for_an_order_the_hub_does_not_hold_only_moves_the_position(hub):
    deliver(hub, "m0", snap(6, 20))
    deliver(hub, "m1", allocated(7, 4, reason="allocation", order_reference="edi:77"))
    assert free(hub) == 16 and held(hub) == []


def hold(hub, units: int, order: str = "shopify:1") -> None:
    with hub.engine.begin() as c:
        reservations.reserve_order(c, "acme", order, [("CD-1001", Decimal(units))], 1.0, within_stock=True)


def test_units_a_warehouse_takes_back_are_held_by_the_order_again_while_it_wants_them(hub):
    """An order split over two warehouses: MAIN allocated its 5, EAST waits for stock. MAIN
    short-picks 2 and the tenant backorders them: MAIN's deallocation gives them back to the
    order's own hold. Under the cancel policy the flow releases them instead, and EAST's 5
    stay held whatever order the two messages come in (found in review: the release took
    EAST's units while MAIN's allocation still counted the short ones, then both were free)."""
    two = [{"item": "CD-1001", "location": "MAIN", "on_hand": 20}, {"item": "CD-1001", "location": "EAST", "on_hand": 0}]
    deliver(hub, "m0", stock("inventory.snapshot", 6, two))
    hold(hub, 10)
    deliver(hub, "m1", allocated(7, 5, reason="allocation", **ORDER))
    assert held(hub) == [(5, "reserved")] and free(hub) == 10
    deliver(hub, "m2", allocated(8, -3, on_hand=-3, reason="shipment", **ORDER))  # 3 of MAIN's 5 ship
    deliver(hub, "m3", allocated(9, -2, reason="deallocation", **ORDER))  # the 2 short-picked
    assert held(hub) == [(7, "reserved")] and free(hub) == 10  # backordered: still wanted
    release(hub, 2)  # cancel policy: the order no longer wants them
    assert held(hub) == [(5, "reserved")] and free(hub) == 12  # 17 on hand, EAST's 5 held


def test_a_short_pick_released_before_the_warehouse_takes_the_units_back_ends_the_same(hub):
    two = [{"item": "CD-1001", "location": "MAIN", "on_hand": 20}, {"item": "CD-1001", "location": "EAST", "on_hand": 0}]
    deliver(hub, "m0", stock("inventory.snapshot", 6, two))
    hold(hub, 10)
    deliver(hub, "m1", allocated(7, 5, reason="allocation", **ORDER))
    release(hub, 2)  # MAIN's short pick, cancel policy; MAIN's allocation still holds the 2
    # Until MAIN says it takes them back, the hub cannot know MAIN had allocated them (a
    # warehouse that never allocates short units never deallocates them): 2 count free early.
    assert held(hub) == [(3, "reserved")] and free(hub) == 12
    deliver(hub, "m2", allocated(8, -3, on_hand=-3, reason="shipment", **ORDER))
    deliver(hub, "m3", allocated(9, -2, reason="deallocation", **ORDER))
    assert held(hub) == [(5, "reserved")] and free(hub) == 12


def test_lines_of_one_entry_for_one_position_count_together(hub):
    """Found in review: the second line of an entry was taken for a redelivery of the first."""
    hold(hub, 5)
    deliver(hub, "m0", snap(6, 20))
    lots = [{"item": "CD-1001", "location": "MAIN", "on_hand": 0, "allocated": q} for q in (3, 2)]
    deliver(hub, "m1", stock("inventory.adjusted", 7, lots, reason="allocation", **ORDER))
    assert held(hub) == [(0, "reserved")] and free(hub) == 15
    shipped = [{"item": "CD-1001", "location": "MAIN", "on_hand": -q, "allocated": -q} for q in (3, 2)]
    deliver(hub, "m2", stock("inventory.adjusted", 8, shipped, reason="shipment", **ORDER))
    assert held(hub) == [(0, "consumed")] and free(hub) == 15


def test_an_order_reference_no_order_can_have_moves_the_stock_and_nothing_else(hub):
    """Found in review: on PostgreSQL its record could not be written, and the warehouse's
    stock lane retried it forever."""
    deliver(hub, "m0", snap(6, 20))
    deliver(hub, "m1", moved(7, -4, reason="shipment", order_reference="x" * 400))
    assert on_hand(hub) == 16


def release(hub, units: int) -> None:
    """The order flow's `inventory.release` of a short pick (cancel policy)."""
    payload = {"order_ref": "shopify:1", "lines": [{"item": "CD-1001", "quantity": str(units)}]}
    new = NewMessage("acme", "inventory.release", f"release-{units}", payload, ordering_key="shopify:1")
    hub.database.transaction(message_store.insert, [new], hub.clock())
    asyncio.run(hub.worker().run_until_idle(timeout=30))


# Found in review: stock entries of one order delivered out of sequence (the positions ended
# right by their ledger, the hold did not), a release taking units the warehouse never
# allocated off what it allocates, an item listed again taking back a stale allocation.


def test_a_shipment_delivered_before_the_allocation_it_ships_from_ends_the_same(hub):
    hold(hub, 5)
    deliver(hub, "m0", snap(6, 20))
    deliver(hub, "m2", allocated(8, -4, on_hand=-4, reason="shipment", **ORDER))
    assert held(hub) == [(1, "reserved")] and free(hub) == 15  # never more free than there is
    deliver(hub, "m1", allocated(7, 4, reason="allocation", **ORDER))
    assert held(hub) == [(1, "reserved")] and free(hub) == 15


def test_a_backordered_deallocation_after_out_of_order_entries_is_held_again(hub):
    hold(hub, 5)
    deliver(hub, "m0", snap(6, 20))
    deliver(hub, "m2", allocated(8, -3, on_hand=-3, reason="shipment", **ORDER))
    deliver(hub, "m1", allocated(7, 5, reason="allocation", **ORDER))
    deliver(hub, "m3", allocated(9, -2, reason="deallocation", **ORDER))
    assert held(hub) == [(2, "reserved")] and free(hub) == 15  # 17 on hand, 2 still wanted


def test_a_short_pick_of_units_the_warehouse_never_allocated_is_not_counted_twice(hub):
    """The sandbox WMS allocates only what it will pick: 3 of 5."""
    hold(hub, 5)
    deliver(hub, "m0", snap(6, 20))
    deliver(hub, "m1", allocated(7, 3, reason="allocation", **ORDER))
    release(hub, 2)
    assert held(hub) == [(0, "reserved")] and free(hub) == 17


def test_a_short_pick_released_then_deallocated_is_counted_once(hub):
    hold(hub, 5)
    deliver(hub, "m0", snap(6, 20))
    deliver(hub, "m1", allocated(7, 5, reason="allocation", **ORDER))
    release(hub, 2)
    deliver(hub, "m2", allocated(8, -2, reason="deallocation", **ORDER))
    assert held(hub) == [(0, "reserved")] and free(hub) == 17  # 20 on hand, 3 allocated


def test_an_item_listed_again_after_its_deallocation_is_held_again(hub):
    hold(hub, 5)
    deliver(hub, "m0", snap(6, 20))
    deliver(hub, "m1", allocated(7, 5, reason="allocation", **ORDER))
    with hub.engine.begin() as c:
        reservations.reserve_order(c, "acme", "shopify:1", [], 1.0, within_stock=True)  # edited away
    deliver(hub, "m2", allocated(8, -5, reason="deallocation", **ORDER))
    hold(hub, 5)  # and back
    assert held(hub) == [(5, "reserved")] and free(hub) == 15


def test_where_holds_end_at_the_shipment_event_a_stock_report_does_not_end_them_again(hub):
    """`reservations_end: shipment`: the order flow takes shipped units off at the warehouse's
    shipment event; a source that also names the order took them off a second time."""
    from crossdock.configuration.availability import AvailabilitySection
    from crossdock.store.tables import tenant_rules

    with hub.engine.begin() as c:
        c.execute(tenant_rules.insert().values(tenant_id="acme", name=store.RULES_NAME, updated_at=0.0,
                  updated_by="test", value=AvailabilitySection(reservations_end="shipment").model_dump_json()))  # fmt: skip
    hold(hub, 5)
    deliver(hub, "m0", snap(6, 20))
    deliver(hub, "m1", allocated(7, 3, reason="allocation", **ORDER))
    deliver(hub, "m2", allocated(8, -3, on_hand=-3, reason="shipment", **ORDER))
    assert on_hand(hub) == 17 and held(hub) == [(5, "reserved")]  # the shipment event takes the 3 off
