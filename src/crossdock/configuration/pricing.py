"""A tenant's `pricing:` section: where base prices come from and how each channel prices.

    pricing:
      base_currency: USD                # the price list's currency
      source:                           # optional: read the ERP price list on a schedule
        connection: acme-erp            # an erp-rest connection of the tenant
        poll_seconds: 300
      exchange_rates: {EUR: "0.92"}     # 1 base_currency = 0.92 EUR
      channels:
        acme-shop:                      # a channel connection of the tenant (shopify, amazon)
          currency: USD
          markup_percent: 20
          rounding: {ending: "0.99", direction: up}   # up | down | nearest; no ending: cents
          map: {SKU-1: "24.99"}         # minimum advertised price per item, channel currency
          min_margin_percent: 15        # at least cost × 1.15
          approval_threshold_percent: 25  # a larger change waits for approval

Stored as the tenant's `pricing` rule document (`store.mappings.RULES`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crossdock.domain.money import KNOWN_CURRENCIES, MINOR_UNITS
from crossdock.domain.pricing import BasePrice, ChannelPriceRule, Direction, PriceEntry, Rounding

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]  # no control characters
ConnectionId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
# Prices below a trillion with at most 6 decimals: room for any currency, and a price of
# 1e999999999 is refused here instead of overflowing every later computation with it.
Amount = Annotated[Decimal, Field(ge=0, lt=Decimal("1e12"), decimal_places=6, allow_inf_nan=False)]
Percent = Annotated[Decimal, Field(ge=0, le=1000, allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RoundingEntry(Strict):
    ending: Amount | None = None  # "0.99": prices end in .99; absent: the currency's minor units
    direction: Literal["up", "down", "nearest"] = "up"

    def to_domain(self) -> Rounding:
        return Rounding(self.ending, Direction(self.direction))


class ChannelPricing(Strict):
    currency: Currency
    markup_percent: Decimal = Field(default=Decimal(0), ge=-100, le=1000, allow_inf_nan=False)
    rounding: RoundingEntry = Field(default_factory=RoundingEntry)
    map: dict[Name, Amount] = Field(default_factory=dict)
    min_margin_percent: Percent | None = None
    approval_threshold_percent: Percent | None = None

    @model_validator(mode="after")
    def _fits_currency(self) -> ChannelPricing:
        places = MINOR_UNITS.get(self.currency)
        if places is None:
            raise ValueError(f"{self.currency} is not an ISO 4217 code Crossdock knows")
        ending = self.rounding.ending
        if ending is not None and ending.normalize().as_tuple().exponent < -places:  # type: ignore[operator]
            raise ValueError(f"rounding ending {ending} has more decimals than {self.currency} allows")
        return self


class PriceSource(Strict):
    connection: ConnectionId
    poll_seconds: float = Field(default=300.0, ge=1, le=7 * 24 * 3600)


class PricingSection(Strict):
    base_currency: Currency = "USD"
    source: PriceSource | None = None
    exchange_rates: dict[Currency, Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )
    channels: dict[ConnectionId, ChannelPricing] = Field(default_factory=dict)

    def rule(self, connection_id: str) -> ChannelPriceRule | None:
        entry = self.channels.get(connection_id)
        if entry is None:
            return None
        return ChannelPriceRule(
            connection_id,
            entry.currency,
            self.base_currency,
            self.exchange_rates.get(entry.currency) if entry.currency != self.base_currency else None,
            entry.markup_percent,
            entry.rounding.to_domain(),
            entry.map,
            entry.min_margin_percent,
            entry.approval_threshold_percent,
        )

    def to_domain(self) -> tuple[ChannelPriceRule, ...]:
        return tuple(r for cid in sorted(self.channels) if (r := self.rule(cid)) is not None)


def cross_check(section: PricingSection, connections: dict[str, str]) -> Iterator[tuple[tuple, str]]:
    """Yield (field path relative to the tenant, message). `connections`: id → kind."""
    if section.base_currency not in KNOWN_CURRENCIES:
        yield ("pricing", "base_currency"), f"{section.base_currency} is not an ISO 4217 code Crossdock knows"
    if section.source is not None and section.source.connection not in connections:
        yield ("pricing", "source", "connection"), f"unknown connection {section.source.connection!r}"
    for cid, entry in section.channels.items():
        if cid not in connections:
            yield ("pricing", "channels", cid), f"unknown connection {cid!r}"
        if entry.currency != section.base_currency and entry.currency not in section.exchange_rates:
            yield (
                ("pricing", "channels", cid, "currency"),
                f"no exchange rate from {section.base_currency} to {entry.currency} (exchange_rates)",
            )


# -- inputs: a price entry or a base price, as the API and feeds send them ------------------------


class PriceEntryInput(Strict):
    """An effective-dated price. Times: ISO 8601 (UTC when no offset is given) or UNIX seconds."""

    ref: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")] | None = None
    item: Name
    price: Amount
    starts_at: datetime
    ends_at: datetime | None = None
    connection_id: ConnectionId | None = None  # None: every channel

    @model_validator(mode="after")
    def _ordered(self) -> PriceEntryInput:
        if self.ends_at is not None and _utc(self.ends_at) <= _utc(self.starts_at):
            raise ValueError("ends_at must be after starts_at")
        return self

    def to_domain(self, ref: str | None = None) -> PriceEntry:
        given = ref or self.ref
        if not given:
            raise ValueError("a price entry needs a ref")
        ends = _utc(self.ends_at).timestamp() if self.ends_at is not None else None
        return PriceEntry(
            given, self.item, self.price, _utc(self.starts_at).timestamp(), ends, self.connection_id
        )


class BasePriceInput(Strict):
    item: Name
    price: Amount
    cost: Amount | None = None
    currency: Currency | None = None  # default: the message's currency

    def to_domain(self, currency: str) -> BasePrice:
        return BasePrice(self.item, self.price, self.currency or currency, self.cost)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
