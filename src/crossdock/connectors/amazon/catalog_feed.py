"""Amazon listings for the catalog: JSON_LISTINGS_FEED `UPDATE` messages (listings-feed-schema-v2)
built from a channel listing, and the processing report read back per message. Pure functions.

A listing's attributes carry Amazon's own names and become Amazon's attribute shapes: text
as `[{value, language_tag, marketplace_id}]` (a list gives one entry per element);
`externally_assigned_product_identifier` as `[{type, value, marketplace_id}]` from an
`identifiers` object (first of gtin, upc, ean, isbn) or a bare barcode (type by its length);
`*_dimensions` as `[{length, width, height: {value, unit}}]`; `*_weight` as `[{value, unit}]`;
`*_image_locator*` as `[{media_location}]`. Enumerated values (`condition_type`) carry no
language tag. A value of the wrong shape raises `AttributeValueError` naming the attribute.

Separate from `listings.py` (quantities) and `offers.py` (prices): those PATCH one attribute
of an existing listing; this module sends whole listings (`UPDATE`, requirements LISTING).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from crossdock.connectors.catalog import AttributeValueError
from crossdock.connectors.codec_errors import Field
from crossdock.domain.catalog import Listing

CHANNEL = "amazon"
MAX_MESSAGES = 25_000  # listings-feed-schema-v2 `messages.maxItems`
MISSING_CODE = "90220"  # "'[attribute]' is required but not supplied."
IDENTIFIER_TYPES = ("gtin", "upc", "ean", "isbn")
UNTAGGED = frozenset({"condition_type", "externally_assigned_product_identifier", "merchant_suggested_asin"})
LENGTH_UNITS = {"mm": "millimeters", "cm": "centimeters", "m": "meters", "in": "inches", "ft": "feet"}
WEIGHT_UNITS = {"g": "grams", "kg": "kilograms", "lb": "pounds", "oz": "ounces"}
_BRACKETED = re.compile(r"'\[([^\]]+)\]'")


# -- outbound ------------------------------------------------------------------------------------


def encode_listing_message(listing: Listing, *, marketplace_id: str, language_tag: str = "en_US") -> dict:
    """One feed message (without its `messageId`): the full listing as an UPDATE."""
    if not listing.sku or not listing.product_type:
        raise AttributeValueError("sku" if not listing.sku else "productType", "required for an UPDATE")
    attributes = {
        name: encode_attribute(name, value, marketplace_id, language_tag)
        for name, value in sorted(listing.attributes.items())
    }
    return {
        "sku": listing.sku,
        "operationType": "UPDATE",
        "productType": listing.product_type,
        "requirements": "LISTING",
        "attributes": attributes,
    }


def encode_catalog_feed(messages: list[dict], seller_id: str, issue_locale: str = "en_US") -> dict:
    """A JSON_LISTINGS_FEED document: message i+1 is messages[i]."""
    if not messages or len(messages) > MAX_MESSAGES:
        raise ValueError(f"a listings feed holds 1 to {MAX_MESSAGES} messages, not {len(messages)}")
    return {
        "header": {"sellerId": seller_id, "version": "2.0", "issueLocale": issue_locale},
        "messages": [{"messageId": n, **m} for n, m in enumerate(messages, start=1)],
    }


def encode_attribute(name: str, value: Any, marketplace_id: str, language_tag: str) -> list[dict]:
    if name == "externally_assigned_product_identifier":
        return [{**_identifier(name, value), "marketplace_id": marketplace_id}]
    if name.endswith("_dimensions"):
        return [{**_dimensions(name, value), "marketplace_id": marketplace_id}]
    if name.endswith("_weight"):
        return [{**_weight(name, value), "marketplace_id": marketplace_id}]
    if "image_locator" in name:
        return [{"media_location": _url(name, v), "marketplace_id": marketplace_id} for v in _many(value)]
    entries = []
    for v in _many(value):
        if isinstance(v, dict | list):
            raise AttributeValueError(name, f"expected text or a number, got {type(v).__name__}")
        entry: dict[str, Any] = {"value": v}
        if isinstance(v, str) and name not in UNTAGGED:
            entry["language_tag"] = language_tag
        entries.append({**entry, "marketplace_id": marketplace_id})
    return entries


def _many(value: Any) -> list[Any]:
    return [v for v in value if v not in (None, "")] if isinstance(value, list) else [value]


def _identifier(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        for kind in IDENTIFIER_TYPES:
            if value.get(kind):
                return {"type": kind, "value": _digits(name, value[kind])}
        raise AttributeValueError(name, f"no {', '.join(IDENTIFIER_TYPES)} among {sorted(value)}")
    code = _digits(name, value)
    kind = {12: "upc", 13: "ean", 14: "gtin"}.get(len(code))
    if kind is None:
        raise AttributeValueError(name, f"{code!r} is not a 12-, 13- or 14-digit barcode")
    return {"type": kind, "value": code}


def _digits(name: str, value: Any) -> str:
    code = str(value).strip()
    if not code.isdigit():
        raise AttributeValueError(name, f"{value!r} is not a barcode of digits")
    return code


def _number(name: str, value: Any) -> int | float:
    if isinstance(value, bool):
        raise AttributeValueError(name, f"{value!r} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise AttributeValueError(name, f"{value!r} is not a number") from None
    if not number.is_finite() or number <= 0:
        raise AttributeValueError(name, f"{value!r} is not a positive number")
    return int(number) if number == number.to_integral_value() else float(number)


def _unit(name: str, value: Any, units: dict[str, str]) -> str:
    unit = str(value or "").strip().lower()
    if unit in units:
        return units[unit]
    if unit in units.values():
        return unit
    raise AttributeValueError(name, f"unit {value!r} is not one of {', '.join(units)}")


def _dimensions(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AttributeValueError(name, "expected {length, width, height, unit}")
    unit = _unit(name, value.get("unit"), LENGTH_UNITS)
    return {
        side: {"value": _number(name, value.get(side)), "unit": unit}
        for side in ("length", "width", "height")
    }


def _weight(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AttributeValueError(name, "expected {value, unit}")
    return {"value": _number(name, value.get("value")), "unit": _unit(name, value.get("unit"), WEIGHT_UNITS)}


def _url(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise AttributeValueError(name, f"{value!r} is not an http(s) URL")
    return value


# -- inbound -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListingProblem:
    """Why Amazon refused one message of a feed."""

    category: str  # catalog.attribute_missing | catalog.listing_rejected
    detail: str
    attributes: tuple[str, ...]  # the attributes Amazon names, when it names any


def report_problems(report: Any) -> dict[int, ListingProblem]:
    """messageId → the problem of each message with ERROR issues (WARNING and INFO do not refuse)."""
    by_message: dict[int, list[Field]] = {}
    for issue in Field(report, "", CHANNEL).required()["issues"].items():
        if (issue["severity"].opt_text() or "ERROR").upper() == "ERROR" and issue["messageId"].present:
            by_message.setdefault(int(issue["messageId"].count()), []).append(issue)
    return {number: _problem(issues) for number, issues in by_message.items()}


def _problem(issues: list[Field]) -> ListingProblem:
    names: list[str] = []
    parts = []
    for issue in issues:
        message = issue["message"].opt_text() or ""
        named = [issue["attributeName"].opt_text() or ""]
        named += [a.opt_text() or "" for a in issue["attributeNames"].items()]
        named += _BRACKETED.findall(message)
        names += [n for n in dict.fromkeys(named) if n and n not in names]
        parts.append(f"{issue['code'].opt_ident() or '?'} {message}".strip())
    missing = all(i["code"].opt_ident() == MISSING_CODE for i in issues)
    category = "catalog.attribute_missing" if missing else "catalog.listing_rejected"
    return ListingProblem(category, "; ".join(parts), tuple(names))
