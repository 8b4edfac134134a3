"""A tenant's `mappings:`, `routing:` and `validation:` sections, as pydantic models.

The same models validate the configuration file and a single entry edited over the API,
and each turns itself into the domain's value (`to_domain`). Checks across entries
(one cross-reference per channel SKU, priorities naming known warehouses) are in
`cross_check`, which reports each problem at its own field path.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from crossdock.domain import mapping_rules as rules
from crossdock.domain.money import KNOWN_CURRENCIES
from crossdock.domain.routing import (
    RoutingPolicy,
    RoutingRules,
    ShipCompleteFallback,
    Warehouse,
    WarehouseKind,
)
from crossdock.domain.validation import ValidationRules

Name = Annotated[str, Field(min_length=1, max_length=100)]
# The channels Crossdock takes orders from (order capture decodes these); a mapping for any
# other name would never match an order, and a misspelt one ("shopfy") was stored as if fine.
ORDER_CHANNELS = ("amazon", "shopify", "walmart")


def _channel(value: str) -> str:
    if value != "*" and value not in ORDER_CHANNELS:
        raise ValueError(f"unknown channel {value!r}: one of {', '.join(ORDER_CHANNELS)}, or * for every channel")
    return value


Channel = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_channel)]  # a channel, or "*"
Unit = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,16}$")]
Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]
Region = Annotated[str, Field(pattern=r"^([A-Za-z]{2}-)?[A-Za-z0-9]{1,3}$")]  # US-CA or CA
PriorityKey = Annotated[str, Field(pattern=r"^(\*|[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?)$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _one_of(model: BaseModel, names: tuple[str, ...]) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(names)}")


class SkuEntry(Strict):
    """A channel product → an ERP item. `product_ref` is the ASIN or Shopify variant id;
    `uom` is what one channel unit is (CASE for a case pack)."""

    channel: Channel
    item: Name
    sku: Name | None = None
    product_ref: Name | None = None
    uom: Unit | None = None

    @model_validator(mode="after")
    def _keyed(self) -> SkuEntry:
        if self.sku is None and self.product_ref is None:
            raise ValueError("give sku, product_ref or both")
        return self

    def to_domain(self) -> rules.SkuXref:
        return rules.SkuXref(self.channel, self.item, self.sku, self.product_ref, self.uom)


class UnitConversionEntry(Strict):
    """1 `from` = `factor` `to`; for one `item`, or every item when omitted."""

    item: Name | None = None
    from_uom: Unit = Field(alias="from")
    to_uom: Unit = Field(alias="to")
    factor: Decimal = Field(gt=0, lt=Decimal("1e9"), decimal_places=9, allow_inf_nan=False)

    def to_domain(self) -> rules.UnitConversion:
        return rules.UnitConversion(self.from_uom, self.to_uom, self.factor, self.item)


class UnitsSection(Strict):
    erp_uom: Unit = "EA"  # the unit the ERP books items in
    item_erp_uoms: dict[Name, Unit] = Field(default_factory=dict)  # items booked in another unit
    conversions: list[UnitConversionEntry] = Field(default_factory=list)


class TaxCodeEntry(Strict):
    """The channel's tax `title` ("*": any), and `rate` as a fraction when it matters."""

    channel: Channel
    title: Name
    rate: Decimal | None = Field(default=None, ge=0, le=1)
    tax_code: Name

    def to_domain(self) -> rules.TaxCodeRule:
        return rules.TaxCodeRule(self.channel, self.title, self.tax_code, self.rate)


class ShippingMethodEntry(Strict):
    """The channel's shipping code or title ("*": the channel's default) → carrier service."""

    channel: Channel
    method: Name
    carrier: Name
    service: Name

    def to_domain(self) -> rules.ShippingMethodRule:
        return rules.ShippingMethodRule(self.channel, self.method, self.carrier, self.service)


class CustomerEntry(Strict):
    channel: Channel
    email: Name | None = None
    external_id: Name | None = None
    customer: Name

    @model_validator(mode="after")
    def _keyed(self) -> CustomerEntry:
        _one_of(self, ("email", "external_id"))
        return self

    @property
    def match_by(self) -> rules.MatchBy:
        return rules.MatchBy.EMAIL if self.email is not None else rules.MatchBy.EXTERNAL_ID

    def to_domain(self) -> rules.CustomerRule:
        value = self.email if self.email is not None else self.external_id
        return rules.CustomerRule(self.channel, self.match_by, value or "", self.customer)


class UnmatchedCustomers(Strict):
    policy: Literal["reject", "create", "default_account"]
    account: Name | None = None

    @model_validator(mode="after")
    def _account(self) -> UnmatchedCustomers:
        if (self.policy == "default_account") != (self.account is not None):
            raise ValueError("account is required with default_account, and only then")
        return self

    def to_domain(self) -> rules.CustomerPolicy:
        return rules.CustomerPolicy(rules.UnmatchedPolicy(self.policy), self.account)


class CustomersSection(Strict):
    match: list[CustomerEntry] = Field(default_factory=list)
    unmatched: dict[Channel, UnmatchedCustomers] = Field(default_factory=dict)  # per channel, or "*"


class LegalEntityRuleEntry(Strict):
    entity: Name
    channels: list[Channel] = Field(default_factory=list)
    countries: list[Country] = Field(default_factory=list)
    regions: list[Region] = Field(default_factory=list)
    currencies: list[Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]] = Field(default_factory=list)

    def to_domain(self) -> rules.LegalEntityRule:
        sets = [frozenset(v) for v in (self.channels, self.countries, self.regions, self.currencies)]
        return rules.LegalEntityRule(self.entity, *sets)


class LegalEntitiesSection(Strict):
    default: Name  # sells whatever no rule matches
    rules: list[LegalEntityRuleEntry] = Field(default_factory=list)  # first match wins


class Mappings(Strict):
    """Each section present replaces the tenant's stored section on apply; an absent
    section is left as stored (for instance, as edited over the API)."""

    sku: list[SkuEntry] | None = None
    uom: UnitsSection | None = None
    tax_codes: list[TaxCodeEntry] | None = None
    shipping_methods: list[ShippingMethodEntry] | None = None
    customers: CustomersSection | None = None
    legal_entities: LegalEntitiesSection | None = None


class WarehouseEntry(Strict):
    code: Name
    kind: Literal["internal", "3pl"] = "internal"
    countries: list[Country] = Field(default_factory=list)
    regions: list[Annotated[str, Field(pattern=r"^[A-Za-z]{2}-[A-Za-z0-9]{1,3}$")]] = Field(
        default_factory=list
    )

    def to_domain(self) -> Warehouse:
        kind = WarehouseKind(self.kind)
        return Warehouse(self.code, kind, frozenset(self.countries), frozenset(self.regions))


class RoutingSection(Strict):
    policy: Literal["ship_complete", "split"] = "split"
    split_lines: bool = False  # split: may one line ship from several warehouses
    ship_complete_fallback: Literal["backorder", "best_single"] = "backorder"
    warehouses: list[WarehouseEntry] = Field(min_length=1)
    priorities: dict[PriorityKey, list[Name]] = Field(default_factory=dict)  # US-CA | US | *

    def to_domain(self) -> RoutingRules:
        return RoutingRules(
            tuple(w.to_domain() for w in self.warehouses),
            {k: tuple(v) for k, v in self.priorities.items()},
            RoutingPolicy(self.policy),
            self.split_lines,
            ShipCompleteFallback(self.ship_complete_fallback),
        )


class ValidationSection(Strict):
    price_tolerance_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    currencies: list[Annotated[str, Field(pattern=r"^[A-Z]{3}$")]] | None = None  # None: any

    def to_domain(self) -> ValidationRules:
        known = frozenset(self.currencies) if self.currencies is not None else None
        return ValidationRules(known, self.price_tolerance_percent)


# -- checks across entries -------------------------------------------------------------------

Loc = tuple[str | int, ...]


def cross_check(
    mappings: Mappings | None = None,
    routing: RoutingSection | None = None,
    validation: ValidationSection | None = None,
) -> Iterator[tuple[Loc, str]]:
    """Yield (field path relative to the tenant, message) for every problem across entries."""
    if mappings is not None:
        yield from _check_mappings(mappings)
    if routing is not None:
        yield from _check_routing(routing)
    if validation is not None:
        for i, code in enumerate(validation.currencies or []):
            if code not in KNOWN_CURRENCIES:
                yield ("validation", "currencies", i), f"{code} is not an ISO 4217 code Crossdock knows"


def _duplicates(items: list[tuple[Loc, object]], what: str) -> Iterator:
    seen: set = set()
    for loc, key in items:
        if key is not None and key in seen:
            yield loc, f"duplicate {what}"
        seen.add(key)


def _check_mappings(m: Mappings) -> Iterator:
    base: Loc = ("mappings",)
    for field in ("sku", "product_ref"):
        keyed = [((*base, "sku", i, field), _sku_key(e, field)) for i, e in enumerate(m.sku or [])]
        yield from _duplicates(keyed, f"{field}: one cross-reference per channel {field}")
    if m.uom is not None:
        conv = [
            (("conversions", i), (e.item, *sorted((e.from_uom, e.to_uom))))
            for i, e in enumerate(m.uom.conversions)
        ]
        yield from (
            ((*base, "uom", *loc), msg) for loc, msg in _duplicates(conv, "conversion for these units")
        )
    taxes = [
        ((*base, "tax_codes", i), (e.channel, rules.fold(e.title), e.rate))
        for i, e in enumerate(m.tax_codes or [])
    ]
    yield from _duplicates(taxes, "tax code rule for this channel, title and rate")
    ships = [
        ((*base, "shipping_methods", i), (e.channel, rules.fold(e.method)))
        for i, e in enumerate(m.shipping_methods or [])
    ]
    yield from _duplicates(ships, "shipping method rule for this channel and method")
    if m.customers is not None:
        cust = [
            ((*base, "customers", "match", i), (e.channel, e.match_by, rules.fold(e.email or e.external_id)))
            for i, e in enumerate(m.customers.match)
        ]
        yield from _duplicates(cust, "customer rule for this channel and key")


def _sku_key(entry: SkuEntry, field: str) -> tuple[str, str] | None:
    value = getattr(entry, field)
    return (entry.channel, value) if value is not None else None


def _check_routing(r: RoutingSection) -> Iterator:
    codes = [w.code for w in r.warehouses]
    yield from _duplicates(
        [(("routing", "warehouses", i, "code"), c) for i, c in enumerate(codes)], "warehouse code"
    )
    for key, listed in r.priorities.items():
        for j, code in enumerate(listed):
            if code not in codes:
                yield ("routing", "priorities", key, j), f"unknown warehouse {code!r}"
        yield from _duplicates(
            [(("routing", "priorities", key, j), c) for j, c in enumerate(listed)], "warehouse in this list"
        )
