"""A tenant's `availability:` section: how each channel connection lists stock.

    availability:
      channels:
        shopify-main:                   # a connection id of the tenant
          locations: [WH1, WH2]         # empty or absent: every location
          safety_stock: {units: 2, percent: 10, items: {SKU-1: 5}}
          share_percent: 60             # or contract_units: 20 (not both)
          cap: 50
          zero_below: 3                 # list 0 when fewer remain
          low_stock: 5                  # a decrease to 5 or fewer is urgent (default: zero_below)
          inbound_horizon_days: 7       # absent: inbound stock never counts
          dampen_increase_seconds: 300  # hold increases this long (not from 0)
          publishing: {linger_seconds: 30}   # batching and reconciliation (configuration.publishing)
      accept_orders_beyond_stock: false # default: an order beyond free stock waits (exception)
      reservations_end: stock_report   # or shipment (see AvailabilitySection)
      reservations_convert: stock_report  # or erp_order (see AvailabilitySection)

Stored as the tenant's `availability` rule document (`store.mappings.RULES`).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from crossdock.configuration.publishing import PublishingSettings
from crossdock.domain.availability_rules import ChannelRule, SafetyStock

Name = Annotated[str, Field(min_length=1, max_length=100)]
ConnectionId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
Units = Annotated[Decimal, Field(ge=0)]


def _whole(value: Decimal) -> Decimal:
    if value != value.to_integral_value():
        raise ValueError("a channel lists whole units: give a whole number")
    return value.quantize(Decimal(1))


# A cap or threshold on what a channel lists (whole units): a cap of 2.5 published 2.5 units.
WholeUnits = Annotated[Decimal, Field(ge=0), AfterValidator(_whole)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SafetyStockEntry(Strict):
    units: Units = Decimal(0)
    percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    items: dict[Name, Units] = Field(default_factory=dict)  # per item: exactly this many

    def to_domain(self) -> SafetyStock:
        return SafetyStock(self.units, self.percent, self.items)


class ChannelAvailability(Strict):
    locations: list[Name] = Field(default_factory=list)
    safety_stock: SafetyStockEntry = Field(default_factory=SafetyStockEntry)
    share_percent: Decimal | None = Field(default=None, gt=0, le=100)
    contract_units: Units | None = None
    cap: WholeUnits | None = None
    zero_below: WholeUnits | None = None
    low_stock: WholeUnits | None = None
    inbound_horizon_days: int | None = Field(default=None, ge=0, le=366)
    dampen_increase_seconds: float = Field(default=0.0, ge=0, le=7 * 24 * 3600)
    publishing: PublishingSettings = Field(default_factory=PublishingSettings)

    @model_validator(mode="after")
    def _one_allocation(self) -> ChannelAvailability:
        if self.share_percent is not None and self.contract_units is not None:
            raise ValueError("give share_percent or contract_units, not both")
        return self

    def to_domain(self, connection_id: str) -> ChannelRule:
        return ChannelRule(
            connection_id,
            frozenset(self.locations),
            self.safety_stock.to_domain(),
            self.share_percent,
            self.contract_units,
            self.cap,
            self.zero_below,
            self.inbound_horizon_days,
            self.dampen_increase_seconds,
            self.low_stock,
        )


class AvailabilitySection(Strict):
    channels: dict[ConnectionId, ChannelAvailability] = Field(default_factory=dict)
    # A captured order reserves its units at validation. By default an order the free stock
    # cannot cover waits as `business.insufficient_stock` instead of reaching the ERP, so
    # no unit is sold twice; true lets it through (the ERP backorders it).
    accept_orders_beyond_stock: bool = False
    # When a shipped order stops holding its units. `stock_report`: when the stock source's
    # shipment adjustment names the order (`order_reference`, as the generic REST WMS sends
    # it), in the same transaction as the on-hand decrement, so the units are never counted
    # free in between. `shipment`: when the warehouse reports the shipment to the order flow,
    # for stock sources that cannot name orders (the units count as free until their stock
    # report arrives).
    reservations_end: Literal["stock_report", "shipment"] = "stock_report"
    # When an order's units stop being its reservation because the stock source counts them
    # as allocated. `stock_report`: when an allocation entry names the order (an
    # `inventory.adjusted` with `order_reference` and a positive `allocated`, as the generic
    # REST WMS sends when it takes a release), in the same transaction as the allocation.
    # `erp_order`: as soon as the ERP accepts the sales order, for ERPs that allocate on entry
    # and report only totals (until their next snapshot counts them, the units count as free).
    # Without either, a source whose `allocated` counts the hub's orders counts them twice.
    reservations_convert: Literal["stock_report", "erp_order"] = "stock_report"

    def to_domain(self) -> tuple[ChannelRule, ...]:
        return tuple(entry.to_domain(cid) for cid, entry in sorted(self.channels.items()))


def cross_check(section: AvailabilitySection, connection_ids: set[str]) -> Iterator[tuple[tuple, str]]:
    """Yield (field path relative to the tenant, message): channels must be the tenant's connections."""
    for cid in section.channels:
        if cid not in connection_ids:
            yield ("availability", "channels", cid), f"unknown connection {cid!r}"
