"""Products: the items a distributor stocks, sells and ships."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from crossdock.domain.errors import DomainError, InvalidQuantity
from crossdock.domain.money import Quantity, to_decimal


def gtin_check_digit_ok(code: str) -> bool:
    """True when `code` is an 8, 12, 13 or 14 digit GTIN (EAN/UPC) with a valid check digit."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    digits = [int(c) for c in reversed(code[:-1])]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits))
    return (10 - total % 10) % 10 == int(code[-1])


@dataclass(frozen=True, slots=True)
class Dimensions:
    """Outer dimensions of one unit, in `uom` (CM, IN, ...)."""

    length: Decimal
    width: Decimal
    height: Decimal
    uom: str = "CM"

    def __post_init__(self) -> None:
        for name in ("length", "width", "height"):
            value = to_decimal(getattr(self, name), name)
            if value < 0:
                raise InvalidQuantity(f"{name} must not be negative")
            object.__setattr__(self, name, value)


@dataclass(frozen=True, slots=True)
class Item:
    """A stocked item. `code` is the distributor's SKU; `identifiers` holds other systems'
    codes by scheme (``gtin``, ``upc``, ``ean``, ``asin``, ``mpn``, ...)."""

    code: str
    description: str = ""
    uom: str = "EA"
    identifiers: Mapping[str, str] = field(default_factory=dict)
    dimensions: Dimensions | None = None
    weight: Quantity | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.code or not self.code.strip():
            raise DomainError("validation.item_code", "an item needs a non-empty code")
        object.__setattr__(self, "identifiers", MappingProxyType(dict(self.identifiers)))
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    @property
    def gtin(self) -> str | None:
        return self.identifiers.get("gtin") or self.identifiers.get("upc") or self.identifiers.get("ean")

    def identifier(self, scheme: str) -> str | None:
        return self.identifiers.get(scheme)
