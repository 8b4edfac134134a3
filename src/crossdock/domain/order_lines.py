"""Order lines and the charges around them: what was bought, at what price, and how far along.

Quantities are Decimals in the line's unit of measure. Per line, always:
shipped + cancelled ≤ ordered, allocated + backordered ≤ open, returned ≤ shipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from crossdock.domain.errors import CurrencyMismatch, InvalidQuantity, QuantityRuleViolation
from crossdock.domain.money import Money, Quantity, to_decimal
from crossdock.domain.order_status import OrderStatus, Tally, derive_status

# How close a converted quantity must come to a line's open quantity to be that quantity.
# Pack sizes make conversions divide (1 PK = 3 EA: 1/3 of a pack per each), and 28-digit
# Decimals leave a residue that exact units never have (3 × 1/3 = 0.999…9).
CONVERSION_RESIDUE = Decimal("1e-18")


def in_line_units(quantity: Decimal, line_units: Decimal, other_units: Decimal, open_: Decimal) -> Decimal:
    """`quantity` in another system's units (an ERP's or a warehouse's), in a line's units,
    where `line_units` of the line are `other_units` of the other system: multiplied before
    it is divided, and the line's `open_` quantity when within a conversion's residue of it,
    so a line shipped or cancelled in full is exactly done."""
    units = quantity * line_units / other_units
    return open_ if abs(units - open_) <= CONVERSION_RESIDUE else units


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One tax on a line or charge. `rate` is a fraction (0.2 for 20 %) when known."""

    title: str
    amount: Money
    rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Discount:
    """A reduction of a line, a charge or the whole order, as a positive amount."""

    amount: Money
    title: str = ""
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ShippingCharge:
    """What the buyer pays for delivery, before `discounts`, excluding `tax_lines`."""

    title: str
    amount: Money
    code: str | None = None
    discounts: tuple[Discount, ...] = ()
    tax_lines: tuple[TaxLine, ...] = ()

    @property
    def net_amount(self) -> Money:
        return self.amount - Money.total((d.amount for d in self.discounts), self.amount.currency)

    @property
    def tax_total(self) -> Money:
        return Money.total((t.amount for t in self.tax_lines), self.amount.currency)


def _count(value: object, what: str) -> Decimal:
    result = to_decimal(value, what)
    if result < 0:
        raise InvalidQuantity(f"{what} must not be negative, got {result}")
    return result


def _positive(value: object, what: str = "quantity") -> Decimal:
    result = _count(value, what)
    if result == 0:
        raise InvalidQuantity(f"{what} must be positive")
    return result


@dataclass(eq=False)
class OrderLine:
    """One line of an order. `amount` is the extended price before discounts and defaults
    to unit_price × ordered; channels that quote extended prices set it directly."""

    line_id: str
    sku: str | None
    ordered: Decimal
    unit_price: Money
    amount: Money | None = None
    uom: str = "EA"
    description: str = ""
    channel_product_ref: str | None = None  # the channel's own product key (variant id, ASIN)
    discounts: tuple[Discount, ...] = ()
    tax_lines: tuple[TaxLine, ...] = ()
    allocated: Decimal = field(default=Decimal(0))
    backordered: Decimal = field(default=Decimal(0))
    shipped: Decimal = field(default=Decimal(0))
    cancelled: Decimal = field(default=Decimal(0))
    returned: Decimal = field(default=Decimal(0))

    def __post_init__(self) -> None:
        for name in ("ordered", "allocated", "backordered", "shipped", "cancelled", "returned"):
            setattr(self, name, _count(getattr(self, name), f"line {self.line_id} {name}"))
        self.sku = (self.sku.strip() or None) if isinstance(self.sku, str) else None
        if self.amount is None:
            self.amount = self.unit_price * self.ordered
        self._check_currencies()
        self._check_invariants()

    def _check_currencies(self) -> None:
        money = [self.amount, *(d.amount for d in self.discounts), *(t.amount for t in self.tax_lines)]
        if any(m.currency != self.unit_price.currency for m in money):
            raise CurrencyMismatch(f"line {self.line_id} mixes currencies")

    def _check_invariants(self) -> None:
        problems = []
        if self.shipped + self.cancelled > self.ordered:
            problems.append("shipped + cancelled exceeds ordered")
        if self.allocated + self.backordered > self.open:
            problems.append("allocated + backordered exceeds open")
        if self.returned > self.shipped:
            problems.append("returned exceeds shipped")
        if problems:
            raise QuantityRuleViolation(f"line {self.line_id}: " + "; ".join(problems))

    # -- derived values -------------------------------------------------------------

    @property
    def open(self) -> Decimal:
        """Units still to ship: ordered − shipped − cancelled."""
        return self.ordered - self.shipped - self.cancelled

    @property
    def unreserved(self) -> Decimal:
        """Open units neither allocated nor backordered."""
        return self.open - self.allocated - self.backordered

    @property
    def quantity(self) -> Quantity:
        return Quantity(self.ordered, self.uom)

    @property
    def tally(self) -> Tally:
        return Tally(
            self.ordered, self.allocated, self.backordered, self.shipped, self.cancelled, self.returned
        )

    @property
    def status(self) -> OrderStatus:
        return derive_status(self.tally)

    @property
    def currency(self) -> str:
        return self.unit_price.currency

    @property
    def discount_total(self) -> Money:
        return Money.total((d.amount for d in self.discounts), self.currency)

    @property
    def tax_total(self) -> Money:
        return Money.total((t.amount for t in self.tax_lines), self.currency)

    @property
    def net_amount(self) -> Money:
        """Extended price after the line's discounts, before tax."""
        assert self.amount is not None  # set in __post_init__
        return self.amount - self.discount_total

    # -- state changes, called through Order's business verbs ----------------------

    def _refuse(self, verb: str, quantity: Decimal, limit: Decimal, what: str) -> None:
        if quantity > limit:
            raise QuantityRuleViolation(
                f"cannot {verb} {quantity} of line {self.line_id}: only {limit} {what}",
                "Re-read the order; another change may have happened first.",
            )

    def allocate(self, quantity: object) -> Decimal:
        qty = _positive(quantity)
        self._refuse("allocate", qty, self.open - self.allocated, "open and unallocated")
        self.allocated += qty
        self.backordered = min(self.backordered, self.open - self.allocated)
        return qty

    def release(self, quantity: object) -> Decimal:
        qty = _positive(quantity)
        self._refuse("release", qty, self.allocated, "allocated")
        self.allocated -= qty
        return qty

    def backorder(self, quantity: object) -> Decimal:
        qty = _positive(quantity)
        self._refuse("backorder", qty, self.unreserved, "neither allocated nor backordered")
        self.backordered += qty
        return qty

    def ship(self, quantity: object) -> Decimal:
        """Ship open units, consuming their allocation first."""
        qty = _positive(quantity)
        self._refuse("ship", qty, self.open, "open")
        self.allocated -= min(self.allocated, qty)
        self.shipped += qty
        self.backordered = min(self.backordered, self.open - self.allocated)
        return qty

    def cancel(self, quantity: object) -> Decimal:
        """Cancel open units: unreserved first, then backordered, then allocated.
        Returns how many allocated units were released."""
        qty = _positive(quantity)
        self._refuse("cancel", qty, self.open, "open")
        rest = qty - min(qty, self.unreserved)
        from_backorder = min(rest, self.backordered)
        released = rest - from_backorder
        self.backordered -= from_backorder
        self.allocated -= released
        self.cancelled += qty
        return released

    def record_return(self, quantity: object) -> Decimal:
        qty = _positive(quantity)
        self._refuse("return", qty, self.shipped - self.returned, "shipped and not yet returned")
        self.returned += qty
        return qty
