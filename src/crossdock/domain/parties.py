"""Parties: the addresses goods go to and the customers who order them."""

from __future__ import annotations

from dataclasses import dataclass, fields

# ISO 3166-1 alpha-2 countries without a postal code system; everywhere else a
# shipping address needs one before a warehouse or carrier will take it.
COUNTRIES_WITHOUT_POSTAL_CODES = frozenset(
    [
        "AE",
        "AG",
        "AO",
        "AW",
        "BF",
        "BI",
        "BJ",
        "BO",
        "BS",
        "BW",
        "BZ",
        "CD",
        "CF",
        "CG",
        "CI",
        "CK",
        "CM",
        "DJ",
        "DM",
        "ER",
        "FJ",
        "GA",
        "GD",
        "GH",
        "GM",
        "GQ",
        "GY",
        "HK",
        "KI",
        "KM",
        "KN",
        "KP",
        "LC",
        "ML",
        "MO",
        "MR",
        "MW",
        "NR",
        "NU",
        "QA",
        "RW",
        "SB",
        "SC",
        "SL",
        "SR",
        "ST",
        "SY",
        "TD",
        "TF",
        "TG",
        "TK",
        "TL",
        "TO",
        "TT",
        "TV",
        "UG",
        "VU",
        "YE",
        "ZW",
    ]
)

_REQUIRED = ("name", "line1", "city", "country")


def _clean(value: str | None) -> str | None:
    text = value.strip() if isinstance(value, str) else None
    return text or None


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address. `country` is ISO 3166-1 alpha-2; blank strings are stored as None."""

    name: str | None = None
    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    city: str | None = None
    region: str | None = None  # state, province or region code/name as the source gave it
    postal_code: str | None = None
    country: str | None = None
    company: str | None = None
    phone: str | None = None
    email: str | None = None

    def __post_init__(self) -> None:
        for field in fields(self):
            object.__setattr__(self, field.name, _clean(getattr(self, field.name)))
        if self.country is not None:
            object.__setattr__(self, "country", self.country.upper())

    def needs_postal_code(self) -> bool:
        return self.country not in COUNTRIES_WITHOUT_POSTAL_CODES

    def missing_fields(self) -> tuple[str, ...]:
        """Names of the fields a shipment cannot go without, in a stable order."""
        missing = [name for name in _REQUIRED if getattr(self, name) is None]
        if self.postal_code is None and self.needs_postal_code():
            missing.append("postal_code")
        return tuple(missing)

    def is_complete(self) -> bool:
        return not self.missing_fields()


@dataclass(frozen=True, slots=True)
class Customer:
    """Who placed an order, as the channel knows them. `customer_ref` is the channel's id."""

    customer_ref: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    default_address: Address | None = None
