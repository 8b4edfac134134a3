"""Typed domain errors: a broken business rule, with a code the exception desk can group by.

Codes follow the dotted categories of the exception queue (``validation.*``,
``mapping.*``, ``business.*``) so a handler can turn a `DomainError` into a parked
exception without guessing. The domain itself imports nothing of Crossdock's but itself.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the canonical model was broken. `hint` tells an operator how to fix it."""

    code = "business.rule"

    def __init__(self, code: str, detail: str, hint: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.hint = hint


class _Coded(DomainError):
    """A domain error whose code is fixed by its class."""

    def __init__(self, detail: str, hint: str = "") -> None:
        super().__init__(type(self).code, detail, hint)


class InvalidAmount(_Coded):
    code = "validation.invalid_amount"


class UnknownCurrency(_Coded):
    code = "validation.unknown_currency"


class CurrencyMismatch(_Coded):
    code = "business.currency_mismatch"


class InvalidQuantity(_Coded):
    code = "validation.invalid_quantity"


class UnitMismatch(_Coded):
    code = "business.unit_mismatch"


class UnknownConversion(_Coded):
    code = "mapping.uom_conversion_missing"


class InexactConversion(_Coded):
    code = "business.inexact_uom_conversion"


class LineNotFound(_Coded):
    code = "business.unknown_order_line"


class QuantityRuleViolation(_Coded):
    code = "business.quantity_rule"


class TotalsMismatch(_Coded):
    code = "business.totals_mismatch"


class InvalidShipment(_Coded):
    code = "validation.invalid_shipment"


class UnknownChannelStatus(_Coded):
    code = "mapping.unknown_status"
