"""Catalog codecs against the vendors' published material: Amazon listings feeds of whole
listings (listings-feed-schema-v2, its example feed, the processing report example, the
Listings Items API model) and Shopify's productSet input; and the ERP's item master."""

from __future__ import annotations

import pytest

from crossdock.connectors.amazon import catalog_feed
from crossdock.connectors.catalog import AttributeValueError
from crossdock.connectors.codec_errors import CodecError
from crossdock.connectors.erp_rest.items import item_page
from crossdock.connectors.shopify.catalog import accepts, encode_product_set
from crossdock.domain.catalog import ChannelMapping, ItemRecord, Listing, Source, build_listing
from crossdock.sandbox.erp_items import item_record, upc
from crossdock.sandbox.traffic import CatalogItem
from tests.vendor_fixtures import load_vendor_json

jsonschema = pytest.importorskip("jsonschema")
MARKETPLACE = "ATVPDKIKX0DER"
ITEM = {
    "code": "CD-1001",
    "title": "Steel Hinge",
    "description": "A hinge of steel.",
    "brand": "Northwind Tools",
    "bullets": ["Steel", "Two per pack"],
    "identifiers": {"upc": "086000000019"},
    "dimensions": {"length": "10.5", "width": 4, "height": 2, "unit": "cm"},
    "weight": {"value": "350", "unit": "g"},
    "images": ["https://img.example/1.jpg", "https://img.example/2.jpg"],
    "category": "Hardware > Hinges",
}


def amazon_listing(item: dict = ITEM) -> Listing:
    mapping = ChannelMapping.for_channel("amazon", product_type=Source.const("HARDWARE"))
    return build_listing(ItemRecord.from_plain(item), mapping)


def message(listing: Listing) -> dict:
    return catalog_feed.encode_listing_message(listing, marketplace_id=MARKETPLACE, language_tag="en_US")


# -- Amazon ----------------------------------------------------------------------------------------


def test_listing_feed_is_valid_against_amazons_schema():
    schema = load_vendor_json("amazon", "listings-feed-schema-v2.json")
    feed = catalog_feed.encode_catalog_feed([message(amazon_listing())] * 3, "A1SELLER")
    jsonschema.Draft7Validator(schema).validate(feed)
    assert [m["messageId"] for m in feed["messages"]] == [1, 2, 3]
    bad = catalog_feed.encode_catalog_feed([message(amazon_listing())], "A1SELLER")
    bad["messages"][0]["patches"] = [{"op": "replace", "path": "/attributes/item_name"}]  # not with UPDATE
    assert not jsonschema.Draft7Validator(schema).is_valid(bad)


def test_text_attributes_take_the_shape_of_amazons_example_update():
    example = load_vendor_json("amazon", "listings-feed-schema-v2.example.json")
    sample = next(m for m in example["messages"] if m["operationType"] == "UPDATE")
    ours = message(amazon_listing({**ITEM, "title": sample["attributes"]["item_name"][0]["value"]}))
    assert ours["attributes"]["item_name"] == sample["attributes"]["item_name"]
    assert (ours["operationType"], ours["requirements"]) == (sample["operationType"], sample["requirements"])


def test_structured_attributes_take_amazons_shapes():
    attrs = message(amazon_listing())["attributes"]
    assert attrs["externally_assigned_product_identifier"] == [
        {"type": "upc", "value": "086000000019", "marketplace_id": MARKETPLACE}
    ]
    assert attrs["item_package_dimensions"][0]["length"] == {"value": 10.5, "unit": "centimeters"}
    assert attrs["item_package_weight"] == [{"value": 350, "unit": "grams", "marketplace_id": MARKETPLACE}]
    assert attrs["main_product_image_locator"] == [
        {"media_location": "https://img.example/1.jpg", "marketplace_id": MARKETPLACE}
    ]
    assert [b["value"] for b in attrs["bullet_point"]] == ["Steel", "Two per pack"]
    assert attrs["condition_type"] == [{"value": "new_new", "marketplace_id": MARKETPLACE}]


def test_put_listings_item_model_names_the_same_request_fields():
    model = load_vendor_json("amazon", "listingsItems_2021-08-01.json")
    put = model["definitions"]["ListingsItemPutRequest"]
    ours = message(amazon_listing())
    assert (
        set(put["required"]) <= set(ours)
        and ours["requirements"] in put["properties"]["requirements"]["enum"]
    )


@pytest.mark.parametrize(
    ("change", "attribute"),
    [
        ({"weight": {"value": "heavy", "unit": "g"}}, "item_package_weight"),
        (
            {"dimensions": {"length": 1, "width": 1, "height": 1, "unit": "furlong"}},
            "item_package_dimensions",
        ),
        ({"identifiers": {"upc": "12AB"}}, "externally_assigned_product_identifier"),
        ({"images": ["ftp://img/1.jpg"]}, "main_product_image_locator"),
    ],
)
def test_a_value_amazon_cannot_take_names_its_attribute(change, attribute):
    with pytest.raises(AttributeValueError) as raised:
        message(amazon_listing({**ITEM, **change}))
    assert raised.value.attribute == attribute


def test_processing_report_example_gives_each_refused_message_its_problem():
    report = load_vendor_json("amazon", "listings-feed-processing-report-schema-v2.example.json")
    problems = catalog_feed.report_problems(report)
    assert set(problems) == {4, 5}
    missing, rejected = problems[4], problems[5]
    assert missing.category == "catalog.attribute_missing"
    assert missing.attributes == ("batteries_required", "supplier_declared_dg_hz_regulation")
    assert rejected.category == "catalog.listing_rejected"
    assert rejected.attributes == ("purchasable_offer.our_price",) and "99022" in rejected.detail


def test_warnings_refuse_nothing():
    report = {"issues": [{"messageId": 1, "code": "18448", "severity": "WARNING", "message": "incomplete"}]}
    assert catalog_feed.report_problems(report) == {}
    with pytest.raises(CodecError):
        catalog_feed.report_problems(None)


# -- Shopify ---------------------------------------------------------------------------------------


def test_product_set_carries_the_listing_on_one_default_variant():
    mapping = ChannelMapping.for_channel(
        "shopify", entries={"metafields.custom.dimensions": Source.of("dimensions")}
    )
    variables = encode_product_set(build_listing(ItemRecord.from_plain(ITEM), mapping))
    product = variables["input"]
    assert variables["identifier"] == {"handle": "cd-1001"} and product["handle"] == "cd-1001"
    assert (product["title"], product["vendor"], product["productType"]) == (
        "Steel Hinge",
        "Northwind Tools",
        "Hardware > Hinges",
    )
    (variant,) = product["variants"]
    assert variant["inventoryItem"]["sku"] == "CD-1001" and variant["barcode"] == "086000000019"
    assert variant["inventoryItem"]["measurement"]["weight"] == {"value": 350.0, "unit": "GRAMS"}
    assert variant["optionValues"] == [{"optionName": "Title", "name": "Default Title"}]
    assert product["productOptions"][0]["values"] == [{"name": "Default Title"}]
    assert [f["originalSource"] for f in product["files"]] == ITEM["images"]
    (meta,) = product["metafields"]
    assert (meta["namespace"], meta["key"], meta["type"]) == ("custom", "dimensions", "json")
    assert "price" not in variant  # prices belong to the pricing flow


def test_skus_a_handle_cannot_hold_get_handles_of_their_own():
    def handle(sku: str, **attributes) -> str:
        return encode_product_set(Listing(sku, sku, sku, {"title": "T", **attributes}))["identifier"]["handle"]

    assert handle("CD-1001") == "cd-1001"  # upper case alone keeps the plain handle
    slash, dash, space = handle("PUMP/100"), handle("PUMP-100"), handle("PUMP 100")
    assert dash == "pump-100" and len({slash, dash, space}) == 3
    assert slash.startswith("pump-100-") and slash == handle("PUMP/100")  # stable
    assert handle("PUMP/100", handle="pump-100") == "pump-100"  # a given handle is taken as given


def test_shopify_fields_are_checked():
    assert accepts("vendor") and accepts("metafields.custom.material") and not accepts("item_name")
    listing = Listing("X", "X", None, {"title": "T", "item_name": "T"})
    with pytest.raises(AttributeValueError, match="item_name"):
        encode_product_set(listing)


# -- the ERP's item master -------------------------------------------------------------------------


def test_erp_item_master_page_reads_as_canonical_records():
    sandbox_item = item_record(CatalogItem("CD-1001", "Steel Hinge", 0, 350, 1, 2, 3, "B0X"), 0)
    page = item_page({"items": [{**sandbox_item, "season": "all"}], "missing": [], "next_after": "CD-1001"})
    (record,) = page.records
    assert page.next_after == "CD-1001"
    assert record["title"] == "Steel Hinge" and record["description"].startswith("Steel Hinge by")
    assert record["identifiers"] == {"upc": upc(1)} and record["attributes"] == {"season": "all"}
    assert "unit" not in record and "long_description" not in record
    assert item_page({"items": [], "next_after": None}).next_after is None
    with pytest.raises(CodecError):
        item_page({"items": [{"description": "no code"}]})


def test_sandbox_upcs_carry_a_valid_check_digit():
    for n in (1, 7, 999):
        code = upc(n)
        total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(code[:-1]))
        assert len(code) == 12 and (total + int(code[-1])) % 10 == 0
