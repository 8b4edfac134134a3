from decimal import Decimal

import pytest

from crossdock.domain.errors import (
    CurrencyMismatch,
    InexactConversion,
    InvalidAmount,
    UnitMismatch,
    UnknownConversion,
    UnknownCurrency,
)
from crossdock.domain.money import Money, Quantity, UomConversions

CASES = UomConversions({("CASE", "EA"): 12, ("PALLET", "CASE"): 40})


def test_money_is_decimal_and_normalizes_currency():
    price = Money("19.99", "usd")
    assert price.amount == Decimal("19.99")
    assert price.currency == "USD"


def test_money_refuses_floats():
    with pytest.raises(InvalidAmount):
        Money(0.1, "USD")  # type: ignore[arg-type]


def test_money_refuses_unknown_currency():
    with pytest.raises(UnknownCurrency) as caught:
        Money("1", "XYZ")
    assert caught.value.code == "validation.unknown_currency"
    assert caught.value.hint


def test_money_refuses_mixed_currencies():
    with pytest.raises(CurrencyMismatch):
        Money("1", "USD") + Money("1", "EUR")
    with pytest.raises(CurrencyMismatch):
        _ = Money("1", "USD") < Money("2", "EUR")


def test_money_adds_subtracts_and_multiplies_within_a_currency():
    assert Money("10.00", "USD") + Money("2.50", "USD") - Money("0.50", "USD") == Money("12", "USD")
    assert Money("2.50", "USD") * 3 == Money("7.50", "USD")
    assert 3 * Money("2.50", "USD") == Money("7.50", "USD")
    assert Money.total([], "EUR") == Money.zero("EUR")


def test_rounding_is_half_up_to_the_currency_minor_units():
    assert Money("2.345", "USD").rounded().amount == Decimal("2.35")
    assert Money("-2.345", "USD").rounded().amount == Decimal("-2.35")
    assert Money("1.5", "JPY").rounded().amount == Decimal("2")
    assert Money("1.2345", "KWD").rounded().amount == Decimal("1.235")


def test_money_is_frozen():
    price = Money("1", "USD")
    with pytest.raises(AttributeError):
        price.amount = Decimal(2)  # type: ignore[misc]


def test_case_converts_to_twelve_each():
    assert Quantity(1, "CASE").to("EA", CASES) == Quantity(12, "EA")


def test_each_converts_back_to_cases_and_pallets_chain():
    assert CASES.convert(Quantity(24, "EA"), "CASE") == Quantity(2, "CASE")
    assert CASES.convert(Quantity(1, "PALLET"), "EA") == Quantity(480, "EA")


def test_partial_case_that_is_not_an_exact_decimal_is_refused():
    with pytest.raises(InexactConversion):
        CASES.convert(Quantity(5, "EA"), "CASE")


def test_unknown_unit_conversion_names_the_units():
    with pytest.raises(UnknownConversion) as caught:
        CASES.convert(Quantity(1, "KG"), "EA")
    assert "KG" in caught.value.detail and caught.value.code.startswith("mapping.")


def test_quantities_refuse_mixed_units():
    with pytest.raises(UnitMismatch):
        Quantity(1, "CASE") + Quantity(1, "EA")
