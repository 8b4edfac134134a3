"""`ErpFulfilment`: an ERP that runs the warehouse itself reports its shipments.

Some distributors let the ERP create the customer shipment when a sale is confirmed
(Tryton's `stock.shipment.out`) and have warehouse staff complete it there; no WMS is
involved. The order flow asks such an ERP for a sale's shipments and confirms the done
ones to the channel (`order.erp.watch`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

DONE = "done"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class ErpShipment:
    """One customer shipment of a sales order, in the ERP's items and units."""

    reference: str  # the ERP's shipment number (stable, unique per ERP)
    state: str  # "done" once it left the warehouse; "waiting", "assigned", "cancelled", ...
    carrier: str | None
    tracking_number: str | None
    lines: tuple[tuple[str, Decimal], ...]  # (item code, quantity)
    shipped_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.state == DONE


@runtime_checkable
class ErpFulfilment(Protocol):
    async def shipments_of(self, sales_order_id: str) -> list[ErpShipment]:
        """Every customer shipment of the sales order (`ErpSalesOrder.id`), oldest first."""
        ...
