"""Tenant mappings: how a channel's words become the ERP's — items, units, tax codes,
carrier services, customers and the legal entity that sells.

`TenantMappings.map_order` turns a canonical order into a `MappedOrder` the ERP can take,
or raises one `MappingErrors` naming every gap at once, so an operator fixes an order in
one pass. `ANY` ("*") in a rule's channel (or a tax rule's title) matches every channel
(title); a rule for the exact channel always wins over an `ANY` rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from crossdock.domain import mapping_steps as steps
from crossdock.domain.errors import DomainError
from crossdock.domain.mapping_rules import (
    ANY,
    CarrierService,
    CustomerPolicy,
    CustomerRef,
    CustomerRule,
    LegalEntityRule,
    MappedLine,
    MappedOrder,
    MappingErrors,
    MatchBy,
    ProblemList,
    ShippingMethodRule,
    SkuXref,
    TaxCodeRule,
    UnitConversion,
    UnmatchedPolicy,
    fold,
)
from crossdock.domain.money import UomConversions
from crossdock.domain.orders import Order

__all__ = [
    "ANY",
    "CarrierService",
    "CustomerPolicy",
    "CustomerRef",
    "CustomerRule",
    "LegalEntityRule",
    "MappedLine",
    "MappedOrder",
    "MappingErrors",
    "MatchBy",
    "ProblemList",
    "ShippingMethodRule",
    "SkuXref",
    "TaxCodeRule",
    "TenantMappings",
    "UnitConversion",
    "UnmatchedPolicy",
]


def _index(rules: Iterable, key, what: str) -> Mapping:
    index: dict = {}
    for rule in rules:
        k = key(rule)
        if k in index:
            raise DomainError("mapping.duplicate_rule", f"two {what} rules for {k!r}")
        index[k] = rule
    return MappingProxyType(index)


def _sorted(rules: Iterable, key) -> tuple:
    return tuple(sorted(rules, key=key))


@dataclass(frozen=True)
class TenantMappings:
    """A tenant's mappings, immutable. Rule order does not matter (lists are kept sorted)
    except for `legal_entities`, where the first matching rule wins."""

    skus: tuple[SkuXref, ...] = ()
    conversions: tuple[UnitConversion, ...] = ()
    erp_uom: str = "EA"
    item_uoms: Mapping[str, str] = field(default_factory=dict)  # item → ERP unit, when not erp_uom
    tax_codes: tuple[TaxCodeRule, ...] = ()
    shipping_methods: tuple[ShippingMethodRule, ...] = ()
    customers: tuple[CustomerRule, ...] = ()
    customer_policies: Mapping[str, CustomerPolicy] = field(default_factory=dict)  # channel or ANY
    legal_entities: tuple[LegalEntityRule, ...] = ()
    default_legal_entity: str | None = None
    _by_sku: Mapping = field(init=False, repr=False, compare=False)
    _by_ref: Mapping = field(init=False, repr=False, compare=False)
    _tax: Mapping = field(init=False, repr=False, compare=False)
    _shipping: Mapping = field(init=False, repr=False, compare=False)
    _customers: Mapping = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        put("skus", _sorted(self.skus, lambda r: (r.channel, r.sku or "", r.product_ref or "")))
        put("conversions", _sorted(self.conversions, lambda r: (r.item_code or "", r.from_uom, r.to_uom)))
        put("tax_codes", _sorted(self.tax_codes, lambda r: (r.channel, fold(r.title), str(r.rate))))
        put("shipping_methods", _sorted(self.shipping_methods, lambda r: (r.channel, fold(r.method))))
        put("customers", _sorted(self.customers, lambda r: (r.channel, r.match_by, fold(r.value))))
        put("item_uoms", MappingProxyType(dict(sorted(self.item_uoms.items()))))
        put("customer_policies", MappingProxyType(dict(sorted(self.customer_policies.items()))))
        put("legal_entities", tuple(self.legal_entities))
        with_sku = [r for r in self.skus if r.sku]
        put("_by_sku", _index(with_sku, lambda r: (r.channel, r.sku), "SKU"))
        with_ref = [r for r in self.skus if r.product_ref]
        put("_by_ref", _index(with_ref, lambda r: (r.channel, r.product_ref), "product"))
        put("_tax", _index(self.tax_codes, lambda r: (r.channel, fold(r.title), r.rate), "tax code"))
        put("_shipping", _index(self.shipping_methods, lambda r: (r.channel, fold(r.method)), "shipping"))
        put(
            "_customers", _index(self.customers, lambda r: (r.channel, r.match_by, fold(r.value)), "customer")
        )

    # -- lookups -------------------------------------------------------------------------

    def find_item(self, channel: str, sku: str | None, product_ref: str | None = None) -> SkuXref | None:
        """The cross-reference of a channel product: by product ref (ASIN, variant id)
        first, then by SKU; the channel's own rules before `ANY` rules."""
        for ch in (channel, ANY):
            for index, key in ((self._by_ref, product_ref), (self._by_sku, sku)):
                if key and (ch, key) in index:
                    return index[(ch, key)]
        return None

    def channel_refs(self, item_code: str, channel: str) -> tuple[SkuXref, ...]:
        """Reverse: how `item_code` is listed on `channel` (for stock and price publishing)."""
        return tuple(r for r in self.skus if r.item_code == item_code and r.channel in (channel, ANY))

    def erp_uom_of(self, item_code: str) -> str:
        return self.item_uoms.get(item_code, self.erp_uom)

    def unit_conversions(self, item_code: str) -> UomConversions:
        """Tenant-wide conversions, with the item's own pack sizes replacing them."""
        own = [c for c in self.conversions if c.item_code == item_code]
        pairs = {frozenset((c.from_uom, c.to_uom)) for c in own}
        shared = [c for c in self.conversions if c.item_code is None]
        chosen = own + [c for c in shared if frozenset((c.from_uom, c.to_uom)) not in pairs]
        return UomConversions({(c.from_uom, c.to_uom): c.factor for c in chosen})

    def tax_code(self, channel: str, title: str, rate: Decimal | None = None) -> str | None:
        """Most specific first: exact channel before ANY, title before ANY title, rate before any rate."""
        for ch in (channel, ANY):
            for t in (fold(title), ANY):
                for r in (rate, None) if rate is not None else (None,):
                    rule = self._tax.get((ch, t, r))
                    if rule is not None:
                        return rule.tax_code
        return None

    def shipping_method(self, channel: str, code: str | None, title: str | None) -> CarrierService | None:
        """By the channel's method code, then its title, then the channel's default (`ANY`)."""
        for ch in (channel, ANY):
            for key in (code, title, ANY):
                rule = self._shipping.get((ch, fold(key))) if key else None
                if rule is not None:
                    return rule.carrier_service
        return None

    def customer_code(self, channel: str, by: MatchBy, value: str | None) -> str | None:
        for ch in (channel, ANY):
            rule = self._customers.get((ch, by, fold(value))) if value else None
            if rule is not None:
                return rule.customer_code
        return None

    def legal_entity(
        self, channel: str, country: str | None, region: str | None, currency: str
    ) -> str | None:
        for rule in self.legal_entities:
            if rule.matches(channel, country, region, currency):
                return rule.entity
        return self.default_legal_entity

    # -- mapping an order ------------------------------------------------------------------

    def map_order(self, order: Order, channel: str | None = None) -> MappedOrder:
        """`order` in ERP terms, or `MappingErrors` with every problem found.

        `channel` is the tenant's channel name the rules are written for (default: the
        order's own channel)."""
        channel = channel or order.channel
        problems: list[DomainError] = []
        lines = [steps.map_line(self, line, channel, problems) for line in order.lines]
        carrier = steps.map_shipping(self, order, channel, problems)
        shipping_taxes = [t for charge in order.shipping for t in charge.tax_lines]
        shipping_codes = steps.map_taxes(self, shipping_taxes, channel, problems)
        customer = steps.map_customer(self, order, channel, problems)
        entity = steps.map_legal_entity(self, order, channel, problems)
        if problems:
            raise MappingErrors(f"order {order.ref} cannot be mapped", problems)
        assert carrier is not None and customer is not None and entity is not None
        return MappedOrder(
            order, channel, tuple(line for line in lines if line), customer, carrier, shipping_codes, entity
        )
