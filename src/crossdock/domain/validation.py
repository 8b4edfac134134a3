"""Checks an order must pass before it goes to the ERP, every problem reported at once.

`validate_order` returns the problems; `check_order` raises them as one
`ValidationErrors`. Given a `MappedOrder`, the price check compares the ERP item's list
price with the mapped unit price (per ERP unit); given a plain `Order`, it keys the
price list by the channel SKU, for tenants whose channel SKUs are their item codes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from crossdock.domain.errors import DomainError, TotalsMismatch
from crossdock.domain.mapping_rules import MappedOrder, ProblemList
from crossdock.domain.money import KNOWN_CURRENCIES, Money, to_decimal
from crossdock.domain.orders import Order

REQUIRED = "validation.required_field"
QUANTITY = "validation.quantity_invalid"
TOTALS = "validation.totals_mismatch"
CURRENCY = "validation.currency_unknown"
ADDRESS = "validation.address_incomplete"
PRICE = "business.price_mismatch"


class ValidationErrors(ProblemList):
    """An order that must not reach the ERP. Precedence: what makes the order unreadable
    first (missing fields, currency), then what makes it wrong (quantities, totals), then
    what stops fulfilment (address), then commercial rules (price)."""

    precedence = (REQUIRED, CURRENCY, QUANTITY, TOTALS, ADDRESS, PRICE)


@dataclass(frozen=True, slots=True)
class ValidationRules:
    """A tenant's validation settings. `known_currencies` None: any ISO 4217 code."""

    known_currencies: frozenset[str] | None = None
    price_tolerance_percent: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        tolerance = to_decimal(self.price_tolerance_percent, "price tolerance")
        if tolerance < 0:
            raise DomainError("validation.invalid_rule", "price tolerance must not be negative")
        object.__setattr__(self, "price_tolerance_percent", tolerance)
        if self.known_currencies is not None:
            object.__setattr__(self, "known_currencies", frozenset(self.known_currencies))


def validate_order(
    order: Order | MappedOrder,
    *,
    known_currencies: Collection[str] | None = None,
    price_list: Mapping[str, Money] | None = None,
    price_tolerance_percent: object = Decimal(0),
) -> list[DomainError]:
    """Every problem with `order`, most important first (empty when it may go on)."""
    mapped = order if isinstance(order, MappedOrder) else None
    source = mapped.order if mapped else order
    assert isinstance(source, Order)
    problems = [
        *_required_fields(source),
        *_currency(source, known_currencies),
        *_quantities(source),
        *_totals(source),
        *_address(source),
    ]
    if price_list:
        tolerance = to_decimal(price_tolerance_percent, "price tolerance")
        problems += _prices(source, mapped, price_list, tolerance)
    return sorted(problems, key=ValidationErrors._rank)


def check_order(order: Order | MappedOrder, **rules) -> None:
    """`validate_order`, raising one `ValidationErrors` when anything is wrong."""
    problems = validate_order(order, **rules)
    if problems:
        source = order.order if isinstance(order, MappedOrder) else order
        raise ValidationErrors(f"order {source.ref} is not valid", problems)


def _required_fields(order: Order) -> Iterator[DomainError]:
    def missing(what: str, hint: str) -> DomainError:
        return DomainError(REQUIRED, f"order {order.ref}: {what}", hint)

    if not order.channel_order_id or not order.channel_order_id.strip():
        yield missing("the channel order id is missing", "Check the channel's codec: every order has an id.")
    if not order.currency:
        yield missing("the currency is missing", "Set the order's currency (ISO 4217) at the channel.")
    if not order.lines:
        yield missing("the order has no lines", "Edit the order at the channel to add its items.")
    for line in order.lines:
        if line.sku is None and line.channel_product_ref is None:  # a product id (an ASIN) maps too
            yield missing(
                f"line {line.line_id} has neither a SKU nor a product id",
                "Give the product a SKU at the channel, then resubmit the order.",
            )


def _currency(order: Order, known: Collection[str] | None) -> Iterator[DomainError]:
    accepted = KNOWN_CURRENCIES if known is None else {c.upper() for c in known}
    if order.currency and order.currency not in accepted:
        yield DomainError(
            CURRENCY,
            f"order {order.ref} is in {order.currency}, which this tenant does not trade in "
            f"(accepted: {', '.join(sorted(accepted))})",
            f"Add {order.currency} to the tenant's validation currencies, or fix the channel's currency.",
        )


def _quantities(order: Order) -> Iterator[DomainError]:
    for line in order.lines:
        if line.ordered <= 0:
            yield DomainError(
                QUANTITY,
                f"order {order.ref} line {line.line_id} orders {line.ordered} {line.uom}",
                "Every line must order a positive quantity; remove the line or correct it at the channel.",
            )


def _totals(order: Order) -> Iterator[DomainError]:
    try:
        order.check_totals()
    except TotalsMismatch as exc:
        yield DomainError(TOTALS, exc.detail, exc.hint)


def _address(order: Order) -> Iterator[DomainError]:
    hint = "Complete the shipping address at the channel (or edit and resubmit the order)."
    if order.ship_to is None:
        yield DomainError(ADDRESS, f"order {order.ref} has no shipping address", hint)
        return
    missing = order.ship_to.missing_fields()
    if missing:
        yield DomainError(
            ADDRESS, f"order {order.ref}: the shipping address lacks {', '.join(missing)}", hint
        )


def _prices(
    order: Order, mapped: MappedOrder | None, price_list: Mapping[str, Money], tolerance: Decimal
) -> Iterator[DomainError]:
    if mapped is not None:
        priced = [(line.line_id, line.item_code, line.unit_price) for line in mapped.lines]
    else:
        priced = [(line.line_id, line.sku, line.unit_price) for line in order.lines if line.sku]
    for line_id, item, price in priced:
        listed = price_list.get(item)
        if listed is not None and not _within(price, listed, tolerance):
            yield DomainError(
                PRICE,
                f"order {order.ref} line {line_id}: item {item} sells at {price} on channel "
                f"{order.channel!r}, the price list says {listed} (tolerance {tolerance}%)",
                f"Correct the channel's price for {item}, update the price list, or widen the tolerance.",
            )


def _within(price: Money, listed: Money, tolerance: Decimal) -> bool:
    if price.currency != listed.currency:
        return False
    gap = abs(price.amount - listed.amount)
    if listed.amount == 0:
        return gap == 0
    return gap * 100 <= abs(listed.amount) * tolerance
