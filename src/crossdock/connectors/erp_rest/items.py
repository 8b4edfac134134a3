"""The generic REST ERP's item master (`GET /items?limit=&after=`) → canonical item master
records (`domain.catalog.ITEM_FIELDS`). Pure functions.

The contract's `description` is the item's short name (its title on channels) and
`long_description` its text; `identifiers`, `dimensions`, `weight`, `images`, `bullets`
keep their shapes; fields the contract does not name are kept under `attributes`."""

from __future__ import annotations

from typing import Any

from crossdock.connectors.catalog import ItemPage
from crossdock.connectors.codec_errors import Field

SYSTEM = "erp"
_RENAMED = {"description": "title", "long_description": "description"}
_KEPT = (
    "code", "brand", "manufacturer", "mpn", "bullets", "identifiers", "dimensions", "weight",
    "category", "images", "color", "size", "material", "active", "attributes",
)  # fmt: skip
_IGNORED = frozenset({"unit", "updated_at"})


def item_record(item: Field) -> dict[str, Any]:
    """One contract item as a canonical record; the code is required."""
    raw = item.value
    if not isinstance(raw, dict):
        raise item.fail(f"expected an object, got {type(raw).__name__}")
    record: dict[str, Any] = {"code": item["code"].text()}
    for name, canonical in _RENAMED.items():
        if raw.get(name) is not None:
            record[canonical] = raw[name]
    for name in _KEPT[1:]:
        if raw.get(name) is not None:
            record[name] = raw[name]
    extra = {k: v for k, v in raw.items() if k not in _RENAMED and k not in _KEPT and k not in _IGNORED}
    if extra:
        record["attributes"] = {**extra, **(record.get("attributes") or {})}
    return record


def item_page(payload: Any) -> ItemPage:
    """A page of `GET /items?limit=&after=`: `{"items": [...], "next_after": code | null}`."""
    body = Field(payload, "", SYSTEM).required()
    records = [item_record(item) for item in body["items"].items()]
    return ItemPage(records, body["next_after"].opt_text())
