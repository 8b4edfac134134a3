"""Tenant mappings: channel SKUs, units, taxes, shipping, customers and legal entities in ERP terms."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crossdock.domain.errors import DomainError
from crossdock.domain.mapping import (
    CarrierService,
    CustomerPolicy,
    CustomerRule,
    LegalEntityRule,
    MappingErrors,
    MatchBy,
    ShippingMethodRule,
    SkuXref,
    TaxCodeRule,
    TenantMappings,
    UnitConversion,
    UnmatchedPolicy,
)
from crossdock.domain.money import Money, Quantity
from crossdock.domain.order_lines import Discount
from crossdock.domain.orders import Order, OrderLine, ShippingCharge, TaxLine
from crossdock.domain.parties import Address, Customer

US_CA = Address("Ann Buyer", "1 Main St", city="Fresno", region="CA", postal_code="93650", country="US")


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def mappings(**changes) -> TenantMappings:
    base = dict(
        skus=(
            SkuXref("shopify", "WIDGET-001", sku="WID-1"),
            SkuXref("shopify", "WIDGET-001", sku="WID-CASE", uom="CASE"),
            SkuXref("amazon", "WIDGET-001", product_ref="B07WIDGET1"),
            SkuXref("*", "GADGET-9", sku="GADGET-9"),
        ),
        conversions=(UnitConversion("CASE", "EA", Decimal(12)),),
        tax_codes=(
            TaxCodeRule("shopify", "CA State Tax", "CA-STATE", Decimal("0.0725")),
            TaxCodeRule("shopify", "CA State Tax", "CA-STATE-OTHER"),
            TaxCodeRule("amazon", "*", "MARKETPLACE-FACILITATOR"),
        ),
        shipping_methods=(
            ShippingMethodRule("shopify", "Standard", "UPS", "GROUND"),
            ShippingMethodRule("shopify", "express-2d", "FEDEX", "2DAY"),
            ShippingMethodRule("amazon", "*", "UPS", "SUREPOST"),
        ),
        customers=(
            CustomerRule("shopify", MatchBy.EXTERNAL_ID, "207119551", "C-1001"),
            CustomerRule("*", MatchBy.EMAIL, "Buyer@Example.com", "C-2002"),
        ),
        customer_policies={"amazon": CustomerPolicy(UnmatchedPolicy.DEFAULT_ACCOUNT, "C-AMAZON")},
        legal_entities=(
            LegalEntityRule("ACME-CA", countries=frozenset({"CA"})),
            LegalEntityRule(
                "ACME-WEST", regions=frozenset({"US-CA", "US-NV"}), currencies=frozenset({"USD"})
            ),
        ),
        default_legal_entity="ACME-US",
    )
    return TenantMappings(**(base | changes))


def order(
    *lines: OrderLine, channel="shopify", shipping=("Standard",), customer=None, ship_to=US_CA
) -> Order:
    charges = tuple(ShippingCharge(title, usd("5.00")) for title in shipping)
    customer = customer if customer is not None else Customer("207119551", email="ann@example.com")
    return Order(channel, "1001", "USD", list(lines), customer=customer, ship_to=ship_to, shipping=charges)


def line(sku="WID-1", qty=2, price="3.00", **kw) -> OrderLine:
    return OrderLine(kw.pop("line_id", "L1"), sku, qty, usd(price), **kw)


def problems_of(mapped_order: Order, m: TenantMappings | None = None, channel=None) -> MappingErrors:
    with pytest.raises(MappingErrors) as caught:
        (m or mappings()).map_order(mapped_order, channel)
    return caught.value


# -- items and units ------------------------------------------------------------------------


def test_channel_sku_maps_to_the_item_code_with_quantity_and_price_unchanged_in_each():
    mapped = mappings().map_order(order(line()))
    (only,) = mapped.lines
    assert (only.item_code, only.quantity, only.unit_price) == ("WIDGET-001", Quantity(2, "EA"), usd("3.00"))
    assert only.channel_sku == "WID-1" and only.amount == usd("6.00")


def test_case_of_twelve_becomes_twelve_each_at_one_twelfth_the_price():
    (only,) = mappings().map_order(order(line("WID-CASE", qty=2, price="24.00"))).lines
    assert only.quantity == Quantity(24, "EA")
    assert only.unit_price == usd("2.00")
    assert only.amount == usd("48.00") and only.channel_quantity == Quantity(2, "EA")


def test_units_the_channel_removed_before_posting_are_not_asked_of_the_erp():
    edited = line("WID-CASE", qty=3, price="24.00", cancelled=Decimal(1), discounts=(Discount(usd("6.00")),))
    removed = line("GADGET-9", qty=1, price="9.00", line_id="L2", cancelled=Decimal(1))
    unmapped_but_removed = line("NOPE", qty=1, price="1.00", line_id="L3", cancelled=Decimal(1))
    (only,) = mappings().map_order(order(edited, removed, unmapped_but_removed)).lines
    assert (only.quantity, only.channel_quantity) == (Quantity(24, "EA"), Quantity(2, "EA"))
    assert only.discount == usd("4.00")  # the two wanted cases' share of the discount for three


def test_item_pack_size_overrides_the_tenant_pack_size():
    m = mappings(
        conversions=(UnitConversion("CASE", "EA", 12), UnitConversion("CASE", "EA", 24, "WIDGET-001"))
    )
    (only,) = m.map_order(order(line("WID-CASE", qty=1, price="48.00"))).lines
    assert (only.quantity, only.unit_price) == (Quantity(24, "EA"), usd("2.00"))


def test_unit_price_that_does_not_divide_evenly_is_rounded_to_six_places_and_amount_kept():
    (only,) = mappings().map_order(order(line("WID-CASE", qty=1, price="10.00"))).lines
    assert only.unit_price == usd("0.833333") and only.amount == usd("10.00")


def test_amazon_line_maps_by_asin_when_the_seller_sku_is_unknown():
    m = mappings(customer_policies={"amazon": CustomerPolicy(UnmatchedPolicy.CREATE)})
    mapped = m.map_order(order(line("SELLER-X", channel_product_ref="B07WIDGET1"), channel="amazon"))
    assert mapped.lines[0].item_code == "WIDGET-001"
    assert mapped.carrier_service == CarrierService("UPS", "SUREPOST")


def test_a_cross_reference_for_every_channel_applies_to_any_channel():
    assert mappings().map_order(order(line("GADGET-9"))).lines[0].item_code == "GADGET-9"


def test_unknown_sku_names_the_sku_and_channel():
    error = problems_of(order(line("NOPE-7")))
    assert error.code == "mapping.sku_unknown"
    assert "'NOPE-7'" in error.detail and "'shopify'" in error.detail
    assert error.hint == "Add a SKU cross-reference for NOPE-7 on channel shopify."


def test_unknown_unit_names_the_units_and_the_item():
    m = mappings(skus=(SkuXref("shopify", "WIDGET-001", sku="WID-PALLET", uom="PALLET"),))
    error = problems_of(order(line("WID-PALLET")), m)
    assert error.code == "mapping.uom_unknown"
    assert "PALLET to EA" in error.detail and "WIDGET-001" in error.detail


def test_reverse_lookup_lists_every_listing_of_an_item_on_a_channel():
    refs = mappings().channel_refs("WIDGET-001", "shopify")
    assert [r.sku for r in refs] == ["WID-1", "WID-CASE"]


def test_two_cross_references_for_one_channel_sku_are_refused():
    with pytest.raises(DomainError, match="two SKU rules"):
        mappings(skus=(SkuXref("shopify", "A", sku="X"), SkuXref("shopify", "B", sku="X")))


# -- taxes and shipping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "rate", "code"),
    [
        ("CA State Tax", Decimal("0.0725"), "CA-STATE"),
        ("ca  state tax", Decimal("0.07250"), "CA-STATE"),
        ("CA State Tax", Decimal("0.05"), "CA-STATE-OTHER"),
        ("CA State Tax", None, "CA-STATE-OTHER"),
    ],
)
def test_tax_title_and_rate_map_to_the_most_specific_tax_code(title, rate, code):
    assert mappings().tax_code("shopify", title, rate) == code


def test_line_and_shipping_taxes_carry_their_erp_tax_codes():
    tax = (TaxLine("CA State Tax", usd("0.44"), Decimal("0.0725")),)
    shopify = order(line(tax_lines=tax))
    charge = ShippingCharge("Standard", usd("5.00"), tax_lines=(TaxLine("CA State Tax", usd("0.36")),))
    shopify.shipping = (charge,)
    mapped = mappings().map_order(shopify)
    assert mapped.lines[0].tax_codes == ("CA-STATE",) and mapped.shipping_tax_codes == ("CA-STATE-OTHER",)


@pytest.mark.parametrize(
    ("channel", "method", "expected"),
    [
        ("shopify", "standard", CarrierService("UPS", "GROUND")),
        ("shopify", "express-2d", CarrierService("FEDEX", "2DAY")),
        ("amazon", "shipping for item 123", CarrierService("UPS", "SUREPOST")),
        ("shopify", "Drone", None),
    ],
)
def test_shipping_method_maps_by_code_then_title_then_channel_default(channel, method, expected):
    assert mappings().shipping_method(channel, None, method) == expected


def test_unknown_tax_and_shipping_method_are_both_reported():
    tax = (TaxLine("Mystery Tax", usd("0.10")),)
    error = problems_of(order(line(tax_lines=tax), shipping=("Drone",)))
    assert error.codes == ("mapping.tax_code_unknown", "mapping.shipping_method_unknown")
    assert "'Mystery Tax'" in error.detail and "'Drone'" in error.detail


# -- customers and legal entities ------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "customer", "expected"),
    [
        ("shopify", Customer("207119551"), ("C-1001", "external_id", False)),
        ("shopify", Customer("999", email="buyer@example.COM"), ("C-2002", "email", False)),
        ("amazon", Customer(email="someone@marketplace.example"), ("C-AMAZON", "default_account", False)),
        ("ebay", Customer(email="buyer@example.com"), ("C-2002", "email", False)),
    ],
)
def test_customer_is_matched_by_external_id_then_email_then_the_channel_policy(channel, customer, expected):
    m = mappings(
        skus=(SkuXref("*", "WIDGET-001", sku="WID-1"),),
        shipping_methods=(ShippingMethodRule("*", "*", "UPS", "GROUND"),),
    )
    ref = m.map_order(order(line(), channel=channel, customer=customer)).customer
    assert (ref.code, ref.matched_by, ref.create) == expected


def test_unmatched_customer_with_create_policy_asks_the_erp_step_to_create_one():
    m = mappings(customer_policies={"*": CustomerPolicy(UnmatchedPolicy.CREATE)})
    ref = m.map_order(order(line(), customer=Customer("new-1", email="new@example.com"))).customer
    assert ref.create and ref.code is None


def test_unmatched_customer_without_policy_is_a_customer_unknown_problem():
    error = problems_of(order(line(), customer=Customer("new-1", email="new@example.com")))
    assert error.code == "mapping.customer_unknown" and "new@example.com" in error.detail


@pytest.mark.parametrize(
    ("ship_to", "channel", "entity"),
    [
        (Address(country="CA", region="ON"), "shopify", "ACME-CA"),
        (US_CA, "shopify", "ACME-WEST"),
        (Address(country="US", region="NV"), "shopify", "ACME-WEST"),
        (Address(country="US", region="TX"), "shopify", "ACME-US"),
    ],
)
def test_legal_entity_is_the_first_matching_rule_else_the_default(ship_to, channel, entity):
    assert mappings().map_order(order(line(), channel=channel, ship_to=ship_to)).legal_entity == entity


def test_no_matching_rule_and_no_default_is_a_legal_entity_problem():
    error = problems_of(
        order(line(), ship_to=Address(country="US", region="TX")), mappings(default_legal_entity=None)
    )
    assert error.code == "mapping.legal_entity_unknown" and "US/TX" in error.detail


# -- every problem at once ---------------------------------------------------------------------


def test_every_problem_is_reported_and_the_category_is_the_first_by_precedence():
    bad = order(
        line("NOPE-1", line_id="L1"),
        line("NOPE-2", line_id="L2", tax_lines=(TaxLine("Mystery Tax", usd("0.10")),)),
        shipping=("Drone",),
        customer=Customer("x", email="x@example.com"),
        ship_to=Address(country="US", region="TX"),
    )
    error = problems_of(bad, mappings(default_legal_entity=None))
    assert error.codes == (
        "mapping.sku_unknown",
        "mapping.tax_code_unknown",
        "mapping.shipping_method_unknown",
        "mapping.customer_unknown",
        "mapping.legal_entity_unknown",
    )
    assert error.code == "mapping.sku_unknown" and len(error.problems) == 6
    assert [p.detail for p in error.problems[:2]] == [
        "SKU 'NOPE-1' on channel 'shopify' has no item cross-reference (line L1)",
        "SKU 'NOPE-2' on channel 'shopify' has no item cross-reference (line L2)",
    ]
    assert isinstance(error, DomainError) and "NOPE-2 on channel shopify" in error.hint


def test_mappings_compare_equal_whatever_the_order_of_their_rules():
    m = mappings()
    shuffled = mappings(
        skus=tuple(reversed(mappings().skus)), tax_codes=tuple(reversed(mappings().tax_codes))
    )
    assert shuffled == m
