"""Catalog: the item master record, and each channel's listing built from it through an
attribute mapping, with the channel's required attributes checked before anything is sent.

The item master record is plain JSON data keyed by canonical field names (`ITEM_FIELDS`);
an attribute mapping says, per channel attribute, which item field (dotted path, list
positions allowed: `images.0`) or which constant fills it. Each channel kind has its own
profile: the attributes it always requires and a default mapping the tenant's entries
replace one by one. The attribute names are the channel's own (`item_name`, `brand`,
`externally_assigned_product_identifier` on Amazon; `title`, `vendor`, `barcode` on
Shopify), so an exception names the attribute the channel documents.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Canonical item master fields (what a source's codec produces). Everything else a source
# knows goes under `attributes` and is reachable as `attributes.<name>`.
ITEM_FIELDS = (
    "code",  # the distributor's item code (required)
    "title",
    "description",
    "brand",
    "manufacturer",
    "mpn",  # manufacturer part number
    "bullets",  # list of short selling points
    "identifiers",  # {"upc", "ean", "gtin", "isbn"}: barcodes as digit strings
    "dimensions",  # {"length", "width", "height", "unit": cm | mm | m | in}
    "weight",  # {"value", "unit": g | kg | lb | oz}
    "category",
    "images",  # list of image URLs, the main image first
    "color",
    "size",
    "material",
    "active",
    "attributes",  # anything else, by name
)


class ItemRecordError(ValueError):
    """An item master record that cannot be read (no code, not an object)."""


@dataclass(frozen=True)
class ItemRecord:
    """One item of the item master, as its source last described it."""

    code: str
    fields: Mapping[str, Any]

    @classmethod
    def from_plain(cls, value: Any) -> ItemRecord:
        if not isinstance(value, dict):
            raise ItemRecordError(f"an item master record is a JSON object, not {type(value).__name__}")
        code = value.get("code")
        if not isinstance(code, str) or not code.strip() or len(code) > 200:
            raise ItemRecordError(f"an item master record needs a code of 1 to 200 characters, got {code!r}")
        return cls(code, dict(value))

    def get(self, path: str) -> Any:
        """The value at a dotted path (`identifiers.upc`, `images.0`); None when absent or empty."""
        value: Any = self.fields
        for part in path.split("."):
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit():
                index = int(part)
                value = value[index] if index < len(value) else None
            else:
                return None
        return None if _empty(value) else value

    @property
    def digest(self) -> str:
        return digest(self.fields)


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict):
        return not value or all(_empty(v) for v in (value.values() if isinstance(value, dict) else value))
    return False


@dataclass(frozen=True)
class Source:
    """Where a channel attribute's value comes from: the first present of `fields`, or a constant."""

    fields: tuple[str, ...] = ()
    constant: Any = None

    @classmethod
    def of(cls, *fields: str) -> Source:
        return cls(tuple(fields))

    @classmethod
    def const(cls, value: Any) -> Source:
        return cls((), value)

    def resolve(self, item: ItemRecord) -> Any:
        if not self.fields:
            return None if _empty(self.constant) else self.constant
        for path in self.fields:
            value = item.get(path)
            if value is not None:
                return value
        return None

    def describe(self) -> str:
        if not self.fields:
            return f"the constant {self.constant!r}"
        return "item field " + " or ".join(self.fields)


@dataclass(frozen=True)
class ChannelProfile:
    """What a channel kind always requires, and the mapping used unless the tenant says otherwise."""

    channel: str
    required: tuple[str, ...]
    defaults: Mapping[str, Source]
    needs_product_type: bool = False


def _images(first: int, last: int, prefix: str) -> dict[str, Source]:
    return {f"{prefix}_{n}": Source.of(f"images.{n}") for n in range(first, last + 1)}


PROFILES: dict[str, ChannelProfile] = {
    "amazon": ChannelProfile(
        "amazon",
        required=("item_name", "brand", "externally_assigned_product_identifier", "condition_type"),
        defaults={
            "item_name": Source.of("title"),
            "brand": Source.of("brand"),
            "product_description": Source.of("description"),
            "bullet_point": Source.of("bullets"),
            "externally_assigned_product_identifier": Source.of("identifiers"),
            "manufacturer": Source.of("manufacturer"),
            "part_number": Source.of("mpn"),
            "color": Source.of("color"),
            "size": Source.of("size"),
            "material": Source.of("material"),
            "item_package_dimensions": Source.of("dimensions"),
            "item_package_weight": Source.of("weight"),
            "main_product_image_locator": Source.of("images.0"),
            **_images(1, 8, "other_product_image_locator"),
            "condition_type": Source.const("new_new"),
        },
        needs_product_type=True,
    ),
    "shopify": ChannelProfile(
        "shopify",
        required=("title",),
        defaults={
            "title": Source.of("title"),
            "descriptionHtml": Source.of("description"),
            "vendor": Source.of("brand"),
            "productType": Source.of("category"),
            "barcode": Source.of("identifiers.gtin", "identifiers.upc", "identifiers.ean"),
            "weight": Source.of("weight"),
            "images": Source.of("images"),
        },
    ),
}
PRODUCT_TYPE = "productType"  # how a missing product type is named


@dataclass(frozen=True)
class ChannelMapping:
    """One channel connection's mapping: the profile's defaults with the tenant's entries over them."""

    channel: str
    attributes: Mapping[str, Source]
    required: tuple[str, ...]
    sku: Source = field(default_factory=lambda: Source.of("code"))
    product_type: Source | None = None
    needs_product_type: bool = False

    @classmethod
    def for_channel(
        cls,
        channel: str,
        entries: Mapping[str, Source | None] | None = None,
        *,
        required: tuple[str, ...] = (),
        sku: Source | None = None,
        product_type: Source | None = None,
    ) -> ChannelMapping:
        """`entries` replace the profile's defaults by attribute name; None removes one."""
        profile = PROFILES.get(channel)
        if profile is None:
            raise ValueError(f"no catalog profile for channel {channel!r}; one of {', '.join(PROFILES)}")
        merged = dict(profile.defaults)
        for name, source in (entries or {}).items():
            if source is None:
                merged.pop(name, None)
            else:
                merged[name] = source
        wanted = tuple(dict.fromkeys((*profile.required, *required)))
        return cls(
            channel, merged, wanted, sku or Source.of("code"), product_type, profile.needs_product_type
        )


@dataclass(frozen=True)
class Listing:
    """An item as one channel should show it: channel attribute → value, and what is missing."""

    item_code: str
    sku: str | None
    product_type: str | None
    attributes: Mapping[str, Any]
    missing: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.missing

    def to_plain(self) -> dict[str, Any]:
        return {
            "item": self.item_code,
            "sku": self.sku,
            "product_type": self.product_type,
            "attributes": dict(self.attributes),
            "missing": list(self.missing),
        }


def build_listing(item: ItemRecord, mapping: ChannelMapping) -> Listing:
    """The channel's listing of `item`; `missing` names each required attribute without a value."""
    values = {name: source.resolve(item) for name, source in mapping.attributes.items()}
    present = {name: value for name, value in values.items() if value is not None}
    sku = mapping.sku.resolve(item)
    product_type = mapping.product_type.resolve(item) if mapping.product_type else None
    missing = [name for name in mapping.required if name not in present]
    if sku is None:
        missing.insert(0, "sku")
    if mapping.needs_product_type and product_type is None:
        missing.append(PRODUCT_TYPE)
    return Listing(
        item.code,
        None if sku is None else str(sku),
        None if product_type is None else str(product_type),
        present,
        tuple(missing),
    )


def explain_missing(listing: Listing, mapping: ChannelMapping, connection_id: str) -> tuple[str, str]:
    """(detail, hint) for an exception: which attributes, where their values were looked for."""
    parts = []
    for name in listing.missing:
        source = _source_of(name, mapping)
        where = f"no value in {source.describe()}" if source else "no mapping entry gives it a value"
        parts.append(f"{name} ({where})")
    noun = "attribute" if len(parts) == 1 else "attributes"
    detail = (
        f"item {listing.item_code} cannot be listed on {connection_id} ({mapping.channel}): "
        f"required {noun} missing: {'; '.join(parts)}"
    )
    hint = (
        f"Add the value to item {listing.item_code} in the item master (the ERP or PIM), or map "
        f"{', '.join(listing.missing)} to another field or a constant under "
        f"catalog.channels.{connection_id}; sync the item master, then retry the exception."
    )
    return detail, hint


def _source_of(name: str, mapping: ChannelMapping) -> Source | None:
    if name == "sku":
        return mapping.sku
    if name == PRODUCT_TYPE:
        return mapping.product_type
    return mapping.attributes.get(name)


def digest(value: Any) -> str:
    """A stable fingerprint of JSON data (key order does not matter)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
