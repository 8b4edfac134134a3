from decimal import Decimal

import pytest

from crossdock.domain.errors import CurrencyMismatch, TotalsMismatch
from crossdock.domain.money import Money
from crossdock.domain.orders import Discount, Order, OrderLine, ShippingCharge, TaxLine


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def make_order(stated: str | None, *, taxes_included: bool = False) -> Order:
    line = OrderLine(
        "L1", "SKU", 3, usd("9.99"),
        discounts=(Discount(usd("2.00"), "promo"),),
        tax_lines=(TaxLine("VAT", usd("2.40"), Decimal("0.1")),),
    )  # fmt: skip
    shipping = ShippingCharge(
        "Ground", usd("5.00"), discounts=(Discount(usd("1.00")),), tax_lines=(TaxLine("VAT", usd("0.40")),)
    )
    return Order(
        "shopify", "1", "USD", [line], shipping=(shipping,), order_discounts=(Discount(usd("0.97")),),
        stated_total=usd(stated) if stated else None, taxes_included=taxes_included,
    )  # fmt: skip


def test_lines_total_is_price_times_quantity_before_discounts():
    assert make_order(None).lines_total == usd("29.97")


def test_expected_total_is_lines_minus_discounts_plus_shipping_plus_tax():
    # 29.97 - 2.00 - 0.97 + (5.00 - 1.00) + 2.40 + 0.40
    assert make_order(None).expected_total() == usd("33.80")


def test_taxes_included_are_not_added_twice():
    assert make_order(None, taxes_included=True).expected_total() == usd("31.00")


def test_totals_must_add_up_within_a_cent():
    make_order("33.81").check_totals()
    make_order("33.79").check_totals()
    with pytest.raises(TotalsMismatch) as caught:
        make_order("33.82").check_totals()
    assert "33.80" in caught.value.detail and caught.value.hint


def test_tolerance_can_be_widened_for_channels_that_round_per_unit():
    make_order("33.85").check_totals(tolerance=Decimal("0.05"))


def test_no_stated_total_means_nothing_to_check():
    make_order(None).check_totals()


def test_extended_amount_may_be_given_by_the_channel():
    line = OrderLine("L1", "SKU", 3, usd("3.333333"), amount=usd("10.00"))
    assert Order("amazon", "1", "USD", [line]).lines_total == usd("10.00")


def test_an_order_cannot_mix_currencies():
    with pytest.raises(CurrencyMismatch):
        Order("shopify", "1", "USD", [OrderLine("L1", "SKU", 1, Money("1", "EUR"))])
