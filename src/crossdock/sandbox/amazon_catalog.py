"""Whole listings in the sandbox seller's listings feeds: `UPDATE` and `PARTIAL_UPDATE` messages.

A message is checked like Amazon checks a LISTING submission: a product type, and every
attribute of `AmazonListingsConfig.required_attributes` present with at least one value,
else one ERROR issue per missing attribute with Amazon's code 90220 ("'[brand]' is required
but not supplied.", as in the published processing report example). SKUs made invalid for
the seller are refused as for quantities. Accepted listings are kept per SKU: product type
and attributes (an UPDATE replaces them, a PARTIAL_UPDATE merges), for the snapshot.
"""

from __future__ import annotations

from typing import Any

LISTING_OPERATIONS = frozenset({"UPDATE", "PARTIAL_UPDATE"})
MISSING_CODE = "90220"


def is_listing(message: Any) -> bool:
    return isinstance(message, dict) and message.get("operationType") in LISTING_OPERATIONS


def apply_listing(
    catalog: dict[str, dict[str, Any]], message: dict[str, Any], required: tuple[str, ...], invalid: set[str]
) -> list[dict[str, Any]]:
    """Issues of one listing message; none when it was applied to `catalog`."""
    number, sku = message.get("messageId"), message.get("sku")
    attributes = message.get("attributes")
    if (
        not isinstance(number, int)
        or not sku
        or not message.get("productType")
        or not isinstance(attributes, dict)
    ):
        return [
            _issue(number, sku, "4000001", "An UPDATE needs a messageId, sku, productType and attributes.")
        ]
    if sku in invalid:
        return [
            _issue(
                number,
                sku,
                "90000900",
                f"SKU '{sku}' is invalid for this seller: the listing cannot be updated.",
            )
        ]
    operation = message["operationType"]
    known = catalog.get(sku, {}).get("attributes", {}) if operation == "PARTIAL_UPDATE" else {}
    merged = {**known, **attributes}
    missing = [name for name in required if not _has_value(merged.get(name))]
    if missing:
        return [
            {
                **_issue(number, sku, MISSING_CODE, f"'[{name}]' is required but not supplied."),
                "attributeName": name,
            }
            for name in missing
        ]
    catalog[sku] = {"productType": message["productType"], "attributes": merged}
    return []


def _has_value(entries: Any) -> bool:
    return isinstance(entries, list) and any(
        isinstance(e, dict) and any(v not in (None, "") for k, v in e.items() if k != "marketplace_id")
        for e in entries
    )


def _issue(number: Any, sku: Any, code: str, message: str) -> dict[str, Any]:
    return {"messageId": number, "sku": sku, "code": code, "severity": "ERROR", "message": message}
