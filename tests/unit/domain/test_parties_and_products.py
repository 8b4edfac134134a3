from crossdock.domain.money import Quantity
from crossdock.domain.parties import Address
from crossdock.domain.products import Dimensions, Item, gtin_check_digit_ok


def test_complete_address_has_no_missing_fields():
    address = Address(name="Ada", line1="1 Main St", city="Springfield", postal_code="12345", country="us")
    assert address.missing_fields() == ()
    assert address.country == "US"


def test_name_line1_city_and_country_are_required():
    assert Address(postal_code="1").missing_fields() == ("name", "line1", "city", "country")


def test_postal_code_required_where_the_country_uses_one():
    address = Address(name="Ada", line1="1 Main St", city="Paris", country="FR")
    assert address.missing_fields() == ("postal_code",)


def test_postal_code_not_required_where_the_country_has_none():
    address = Address(name="Ada", line1="1 Queen's Rd", city="Hong Kong", country="HK")
    assert address.is_complete()


def test_blank_strings_count_as_missing():
    assert "city" in Address(name="Ada", line1="x", city="  ", country="US", postal_code="1").missing_fields()


def test_item_carries_identifiers_dimensions_and_weight():
    item = Item(
        "SKU-1", "Widget", identifiers={"gtin": "4006381333931"},
        dimensions=Dimensions("10", "5", "2"), weight=Quantity("0.25", "KG"),
    )  # fmt: skip
    assert item.gtin == "4006381333931" and gtin_check_digit_ok(item.gtin)
    assert item.dimensions is not None and item.dimensions.length == 10


def test_gtin_check_digit_is_verified():
    assert gtin_check_digit_ok("036000291452")  # UPC-A
    assert not gtin_check_digit_ok("036000291453")
    assert not gtin_check_digit_ok("ABC")
