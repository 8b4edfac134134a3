"""Money and quantities: Decimal amounts that always carry their currency or unit of measure.

`Money` never mixes currencies and rounds half-up to the currency's minor units.
`Quantity` never mixes units; `UomConversions` converts between them exactly
(1 CASE = 12 EA) and refuses conversions that would invent or lose a fraction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from functools import total_ordering

from crossdock.domain.errors import (
    CurrencyMismatch,
    InexactConversion,
    InvalidAmount,
    InvalidQuantity,
    UnitMismatch,
    UnknownConversion,
    UnknownCurrency,
)

# ISO 4217 codes Crossdock's channels trade in, with their minor units (digits after the point).
MINOR_UNITS: Mapping[str, int] = {
    **dict.fromkeys(
        [
            "AED",
            "ARS",
            "AUD",
            "BGN",
            "BRL",
            "CAD",
            "CHF",
            "CNY",
            "COP",
            "CZK",
            "DKK",
            "EGP",
            "EUR",
            "GBP",
            "HKD",
            "HUF",
            "IDR",
            "ILS",
            "INR",
            "MAD",
            "MXN",
            "MYR",
            "NGN",
            "NOK",
            "NZD",
            "PEN",
            "PHP",
            "PLN",
            "QAR",
            "RON",
            "SAR",
            "SEK",
            "SGD",
            "THB",
            "TRY",
            "TWD",
            "UAH",
            "USD",
            "ZAR",
        ],
        2,
    ),
    **dict.fromkeys(["CLP", "ISK", "JPY", "KRW", "VND", "XAF", "XOF"], 0),
    **dict.fromkeys(["BHD", "JOD", "KWD", "OMR", "TND"], 3),
}
KNOWN_CURRENCIES = frozenset(MINOR_UNITS)

Number = Decimal | int | str


def to_decimal(value: object, what: str = "amount") -> Decimal:
    """A finite Decimal from a Decimal, int or numeric string. Floats are refused: they
    cannot hold cents exactly, so a codec must read vendor numbers as text first."""
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise InvalidAmount(f"{what} must be a Decimal, int or numeric string, got {value!r}")
    try:
        result = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise InvalidAmount(f"{what} is not a number: {value!r}") from None
    if not result.is_finite():
        raise InvalidAmount(f"{what} must be finite, got {value!r}")
    return result


def normalize_currency(code: object) -> str:
    """The upper-case ISO 4217 code, or `UnknownCurrency`."""
    text = code.strip().upper() if isinstance(code, str) else ""
    if text not in KNOWN_CURRENCIES:
        raise UnknownCurrency(
            f"currency {code!r} is not a known ISO 4217 code",
            "Use a three-letter ISO 4217 code such as USD or EUR; add it to MINOR_UNITS if it is real.",
        )
    return text


@total_ordering
@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency. Arithmetic and comparison only with the same currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_decimal(self.amount))
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def total(cls, amounts: Iterable[Money], currency: str) -> Money:
        """Sum of `amounts`, zero in `currency` when there are none."""
        result = cls.zero(currency)
        for amount in amounts:
            result = result + amount
        return result

    @property
    def minor_units(self) -> int:
        return MINOR_UNITS[self.currency]

    def rounded(self) -> Money:
        """Rounded half-up to the currency's minor units (2.345 USD → 2.35 USD, 1.5 JPY → 2 JPY)."""
        exponent = Decimal(1).scaleb(-self.minor_units)
        return Money(self.amount.quantize(exponent, rounding=ROUND_HALF_UP), self.currency)

    def is_zero(self) -> bool:
        return self.amount == 0

    def _check(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot combine {self.currency} with {other.currency}",
                "Convert to one currency first; Crossdock never converts implicitly.",
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._check(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._check(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: Number) -> Money:
        if isinstance(factor, Money):
            raise TypeError("cannot multiply Money by Money")
        return Money(self.amount * to_decimal(factor, "factor"), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._check(other).amount

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def _unit(uom: object) -> str:
    text = uom.strip().upper() if isinstance(uom, str) else ""
    if not text:
        raise InvalidQuantity(f"unit of measure must be a non-empty code, got {uom!r}")
    return text


@total_ordering
@dataclass(frozen=True, slots=True)
class Quantity:
    """A count in one unit of measure (EA, CASE, KG, ...)."""

    value: Decimal
    uom: str = "EA"

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", to_decimal(self.value, "quantity"))
        object.__setattr__(self, "uom", _unit(self.uom))

    def _check(self, other: object) -> Quantity:
        if not isinstance(other, Quantity):
            raise TypeError(f"cannot combine Quantity with {type(other).__name__}")
        if other.uom != self.uom:
            raise UnitMismatch(
                f"cannot combine {self.uom} with {other.uom}", "Convert with UomConversions first."
            )
        return other

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + self._check(other).value, self.uom)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - self._check(other).value, self.uom)

    def __lt__(self, other: Quantity) -> bool:
        return self.value < self._check(other).value

    def is_whole(self) -> bool:
        return self.value == self.value.to_integral_value()

    def to(self, uom: str, conversions: UomConversions) -> Quantity:
        return conversions.convert(self, uom)

    def __str__(self) -> str:
        return f"{self.value} {self.uom}"


class UomConversions:
    """Exact factors between units, e.g. ``{("CASE", "EA"): 12}`` meaning 1 CASE = 12 EA.

    Reverse and chained conversions (PALLET → CASE → EA) are derived. A table belongs
    to one item, or is a tenant default; pack sizes differ between items.
    """

    def __init__(self, factors: Mapping[tuple[str, str], Number] | None = None) -> None:
        self._edges: dict[str, dict[str, Fraction]] = {}
        for (source, target), factor in (factors or {}).items():
            self._add(_unit(source), _unit(target), Fraction(to_decimal(factor, "factor")))

    def _add(self, source: str, target: str, factor: Fraction) -> None:
        if factor <= 0:
            raise InvalidQuantity(f"conversion factor {source}→{target} must be positive")
        self._edges.setdefault(source, {})[target] = factor
        self._edges.setdefault(target, {})[source] = 1 / factor

    def factor(self, source: str, target: str) -> Fraction:
        """How many `target` units one `source` unit holds."""
        source, target = _unit(source), _unit(target)
        seen, frontier = {source: Fraction(1)}, [source]
        while frontier:
            unit = frontier.pop()
            for neighbour, step in self._edges.get(unit, {}).items():
                if neighbour not in seen:
                    seen[neighbour] = seen[unit] * step
                    frontier.append(neighbour)
        if target not in seen:
            raise UnknownConversion(
                f"no conversion from {source} to {target}",
                f"Add the pack size (1 {source} = n {target}) to the item's unit conversions.",
            )
        return seen[target]

    def convert(self, quantity: Quantity, uom: str) -> Quantity:
        """`quantity` in `uom`; `InexactConversion` if the result has no exact decimal form."""
        exact = Fraction(quantity.value) * self.factor(quantity.uom, uom)
        value = Decimal(exact.numerator) / Decimal(exact.denominator)
        if Fraction(value) != exact:
            raise InexactConversion(
                f"{quantity} is not an exact number of {_unit(uom)}",
                "Ship, count or order in a unit that divides evenly.",
            )
        return Quantity(value, uom)
