"""Catalog domain: listings built through a channel's attribute mapping, required attributes
named when missing, and fingerprints that see every change and ignore key order."""

from __future__ import annotations

import pytest

from crossdock.domain.catalog import (
    PRODUCT_TYPE,
    ChannelMapping,
    ItemRecord,
    ItemRecordError,
    Source,
    build_listing,
    digest,
    explain_missing,
)

ITEM = {
    "code": "CD-1001",
    "title": "Steel Hinge",
    "description": "A hinge of steel.",
    "brand": "Northwind Tools",
    "identifiers": {"upc": "086000000019"},
    "weight": {"value": 350, "unit": "g"},
    "images": ["https://img.example/1.jpg", "https://img.example/2.jpg"],
    "bullets": ["Steel", ""],
    "attributes": {"amazon_type": "HARDWARE"},
}


def amazon(**kwargs) -> ChannelMapping:
    return ChannelMapping.for_channel("amazon", product_type=Source.const("HARDWARE"), **kwargs)


def test_amazon_listing_takes_the_channels_attribute_names_from_the_item_fields():
    listing = build_listing(ItemRecord.from_plain(ITEM), amazon())
    assert listing.complete and listing.sku == "CD-1001" and listing.product_type == "HARDWARE"
    assert listing.attributes["item_name"] == "Steel Hinge"
    assert listing.attributes["brand"] == "Northwind Tools"
    assert listing.attributes["externally_assigned_product_identifier"] == {"upc": "086000000019"}
    assert listing.attributes["main_product_image_locator"] == "https://img.example/1.jpg"
    assert listing.attributes["other_product_image_locator_1"] == "https://img.example/2.jpg"
    assert listing.attributes["condition_type"] == "new_new"  # the profile's constant
    assert "other_product_image_locator_2" not in listing.attributes  # absent values are left out


def test_a_missing_required_attribute_is_named_with_where_it_was_looked_for():
    item = ItemRecord.from_plain({**ITEM, "brand": "  "})
    mapping = amazon()
    listing = build_listing(item, mapping)
    assert listing.missing == ("brand",)
    detail, hint = explain_missing(listing, mapping, "acme-amazon")
    assert (
        "item CD-1001" in detail
        and "acme-amazon" in detail
        and "brand (no value in item field brand)" in detail
    )
    assert "catalog.channels.acme-amazon" in hint and "retry" in hint


def test_tenant_entries_replace_defaults_add_requirements_and_drop_entries():
    mapping = amazon(
        entries={
            "brand": Source.const("House Brand"),
            "color": None,
            "item_name": Source.of("attributes.x", "title"),
        },
        required=("product_description", "color"),
    )
    listing = build_listing(ItemRecord.from_plain({**ITEM, "brand": None, "description": None}), mapping)
    assert listing.attributes["brand"] == "House Brand"
    assert listing.attributes["item_name"] == "Steel Hinge"  # the first present of the fields
    assert listing.missing == ("product_description", "color")
    detail, _ = explain_missing(listing, mapping, "c")
    assert "color (no mapping entry gives it a value)" in detail


def test_amazon_needs_a_product_type_and_every_listing_a_sku():
    mapping = ChannelMapping.for_channel("amazon", sku=Source.of("attributes.seller_sku"))
    listing = build_listing(ItemRecord.from_plain(ITEM), mapping)
    assert listing.missing == ("sku", PRODUCT_TYPE)
    typed = ChannelMapping.for_channel("amazon", product_type=Source.of("attributes.amazon_type"))
    assert build_listing(ItemRecord.from_plain(ITEM), typed).product_type == "HARDWARE"


def test_shopify_requires_only_a_title_and_reads_the_first_barcode_present():
    mapping = ChannelMapping.for_channel("shopify")
    listing = build_listing(ItemRecord.from_plain({**ITEM, "brand": None}), mapping)
    assert listing.complete and listing.attributes["barcode"] == "086000000019"
    assert "vendor" not in listing.attributes
    assert build_listing(ItemRecord.from_plain({"code": "X"}), mapping).missing == ("title",)


def test_unknown_channels_and_unreadable_records_are_refused():
    with pytest.raises(ValueError, match="no catalog profile"):
        ChannelMapping.for_channel("ebay")
    for bad in ({"title": "no code"}, {"code": ""}, ["CD-1"]):
        with pytest.raises(ItemRecordError):
            ItemRecord.from_plain(bad)


def test_paths_read_nested_fields_and_list_positions():
    item = ItemRecord.from_plain(ITEM)
    assert item.get("identifiers.upc") == "086000000019"
    assert item.get("images.1") == "https://img.example/2.jpg"
    assert item.get("images.5") is None and item.get("weight.value.x") is None
    assert item.get("bullets.1") is None  # an empty string is no value


def test_digest_ignores_key_order_and_sees_every_change():
    assert digest({"a": 1, "b": [1, 2]}) == digest({"b": [1, 2], "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})
    assert ItemRecord.from_plain(ITEM).digest != ItemRecord.from_plain({**ITEM, "brand": "Other"}).digest
