"""Validation before the ERP: every problem named, with a hint, most important first."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crossdock.domain.mapping import SkuXref, TenantMappings, UnitConversion
from crossdock.domain.mapping_rules import CustomerPolicy, ShippingMethodRule, UnmatchedPolicy
from crossdock.domain.money import Money
from crossdock.domain.orders import Order, OrderLine, ShippingCharge
from crossdock.domain.parties import Address
from crossdock.domain.validation import ValidationErrors, ValidationRules, check_order, validate_order

HOME = Address("Ann Buyer", "1 Main St", city="Austin", region="TX", postal_code="78701", country="US")


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def order(*lines: OrderLine, stated="11.00", ship_to=HOME, order_id="1001", currency="USD") -> Order:
    lines = lines or (OrderLine("L1", "WIDGET-001", 2, Money("3.00", currency)),)
    shipping = (ShippingCharge("Standard", Money("5.00", currency)),)
    total = Money(stated, currency) if stated else None
    return Order(
        "shopify", order_id, currency, list(lines), ship_to=ship_to, shipping=shipping, stated_total=total
    )


def codes(problems) -> list[str]:
    return [p.code for p in problems]


def test_a_complete_order_has_no_problems():
    assert validate_order(order()) == []
    check_order(order())


@pytest.mark.parametrize(
    ("bad_order", "code", "words"),
    [
        (order(order_id=" "), "validation.required_field", "channel order id"),
        (Order("shopify", "1", "USD", [], ship_to=HOME), "validation.required_field", "no lines"),
        (
            order(OrderLine("L9", None, 2, usd("3.00"))),
            "validation.required_field",
            "line L9 has neither a SKU nor a product id",
        ),
        (
            order(OrderLine("L1", "W", 0, usd("3.00")), stated=None),
            "validation.quantity_invalid",
            "L1 orders 0",
        ),
        (order(stated="12.50"), "validation.totals_mismatch", "11.00 USD"),
        (order(ship_to=None), "validation.address_incomplete", "no shipping address"),
        (
            order(ship_to=Address("Ann", city="Austin", country="US")),
            "validation.address_incomplete",
            "line1, postal_code",
        ),
    ],
)
def test_each_rule_names_what_is_wrong(bad_order, code, words):
    (problem,) = validate_order(bad_order)
    assert problem.code == code and words in problem.detail and problem.hint


def test_a_line_known_by_its_product_id_alone_needs_no_sku():
    by_asin = OrderLine("L1", None, 2, usd("3.00"), channel_product_ref="B07WIDGET1")
    assert validate_order(order(by_asin)) == []


def test_totals_within_a_cent_pass():
    assert validate_order(order(stated="11.01")) == []


def test_currency_the_tenant_does_not_trade_in_is_refused():
    (problem,) = validate_order(order(currency="EUR"), known_currencies={"USD", "CAD"})
    assert problem.code == "validation.currency_unknown" and "EUR" in problem.detail
    assert validate_order(order(currency="EUR")) == []  # any ISO code when the tenant sets none


@pytest.mark.parametrize(
    ("price", "listed", "tolerance", "ok"),
    [
        ("3.00", "3.00", "0", True),
        ("3.15", "3.00", "5", True),
        ("3.16", "3.00", "5", False),
        ("2.85", "3.00", "5", True),
        ("2.84", "3.00", "5", False),
    ],
)
def test_price_must_be_within_tolerance_of_the_price_list(price, listed, tolerance, ok):
    line = OrderLine("L1", "WIDGET-001", 1, usd(price))
    problems = validate_order(
        order(line, stated=None),
        price_list={"WIDGET-001": usd(listed)},
        price_tolerance_percent=Decimal(tolerance),
    )
    assert (problems == []) is ok
    if not ok:
        (problem,) = problems
        assert problem.code == "business.price_mismatch"
        assert f"{price} USD" in problem.detail and f"{listed} USD" in problem.detail
        assert "WIDGET-001" in problem.detail and f"tolerance {tolerance}%" in problem.detail


def test_price_check_on_a_mapped_order_compares_per_erp_unit():
    m = TenantMappings(
        skus=(SkuXref("shopify", "WIDGET-001", sku="WID-CASE", uom="CASE"),),
        conversions=(UnitConversion("CASE", "EA", 12),),
        shipping_methods=(ShippingMethodRule("*", "*", "UPS", "GROUND"),),
        customer_policies={"*": CustomerPolicy(UnmatchedPolicy.CREATE)},
        default_legal_entity="ACME-US",
    )
    mapped = m.map_order(order(OrderLine("L1", "WID-CASE", 1, usd("24.00")), stated=None))
    assert validate_order(mapped, price_list={"WIDGET-001": usd("2.00")}) == []
    (problem,) = validate_order(mapped, price_list={"WIDGET-001": usd("2.50")}, price_tolerance_percent=10)
    assert problem.code == "business.price_mismatch"


def test_all_problems_are_raised_together_with_the_most_important_first():
    bad = order(OrderLine("L1", None, 2, usd("3.00")), stated="99.00", ship_to=None)
    with pytest.raises(ValidationErrors) as caught:
        check_order(bad, known_currencies={"CAD"})
    error = caught.value
    assert error.codes == (
        "validation.required_field",
        "validation.currency_unknown",
        "validation.totals_mismatch",
        "validation.address_incomplete",
    )
    assert error.code == "validation.required_field" and "Add USD" in error.hint


def test_rules_refuse_a_negative_tolerance():
    with pytest.raises(Exception, match="must not be negative"):
        ValidationRules(price_tolerance_percent=Decimal(-1))
