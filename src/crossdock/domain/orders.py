"""The canonical order: lines, charges, parties and the business verbs that move it along.

`Order.status` is derived from line quantities (see `order_status`). Every verb checks
its rule, changes the lines and records a past-tense event in `order.events`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from crossdock.domain import events
from crossdock.domain.errors import CurrencyMismatch, DomainError, LineNotFound, TotalsMismatch
from crossdock.domain.money import Money, normalize_currency, to_decimal
from crossdock.domain.order_lines import Discount, OrderLine, ShippingCharge, TaxLine
from crossdock.domain.order_status import OrderStatus, Tally, derive_status
from crossdock.domain.parties import Address, Customer

__all__ = ["Discount", "Order", "OrderLine", "OrderStatus", "ShippingCharge", "TaxLine"]


@dataclass(eq=False)
class Order:
    """An order as Crossdock knows it, whichever channel it came from.

    `stated_total` is the grand total the channel announced; `check_totals` compares it
    with what the lines and charges add up to. `taxes_included` means line and
    shipping amounts already contain their tax. `hold_reason` is set while the channel
    says the order must not be fulfilled yet (payment not authorized, pre-order).
    """

    channel: str
    channel_order_id: str
    currency: str
    lines: list[OrderLine] = field(default_factory=list)
    name: str | None = None
    placed_at: datetime | None = None
    customer: Customer | None = None
    ship_to: Address | None = None
    bill_to: Address | None = None
    shipping: tuple[ShippingCharge, ...] = ()
    order_discounts: tuple[Discount, ...] = ()
    taxes_included: bool = False
    stated_total: Money | None = None
    hold_reason: str | None = None
    channel_status: str | None = None  # the channel's own words, kept for audit
    acknowledged_at: datetime | None = None  # when the channel was told the order is accepted
    events: list[events.Event] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.currency = normalize_currency(self.currency)
        ids = [line.line_id for line in self.lines]
        if len(ids) != len(set(ids)):
            raise DomainError("validation.duplicate_line", f"order {self.ref} repeats a line id")
        if any(m.currency != self.currency for m in self._all_money()):
            raise CurrencyMismatch(f"order {self.ref} mixes currencies with {self.currency}")

    def _all_money(self) -> list[Money]:
        money = [line.unit_price for line in self.lines]
        money += [charge.amount for charge in self.shipping]
        money += [d.amount for d in self.order_discounts]
        return money + ([self.stated_total] if self.stated_total else [])

    @property
    def ref(self) -> str:
        """Correlation key of the order: ``<channel>:<channel order id>``."""
        return f"{self.channel}:{self.channel_order_id}"

    # -- lifecycle -------------------------------------------------------------------

    @property
    def tally(self) -> Tally:
        return sum((line.tally for line in self.lines), Tally())

    @property
    def status(self) -> OrderStatus:
        return derive_status(self.tally)

    @property
    def is_on_hold(self) -> bool:
        return self.hold_reason is not None

    def line(self, line_id: str) -> OrderLine:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise LineNotFound(f"order {self.ref} has no line {line_id!r}")

    def lines_without_sku(self) -> list[OrderLine]:
        """Lines Crossdock cannot route until a SKU is mapped for them."""
        return [line for line in self.lines if line.sku is None]

    # -- business verbs ------------------------------------------------------------------

    def _record(self, event_type: type[events.LineEvent], line: OrderLine, qty: Decimal) -> None:
        self.events.append(event_type(self.ref, line.line_id, line.sku, qty))

    def allocate(self, line_id: str, quantity: object) -> None:
        line = self.line(line_id)
        self._record(events.LineAllocated, line, line.allocate(quantity))

    def release_allocation(self, line_id: str, quantity: object) -> None:
        line = self.line(line_id)
        self._record(events.AllocationReleased, line, line.release(quantity))

    def backorder(self, line_id: str, quantity: object) -> None:
        line = self.line(line_id)
        self._record(events.LineBackordered, line, line.backorder(quantity))

    def ship(self, line_id: str, quantity: object) -> None:
        line = self.line(line_id)
        self._record(events.LineShipped, line, line.ship(quantity))
        if self.status is OrderStatus.SHIPPED:
            self.events.append(events.OrderShipped(self.ref))

    def acknowledge(self, at: datetime) -> None:
        """The channel now knows the order is accepted (channels that require it: Walmart)."""
        if self.acknowledged_at is None:
            self.acknowledged_at = at
            self.events.append(events.OrderAcknowledged(self.ref))

    def cancel_line(self, line_id: str, quantity: object | None = None, reason: str = "") -> None:
        """Cancel `quantity` open units of a line (all of them when omitted)."""
        line = self.line(line_id)
        qty = line.open if quantity is None else to_decimal(quantity, "quantity")
        released = line.cancel(qty)
        self.events.append(events.LineCancelled(self.ref, line_id, line.sku, qty, reason, released))

    def cancel(self, reason: str = "") -> None:
        """Cancel every open unit; shipped units stay shipped."""
        open_lines = [line for line in self.lines if line.open > 0]
        if not open_lines:
            raise DomainError(
                "business.nothing_to_cancel",
                f"order {self.ref} has no open units",
                "Refund or return instead.",
            )
        for line in open_lines:
            self.cancel_line(line.line_id, reason=reason)
        self.events.append(events.OrderCancelled(self.ref, reason))

    def record_return(self, line_id: str, quantity: object) -> None:
        line = self.line(line_id)
        self._record(events.LineReturned, line, line.record_return(quantity))

    # -- totals --------------------------------------------------------------------------

    def _sum(self, amounts: object) -> Money:
        return Money.total(amounts, self.currency)  # type: ignore[arg-type]

    @property
    def lines_total(self) -> Money:
        """Extended line amounts before any discount."""
        return self._sum(line.amount for line in self.lines)

    @property
    def discount_total(self) -> Money:
        """Line discounts plus order-level discounts (shipping discounts are in `shipping_total`)."""
        line_discounts = self._sum(line.discount_total for line in self.lines)
        return line_discounts + self._sum(d.amount for d in self.order_discounts)

    @property
    def shipping_total(self) -> Money:
        return self._sum(charge.net_amount for charge in self.shipping)

    @property
    def tax_total(self) -> Money:
        line_tax = self._sum(line.tax_total for line in self.lines)
        return line_tax + self._sum(charge.tax_total for charge in self.shipping)

    def expected_total(self) -> Money:
        """What the buyer should pay: lines − discounts + shipping (+ tax unless included)."""
        total = self.lines_total - self.discount_total + self.shipping_total
        if not self.taxes_included:
            total = total + self.tax_total
        return total.rounded()

    def check_totals(self, tolerance: object = Decimal("0.01")) -> None:
        """Raise `TotalsMismatch` when the channel's stated total and the expected total
        differ by more than `tolerance`. Nothing to check without a stated total."""
        if self.stated_total is None:
            return
        expected = self.expected_total()
        gap = abs(expected - self.stated_total)
        if gap.amount > to_decimal(tolerance, "tolerance"):
            raise TotalsMismatch(
                f"order {self.ref}: lines and charges add up to {expected}, "
                f"the channel says {self.stated_total} (off by {gap})",
                "Look for a discount, fee or tax the mapping does not carry over.",
            )
