"""The steps of mapping one order, each adding what it cannot map to `problems`.

Called by `TenantMappings.map_order`; every step keeps going after a problem so one
pass reports all of an order's gaps.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from crossdock.domain.errors import DomainError, InexactConversion, UnknownConversion
from crossdock.domain.mapping_rules import (
    CarrierService,
    CustomerRef,
    MappedLine,
    MatchBy,
    SkuXref,
    UnmatchedPolicy,
    exact_decimal,
)
from crossdock.domain.money import Money, Quantity
from crossdock.domain.order_lines import OrderLine, TaxLine
from crossdock.domain.orders import Order

if TYPE_CHECKING:
    from crossdock.domain.mapping import TenantMappings

UNIT_PRICE_PLACES = 6


def wanted(line: OrderLine) -> Decimal:
    """What the ERP is asked for: the units ordered less those the channel cancelled before
    the order was posted (an order edit that removed units)."""
    return line.ordered - line.cancelled


def convert_line(mappings: TenantMappings, line: OrderLine, xref: SkuXref) -> tuple[Quantity, Money]:
    """(quantity, unit price) of `line`'s wanted units in the item's ERP unit: a CASE of 12
    at 24.00 becomes 12 EA at 2.00. Raises `UnknownConversion` or `InexactConversion`."""
    source, target = xref.uom or line.uom, mappings.erp_uom_of(xref.item_code)
    factor = mappings.unit_conversions(xref.item_code).factor(source, target)
    quantity = exact_decimal(wanted(line) * factor.numerator, factor.denominator)
    if quantity is None:
        raise InexactConversion(
            f"line {line.line_id}: {wanted(line)} {source} of {xref.item_code} is not a whole "
            f"decimal number of {target}",
            f"Check the pack size of {xref.item_code} ({source} → {target}).",
        )
    amount, currency = line.unit_price.amount, line.unit_price.currency
    price = exact_decimal(amount * factor.denominator, factor.numerator, places=UNIT_PRICE_PLACES)
    return Quantity(quantity, target), Money(price, currency)


def map_line(
    mappings: TenantMappings, line: OrderLine, channel: str, problems: list[DomainError]
) -> MappedLine | None:
    """`line` in ERP terms; None for a line with a problem (added to `problems`) and for one
    whose every unit the channel cancelled before posting (nothing to ask the ERP for)."""
    if wanted(line) <= 0:
        return None
    xref = mappings.find_item(channel, line.sku, line.channel_product_ref)
    tax_codes = map_taxes(mappings, line.tax_lines, channel, problems)
    if xref is None:
        problems.append(_sku_unknown(line, channel))
        return None
    try:
        quantity, unit_price = convert_line(mappings, line, xref)
    except UnknownConversion:
        problems.append(_uom_unknown(mappings, line, xref))
        return None
    except InexactConversion as exc:
        problems.append(exc)
        return None
    assert line.amount is not None
    discount = line.discount_total
    if line.cancelled:  # the discount was for every unit ordered: the ERP's share is the wanted units'
        discount = (discount * (wanted(line) / line.ordered)).rounded()
    return MappedLine(
        line.line_id, xref.item_code, quantity, unit_price, line.amount, discount,
        tax_codes, line.sku, Quantity(wanted(line), line.uom),
    )  # fmt: skip


def _sku_unknown(line: OrderLine, channel: str) -> DomainError:
    what = line.sku or (f"product {line.channel_product_ref}" if line.channel_product_ref else None)
    if what is None:
        return DomainError(
            "mapping.sku_unknown",
            f"line {line.line_id} on channel {channel!r} has neither a SKU nor a product id",
            f"Give the product a SKU on channel {channel}, then add a SKU cross-reference for it.",
        )
    ref = f" (product {line.channel_product_ref})" if line.sku and line.channel_product_ref else ""
    return DomainError(
        "mapping.sku_unknown",
        f"SKU {what!r}{ref} on channel {channel!r} has no item cross-reference (line {line.line_id})",
        f"Add a SKU cross-reference for {what} on channel {channel}.",
    )


def _uom_unknown(mappings: TenantMappings, line: OrderLine, xref: SkuXref) -> DomainError:
    source, target = xref.uom or line.uom, mappings.erp_uom_of(xref.item_code)
    return DomainError(
        "mapping.uom_unknown",
        f"no conversion from {source} to {target} for item {xref.item_code} (line {line.line_id})",
        f"Add a unit conversion (1 {source} = n {target}) for {xref.item_code} or for every item.",
    )


def map_taxes(
    mappings: TenantMappings, taxes: tuple[TaxLine, ...] | list[TaxLine], channel: str, problems: list
) -> tuple[str, ...]:
    codes: list[str] = []
    for tax in taxes:
        code = mappings.tax_code(channel, tax.title, tax.rate)
        if code is None:
            rate = f" at rate {tax.rate}" if tax.rate is not None else ""
            problems.append(
                DomainError(
                    "mapping.tax_code_unknown",
                    f"tax {tax.title!r}{rate} on channel {channel!r} has no ERP tax code",
                    f"Add a tax code rule for {tax.title!r} on channel {channel}.",
                )
            )
        elif code not in codes:
            codes.append(code)
    return tuple(codes)


def map_shipping(
    mappings: TenantMappings, order: Order, channel: str, problems: list
) -> CarrierService | None:
    """The carrier service of the order's first shipping charge; every charge must map.
    An order without shipping charges takes the channel's default method."""
    charges = order.shipping or ()
    found = [mappings.shipping_method(channel, c.code, c.title) for c in charges]
    if not charges:
        found = [mappings.shipping_method(channel, None, None)]
    for charge, service in zip(charges or [None], found, strict=True):
        if service is None:
            method = (charge.code or charge.title) if charge else "(none given)"
            problems.append(
                DomainError(
                    "mapping.shipping_method_unknown",
                    f"shipping method {method!r} on channel {channel!r} has no carrier service",
                    f"Add a shipping method rule for {method!r} on channel {channel}, "
                    f"or a default ('*') for the channel.",
                )
            )
    return found[0] if all(found) else None


def map_customer(mappings: TenantMappings, order: Order, channel: str, problems: list) -> CustomerRef | None:
    customer = order.customer
    email = (customer.email if customer else None) or (order.ship_to.email if order.ship_to else None)
    external_id = customer.customer_ref if customer else None
    for by, value in ((MatchBy.EXTERNAL_ID, external_id), (MatchBy.EMAIL, email)):
        code = mappings.customer_code(channel, by, value)
        if code is not None:
            return CustomerRef(code, by.value)
    policy = mappings.customer_policies.get(channel) or mappings.customer_policies.get("*")
    if policy is not None and policy.policy is UnmatchedPolicy.CREATE:
        return CustomerRef(None, "create", create=True)
    if policy is not None and policy.policy is UnmatchedPolicy.DEFAULT_ACCOUNT:
        return CustomerRef(policy.account, "default_account")
    who = ", ".join(f"{k} {v}" for k, v in (("id", external_id), ("email", email)) if v) or "anonymous"
    problems.append(
        DomainError(
            "mapping.customer_unknown",
            f"customer ({who}) on channel {channel!r} matches no ERP customer",
            f"Add a customer cross-reference for channel {channel}, or let the channel "
            "create customers or use a default account.",
        )
    )
    return None


def map_legal_entity(mappings: TenantMappings, order: Order, channel: str, problems: list) -> str | None:
    to = order.ship_to
    country, region = (to.country, to.region) if to else (None, None)
    entity = mappings.legal_entity(channel, country, region, order.currency)
    if entity is None:
        problems.append(
            DomainError(
                "mapping.legal_entity_unknown",
                f"no legal entity sells on channel {channel!r} to {country or '?'}/{region or '?'} "
                f"in {order.currency}",
                "Add a legal entity rule that matches, or set a default legal entity.",
            )
        )
    return entity
