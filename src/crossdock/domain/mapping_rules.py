"""The rules a tenant's mappings are made of, and what mapping an order produces.

Each rule is one cross-reference a distributor maintains: a channel SKU to an item, a
pack size, a tax title to a tax code, a shipping method to a carrier service, a buyer to
an ERP customer, a region to a legal entity. `TenantMappings` (in `mapping`) holds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from crossdock.domain.errors import DomainError
from crossdock.domain.money import Money, Quantity, to_decimal
from crossdock.domain.orders import Order

ANY = "*"  # in a channel (or tax title, shipping method): every channel (title, method)


def fold(text: str | None) -> str:
    """Case- and space-insensitive form used to compare channel words."""
    return " ".join((text or "").split()).casefold()


def upper(text: str | None) -> str | None:
    return text.strip().upper() if text and text.strip() else None


def exact_decimal(numerator: object, denominator: object, places: int | None = None) -> Decimal | None:
    """numerator / denominator as an exact Decimal; when it does not terminate, None, or
    rounded half-up to `places` decimal places if `places` is given."""
    exact = Fraction(to_decimal(numerator)) / Fraction(to_decimal(denominator))
    value = Decimal(exact.numerator) / Decimal(exact.denominator)
    if Fraction(value) == exact:
        return value.normalize() if value == value.to_integral_value() else value
    if places is None:
        return None
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class SkuXref:
    """A channel product → the ERP item. Keyed by the channel's `sku`, its `product_ref`
    (Amazon ASIN, Shopify variant id), or both. `uom` is what one channel unit is
    (``CASE`` for a case pack); None means the order line's own unit."""

    channel: str
    item_code: str
    sku: str | None = None
    product_ref: str | None = None
    uom: str | None = None

    def __post_init__(self) -> None:
        if not (self.sku or self.product_ref):
            raise DomainError("mapping.invalid_rule", f"SKU cross-reference for {self.item_code} has no key")
        object.__setattr__(self, "uom", upper(self.uom))


@dataclass(frozen=True, slots=True)
class UnitConversion:
    """1 `from_uom` = `factor` `to_uom`, for one item or (item_code None) every item."""

    from_uom: str
    to_uom: str
    factor: Decimal
    item_code: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "from_uom", upper(self.from_uom))
        object.__setattr__(self, "to_uom", upper(self.to_uom))
        object.__setattr__(self, "factor", to_decimal(self.factor, "factor"))
        if self.factor <= 0:
            raise DomainError("mapping.invalid_rule", f"pack size {self.from_uom}→{self.to_uom} must be > 0")


@dataclass(frozen=True, slots=True)
class TaxCodeRule:
    """The channel's tax `title` (and, when given, `rate` as a fraction) → ERP tax code."""

    channel: str
    title: str
    tax_code: str
    rate: Decimal | None = None

    def __post_init__(self) -> None:
        if self.rate is not None:
            object.__setattr__(self, "rate", to_decimal(self.rate, "rate"))


@dataclass(frozen=True, slots=True)
class CarrierService:
    carrier: str
    service: str

    def __str__(self) -> str:
        return f"{self.carrier} {self.service}"


@dataclass(frozen=True, slots=True)
class ShippingMethodRule:
    """The channel's shipping method code or title (`ANY`: the channel's default)
    → the ERP's carrier and service."""

    channel: str
    method: str
    carrier: str
    service: str

    @property
    def carrier_service(self) -> CarrierService:
        return CarrierService(self.carrier, self.service)


class MatchBy(StrEnum):
    """How a channel customer is recognised."""

    EXTERNAL_ID = "external_id"  # the channel's customer id
    EMAIL = "email"  # compared case-insensitively


@dataclass(frozen=True, slots=True)
class CustomerRule:
    channel: str
    match_by: MatchBy
    value: str
    customer_code: str


class UnmatchedPolicy(StrEnum):
    """What to do with an order whose customer no rule recognises."""

    REJECT = "reject"  # park the order: mapping.customer_unknown
    CREATE = "create"  # the ERP step creates a customer from the order's parties
    DEFAULT_ACCOUNT = "default_account"  # book it on one account (e.g. "Amazon customers")


@dataclass(frozen=True, slots=True)
class CustomerPolicy:
    policy: UnmatchedPolicy
    account: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", UnmatchedPolicy(self.policy))
        if (self.policy is UnmatchedPolicy.DEFAULT_ACCOUNT) != bool(self.account):
            raise DomainError(
                "mapping.invalid_rule", "an account is needed with default_account, and only then"
            )


def _upper_set(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().upper() for v in values)


@dataclass(frozen=True, slots=True)
class LegalEntityRule:
    """Orders matching every non-empty condition are sold by `entity`. Regions are
    ISO 3166-2 codes (``US-CA``) or the bare subdivision code the channel sends (``CA``)."""

    entity: str
    channels: frozenset[str] = field(default_factory=frozenset)
    countries: frozenset[str] = field(default_factory=frozenset)
    regions: frozenset[str] = field(default_factory=frozenset)
    currencies: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", frozenset(self.channels))
        for name in ("countries", "regions", "currencies"):
            object.__setattr__(self, name, _upper_set(getattr(self, name)))

    def matches(self, channel: str, country: str | None, region: str | None, currency: str) -> bool:
        country, region = upper(country), upper(region)
        full_region = f"{country}-{region}" if country and region else None
        return (
            (not self.channels or channel in self.channels)
            and (not self.countries or country in self.countries)
            and (not self.regions or bool({region, full_region} & self.regions))
            and (not self.currencies or currency in self.currencies)
        )


# -- what mapping produces ------------------------------------------------------------------


class ProblemList(DomainError):
    """Several problems with one document, reported together.

    The error's `code` (the exception's category on the desk) is the code of the first
    problem in `precedence` order; problems of the same code keep the order they were
    found in (line order). Codes missing from `precedence` rank after all listed ones.
    """

    precedence: tuple[str, ...] = ()

    def __init__(self, subject: str, problems: Iterable[DomainError]) -> None:
        ranked = tuple(sorted(problems, key=self._rank))
        if not ranked:
            raise ValueError("a problem list needs at least one problem")
        detail = f"{subject}: " + "; ".join(p.detail for p in ranked)
        hints = list(dict.fromkeys(p.hint for p in ranked if p.hint))
        super().__init__(ranked[0].code, detail, " ".join(hints))
        self.problems = ranked

    @classmethod
    def _rank(cls, problem: DomainError) -> int:
        order = cls.precedence
        return order.index(problem.code) if problem.code in order else len(order)

    @property
    def codes(self) -> tuple[str, ...]:
        """Distinct codes, primary first."""
        return tuple(dict.fromkeys(p.code for p in self.problems))


class MappingErrors(ProblemList):
    """An order that cannot be mapped. Precedence follows the ERP document from the
    lines outwards: without its item a line's unit and price cannot even be checked,
    so item gaps come first, then units, taxes and shipping, then the parties."""

    precedence = (
        "mapping.sku_unknown",
        "mapping.uom_unknown",
        "business.inexact_uom_conversion",
        "mapping.tax_code_unknown",
        "mapping.shipping_method_unknown",
        "mapping.customer_unknown",
        "mapping.legal_entity_unknown",
    )


@dataclass(frozen=True, slots=True)
class MappedLine:
    """One order line in ERP terms. `amount` is the channel's extended price, unchanged;
    `unit_price` is per ERP unit (rounded to 6 places only when it does not terminate)."""

    line_id: str
    item_code: str
    quantity: Quantity  # in the item's ERP unit
    unit_price: Money
    amount: Money
    discount: Money
    tax_codes: tuple[str, ...]
    channel_sku: str | None
    channel_quantity: Quantity


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """The ERP customer of an order: an existing `code`, or `create` one from the order."""

    code: str | None
    matched_by: str  # external_id | email | default_account | create
    create: bool = False


@dataclass(frozen=True)
class MappedOrder:
    """An order ready for the ERP: the canonical `order` plus everything the ERP needs."""

    order: Order = field(compare=False)
    channel: str
    lines: tuple[MappedLine, ...]
    customer: CustomerRef
    carrier_service: CarrierService
    shipping_tax_codes: tuple[str, ...]
    legal_entity: str

    @property
    def ref(self) -> str:
        return self.order.ref
