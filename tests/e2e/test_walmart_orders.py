"""Walmart orders, end to end: the real `crossdock serve` against the real `crossdock sandbox`.

Orders placed on the simulated Walmart seller are polled, acknowledged to Walmart before
the ERP step (Walmart wants it within 4 hours, an ERP outage must not hold it), posted to
the ERP once, released to the WMS, and each shipment, partial ones as they happen,
confirmed to Walmart with carrier and tracking, then invoiced. Every assertion reads
`/_sandbox/state`: what the outside world holds, not what the hub believes.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.support.o2c import O2C
from tests.support.o2c_ledger import Ledger

pytestmark = pytest.mark.slow

ORDERS = 12


async def test_walmart_orders_are_acknowledged_through_an_erp_outage_then_posted_once_shipped_and_confirmed(
    db_url, tmp_path
):
    async with O2C.start(db_url, tmp_path, walmart=True, partial_shipments=0.5) as o2c:
        # The ERP fails every request (503, no Retry-After) until the test ends the outage.
        await o2c.faults({"erp": {"errors": {"probability": 1.0, "status": 503}}})
        placed = [o["purchaseOrderId"] for o in await o2c.walmart_orders(ORDERS)]
        refs = {f"walmart:{po}" for po in placed}

        def acknowledged(state):
            orders = state["walmart"]["orders"]
            return [po for po in placed if not orders[po]["acknowledged_at"]] or True

        state = await o2c.wait_until(acknowledged, timeout=120, what="every Walmart order acknowledged")
        # Still in the outage: the hub asked the ERP and was refused, and the ERP holds none of them.
        assert state["faults"]["erp"]["injected"].get("errors", 0) > 0
        assert not refs & {so["external_reference"] for so in state["erp"]["sales_orders"].values()}
        assert {tuple(state["walmart"]["orders"][po]["statuses"]) for po in placed} == {("Acknowledged",)}

        await o2c.faults({"erp": {}})  # the ERP is back
        state = await o2c.wait_until(
            lambda s: Ledger(s).pending() or True, timeout=240, what="Walmart orders through to their invoices"
        )
        ledger = Ledger(state)
        assert ledger.problems() == []
        assert set(ledger.sales_orders) == refs and state["erp"]["duplicate_references"] == []
        walmart = state["walmart"]
        accepted = Counter(a["order_id"] for a in walmart["acknowledgements"] if a["status"] == 200)
        assert accepted == Counter(placed)  # each order acknowledged exactly once
        for po in placed:
            lines = walmart["orders"][po]["lines"]
            assert all(li["shipped"] == li["ordered"] for li in lines), (po, lines)
        updates = [u for u in walmart["shipments"] if u["status"] == 200]
        assert len(updates) == len(state["wms"]["shipments"]) > ORDERS  # partial shipments, each confirmed
        assert all(li["carrier"] == "UPS" and li["tracking_number"] for u in updates for li in u["lines"])
        assert o2c.exceptions() == []
        assert set(o2c.stages()) == {"closed"}
