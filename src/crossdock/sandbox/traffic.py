"""Orders for the simulated channels: a seeded catalog, customers, and payloads shaped like
the vendors' own (Shopify's documented order webhook example; SP-API `Order`/`OrderItem`).

Every draw comes from a generator the caller passes in, so `--seed` reproduces the same
catalog, the same customers and the same orders in the same sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")
TAX_RATE = Decimal("0.0825")
_ADJECTIVES = ("Steel", "Oak", "Nylon", "Copper", "Ceramic", "Canvas", "Cedar", "Brass", "Linen", "Wool")
_NOUNS = ("Hinge", "Bracket", "Lamp", "Tote", "Mug", "Shelf", "Hook", "Bin", "Clamp", "Crate", "Stool")
_FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Iris", "Jonas", "Kim", "Lena")
_LAST = ("Archer", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen")
_PLACES = (
    ("Louisville", "Kentucky", "KY", "40202"),
    ("Austin", "Texas", "TX", "78701"),
    ("Portland", "Oregon", "OR", "97204"),
    ("Columbus", "Ohio", "OH", "43215"),
    ("Denver", "Colorado", "CO", "80202"),
)


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    title: str
    price: Decimal
    grams: int
    product_id: int
    variant_id: int
    inventory_item_id: int
    asin: str


def make_catalog(rng: random.Random, size: int) -> list[CatalogItem]:
    items = []
    for i in range(size):
        title = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        price = (Decimal(rng.randrange(499, 9999)) / 100).quantize(CENT)
        asin = "B0" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8))
        items.append(
            CatalogItem(
                sku=f"CD-{1001 + i}",
                title=title,
                price=price,
                grams=rng.randrange(50, 5000),
                product_id=7_100_000_000_000 + i,
                variant_id=4_400_000_000_000 + i,
                inventory_item_id=4_900_000_000_000 + i,
                asin=asin,
            )
        )
    return items


def pick_lines(
    rng: random.Random, catalog: list[CatalogItem], spec: list[dict[str, Any]] | None
) -> list[tuple[CatalogItem, int]]:
    """The requested `[{"sku", "quantity"}]`, or 1–3 random catalog lines."""
    by_sku = {c.sku: c for c in catalog}
    if spec:
        lines = []
        for line in spec:
            item = by_sku.get(line["sku"])
            if item is None:
                raise ValueError(f"unknown sku {line['sku']!r}; the catalog has {sorted(by_sku)[:5]}...")
            if "price" in line:
                item = CatalogItem(**{**item.__dict__, "price": Decimal(str(line["price"])).quantize(CENT)})
            lines.append((item, int(line.get("quantity", 1))))
        return lines
    chosen = rng.sample(catalog, k=min(len(catalog), rng.randint(1, 3)))
    return [(item, rng.randint(1, 4)) for item in chosen]


def person(rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    city, province, code, zip_ = rng.choice(_PLACES)
    return {
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "email": f"{first}.{last}{rng.randrange(100, 999)}@example.com".lower(),
        "phone": f"555-01{rng.randrange(10, 99)}",
        "address1": f"{rng.randrange(1, 999)} {rng.choice(_LAST)} Street",
        "city": city,
        "province": province,
        "province_code": code,
        "zip": zip_,
    }


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": str(amount), "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}


def _shopify_address(who: dict[str, str]) -> dict[str, Any]:
    return {
        "first_name": who["first_name"],
        "last_name": who["last_name"],
        "name": who["name"],
        "address1": who["address1"],
        "address2": None,
        "city": who["city"],
        "province": who["province"],
        "province_code": who["province_code"],
        "zip": who["zip"],
        "country": "United States",
        "country_code": "US",
        "company": None,
        "phone": who["phone"],
        "latitude": None,
        "longitude": None,
    }


def _shopify_line(line_id: int, item: CatalogItem, qty: int, currency: str) -> dict[str, Any]:
    tax = (item.price * qty * TAX_RATE).quantize(CENT)
    return {
        "id": line_id,
        "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
        "current_quantity": qty,
        "fulfillable_quantity": qty,
        "fulfillment_service": "manual",
        "fulfillment_status": None,
        "gift_card": False,
        "grams": item.grams,
        "name": item.title,
        "price": str(item.price),
        "price_set": _money(item.price, currency),
        "product_exists": True,
        "product_id": item.product_id,
        "properties": [],
        "quantity": qty,
        "requires_shipping": True,
        "sku": item.sku,
        "taxable": True,
        "title": item.title,
        "total_discount": "0.00",
        "total_discount_set": _money(Decimal("0.00"), currency),
        "variant_id": item.variant_id,
        "variant_inventory_management": "shopify",
        "variant_title": None,
        "vendor": "Crossdock Sandbox",
        "tax_lines": [
            {
                "price": str(tax),
                "price_set": _money(tax, currency),
                "rate": float(TAX_RATE),
                "title": "State Tax",
            }
        ],
        "duties": [],
        "discount_allocations": [],
    }


def shopify_order(
    rng: random.Random, *, order_id: int, number: int, first_line_id: int, customer_id: int,
    lines: list[tuple[CatalogItem, int]], now: str, shop_domain: str, currency: str,
) -> dict[str, Any]:  # fmt: skip
    """An order in the shape of Shopify's documented orders/create example."""
    who = person(rng)
    items = [_shopify_line(first_line_id + i, it, q, currency) for i, (it, q) in enumerate(lines)]
    line_total = sum((it.price * q for it, q in lines), Decimal(0)).quantize(CENT)
    tax = sum((Decimal(li["tax_lines"][0]["price"]) for li in items), Decimal(0))
    shipping = Decimal("0.00") if line_total >= 100 else Decimal("9.99")
    total = line_total + tax + shipping
    token = f"{rng.getrandbits(64):016x}"
    address = _shopify_address(who)
    customer = {
        "id": customer_id, "email": who["email"], "first_name": who["first_name"],
        "last_name": who["last_name"], "phone": None, "state": "enabled", "note": None,
        "verified_email": True, "tax_exempt": False, "tax_exemptions": [], "currency": currency,
        "created_at": now, "updated_at": now, "multipass_identifier": None,
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        "default_address": {**address, "id": customer_id + 1, "customer_id": customer_id, "default": True},
    }  # fmt: skip
    shipping_line = {
        "id": order_id + 7, "carrier_identifier": None, "code": "Standard", "source": "shopify",
        "title": "Standard Shipping", "price": str(shipping), "price_set": _money(shipping, currency),
        "discounted_price": str(shipping), "discounted_price_set": _money(shipping, currency),
        "is_removed": False, "phone": None, "requested_fulfillment_service_id": None,
        "tax_lines": [], "discount_allocations": [],
    }  # fmt: skip
    return {
        "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "app_id": None, "browser_ip": None, "buyer_accepts_marketing": False,
        "cancel_reason": None, "cancelled_at": None, "closed_at": None,
        "confirmation_number": token[:9].upper(), "confirmed": True, "contact_email": who["email"],
        "created_at": now, "currency": currency, "customer_locale": "en",
        "current_subtotal_price": str(line_total), "current_subtotal_price_set": _money(line_total, currency),
        "current_total_discounts": "0.00", "current_total_discounts_set": _money(Decimal("0.00"), currency),
        "current_total_price": str(total), "current_total_price_set": _money(total, currency),
        "current_total_tax": str(tax), "current_total_tax_set": _money(tax, currency),
        "discount_codes": [], "email": who["email"], "estimated_taxes": False,
        "financial_status": "paid", "fulfillment_status": None,
        "name": f"#{number}", "note": None, "note_attributes": [], "number": number - 1000,
        "order_number": number,
        "order_status_url": f"https://{shop_domain}/{order_id}/orders/{token}/authenticate?key={token[:8]}",
        "payment_gateway_names": ["bogus"], "phone": None, "po_number": None,
        "presentment_currency": currency, "processed_at": now, "reference": None,
        "source_name": "web", "subtotal_price": str(line_total), "subtotal_price_set": _money(line_total, currency),
        "tags": "", "tax_exempt": False,
        "tax_lines": [{"price": str(tax), "rate": float(TAX_RATE), "title": "State Tax",
                       "price_set": _money(tax, currency)}],
        "taxes_included": False, "test": False, "token": token,
        "total_discounts": "0.00", "total_discounts_set": _money(Decimal("0.00"), currency),
        "total_line_items_price": str(line_total), "total_line_items_price_set": _money(line_total, currency),
        "total_outstanding": "0.00", "total_price": str(total), "total_price_set": _money(total, currency),
        "total_shipping_price_set": _money(shipping, currency),
        "total_tax": str(tax), "total_tax_set": _money(tax, currency), "total_tip_received": "0.00",
        "total_weight": sum(it.grams * q for it, q in lines), "updated_at": now, "user_id": None,
        "billing_address": address, "customer": customer, "discount_applications": [],
        "fulfillments": [], "line_items": items, "payment_terms": None, "refunds": [],
        "shipping_address": dict(address), "shipping_lines": [shipping_line], "returns": [],
    }  # fmt: skip


def _amz_money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": str(amount.quantize(CENT))}


def amazon_order(
    rng: random.Random, *, lines: list[tuple[CatalogItem, int]], now: str, marketplace_id: str, currency: str
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """An MFN `Order` and its `OrderItem`s as getOrders/getOrderItems return them (no PII: no RDT),
    and the buyer's full `ShippingAddress` as getOrderAddress returns it (personal data, RDT only)."""
    order_id = f"{rng.randrange(111, 999)}-{rng.randrange(10**6, 10**7)}-{rng.randrange(10**6, 10**7)}"
    who = person(rng)
    items = []
    for item, qty in lines:
        total = item.price * qty
        items.append({
            "ASIN": item.asin, "OrderItemId": str(rng.randrange(10**13, 10**14)), "SellerSKU": item.sku,
            "Title": item.title, "QuantityOrdered": qty, "QuantityShipped": 0,
            "ProductInfo": {"NumberOfItems": "1"},
            "ItemPrice": _amz_money(total, currency), "ItemTax": _amz_money(total * TAX_RATE, currency),
            "ShippingPrice": _amz_money(Decimal(0), currency), "ShippingTax": _amz_money(Decimal(0), currency),
            "PromotionDiscount": _amz_money(Decimal(0), currency),
            "PromotionDiscountTax": _amz_money(Decimal(0), currency),
            "IsGift": "false", "ConditionId": "New", "ConditionSubtypeId": "New",
            "IsTransparency": False, "SerialNumberRequired": False,
        })  # fmt: skip
    order_total = sum(
        (Decimal(i["ItemPrice"]["Amount"]) + Decimal(i["ItemTax"]["Amount"]) for i in items), Decimal(0)
    )
    order = {
        "AmazonOrderId": order_id, "PurchaseDate": now, "LastUpdateDate": now, "OrderStatus": "Unshipped",
        "FulfillmentChannel": "MFN", "SalesChannel": "Amazon.com", "ShipServiceLevel": "Std US D2D Dom",
        "OrderTotal": _amz_money(order_total, currency),
        "NumberOfItemsShipped": 0, "NumberOfItemsUnshipped": sum(q for _, q in lines),
        "PaymentMethod": "Other", "PaymentMethodDetails": ["Standard"], "IsReplacementOrder": False,
        "MarketplaceId": marketplace_id, "ShipmentServiceLevelCategory": "Standard", "OrderType": "StandardOrder",
        "EarliestShipDate": now, "LatestShipDate": now, "IsBusinessOrder": False, "IsPrime": False,
        "IsGlobalExpressEnabled": False, "IsPremiumOrder": False, "IsSoldByAB": False, "IsIBA": False,
        "IsISPU": False, "IsAccessPointOrder": False,
        "ShippingAddress": {"City": who["city"].upper(), "StateOrRegion": who["province_code"],
                            "PostalCode": who["zip"], "CountryCode": "US"},
        "AutomatedShippingSettings": {"HasAutomatedShippingSettings": False},
        "ElectronicInvoiceStatus": "NotRequired",
    }  # fmt: skip
    address = {
        "Name": who["name"], "AddressLine1": who["address1"], "City": who["city"].upper(),
        "StateOrRegion": who["province_code"], "PostalCode": who["zip"], "CountryCode": "US",
        "Phone": who["phone"], "AddressType": "Residential",
    }  # fmt: skip
    return order, items, address


class TrafficLoop:
    """Creates orders at a steady rate per channel until stopped: `POST /_sandbox/traffic`.
    Streams besides the channels: `stock` (warehouse receipts and write-offs) and `prices`
    (ERP list price changes). The n-th event of a stream is the same for the same seed."""

    def __init__(self, create: dict[str, Callable[[int], Any]]) -> None:
        self.create = create
        self.rates: dict[str, float] = {}
        self.created: dict[str, int] = {name: 0 for name in create}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def add(self, stream: str, create: Callable[[int], Any]) -> None:
        """Another stream of traffic besides the channels' orders (stock changes, price changes)."""
        self.create[stream] = create
        self.created.setdefault(stream, 0)

    def set_rates(self, per_minute: dict[str, float]) -> None:
        unknown = set(per_minute) - set(self.create)
        if unknown:
            raise ValueError(f"unknown channels {sorted(unknown)}; known: {sorted(self.create)}")
        for channel, rate in per_minute.items():
            self.rates[channel] = float(rate)
            if (task := self._tasks.pop(channel, None)) is not None:
                task.cancel()
            if rate > 0:
                self._tasks[channel] = asyncio.create_task(self._run(channel, 60.0 / float(rate)))

    async def _run(self, channel: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            result = self.create[channel](1)
            if asyncio.iscoroutine(result):
                await result
            self.created[channel] += 1

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def snapshot(self) -> dict[str, Any]:
        return {"per_minute": self.rates, "created": self.created}
