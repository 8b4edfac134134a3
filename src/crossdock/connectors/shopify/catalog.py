"""Publishing listings to Shopify: one `productSet` per product (Admin GraphQL 2026-04).

`productSet` sets a product to the given state, creating it when its handle is new, so a
repeated call (after a timeout we cannot see through) changes nothing twice. The product is
found by `identifier: {handle}`; a listing without a `handle` attribute uses its SKU made
into a handle (see `handle_of`). Each product has one variant (option "Title" / "Default Title") carrying the
SKU, the barcode and the weight. Prices are not sent: the pricing flow owns them.

Listing attributes (Shopify's names): title, descriptionHtml, vendor, productType, tags,
status, category (a TaxonomyCategory gid), handle, barcode, weight ({value, unit: g | kg |
lb | oz}), images (URLs, the first is the featured image) and `metafields.<namespace>.<key>`
(text; objects and lists as JSON). A value of the wrong shape raises AttributeValueError.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from crossdock.connectors.catalog import AttributeValueError
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.shopify.client import MUTATION_COST, Operation, ShopifyClient
from crossdock.connectors.shopify.config import ShopifyConfig
from crossdock.connectors.shopify.inventory import with_short_waits
from crossdock.domain.catalog import Listing

PRODUCT_SET = Operation(
    "productSet",
    """
mutation productSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!, $synchronous: Boolean!) {
  productSet(identifier: $identifier, input: $input, synchronous: $synchronous) {
    product { id handle }
    productSetOperation { id status }
    userErrors { field message code }
  }
}""".strip(),
    MUTATION_COST,
)
PRODUCT_FIELDS = ("title", "descriptionHtml", "vendor", "productType", "status", "category")
VARIANT_FIELDS = ("barcode", "weight")
OTHER_FIELDS = ("handle", "tags", "images")
WEIGHT_UNITS = {"g": "GRAMS", "kg": "KILOGRAMS", "lb": "POUNDS", "oz": "OUNCES"}
STATUSES = ("ACTIVE", "ARCHIVED", "DRAFT")
_METAFIELD = re.compile(r"^metafields\.([A-Za-z0-9_-]{2,255})\.([A-Za-z0-9_-]{2,64})$")
_HANDLE = re.compile(r"[^a-z0-9]+")
DEFAULT_OPTION = {"optionName": "Title", "name": "Default Title"}


def accepts(attribute: str) -> bool:
    """Whether Shopify has a place for this listing attribute."""
    known = (*PRODUCT_FIELDS, *VARIANT_FIELDS, *OTHER_FIELDS)
    return attribute in known or _METAFIELD.match(attribute) is not None


def handle_of(listing: Listing) -> str:
    """The product's handle: the `handle` attribute, else the SKU (or item code) in lower
    case. A SKU with characters a handle cannot hold gets a short digest of itself: PUMP/100
    and PUMP-100 would both be `pump-100`, and `productSet` would make them one product."""
    given = listing.attributes.get("handle")
    source = str(given or listing.sku or listing.item_code)
    handle = _HANDLE.sub("-", source.lower()).strip("-")
    if not handle:
        raise AttributeValueError("handle", f"cannot make a handle of {given or listing.sku!r}")
    if given is None and handle != source.lower():
        digest = hashlib.sha256(source.encode()).hexdigest()[:8]
        return f"{handle[:246]}-{digest}"
    return handle[:255]


def encode_product_set(listing: Listing) -> dict[str, Any]:
    """The variables of one `productSet` call for the listing."""
    attrs = listing.attributes
    unknown = sorted(a for a in attrs if not accepts(a))
    if unknown:
        raise AttributeValueError(
            unknown[0], "Shopify has no such product field; use metafields.<namespace>.<key>"
        )
    handle = handle_of(listing)
    product: dict[str, Any] = {"handle": handle}
    for name in PRODUCT_FIELDS:
        if name in attrs:
            product[name] = _text(name, attrs[name])
    if "status" in product and product["status"].upper() not in STATUSES:
        raise AttributeValueError("status", f"{product['status']!r} is not one of {', '.join(STATUSES)}")
    if "tags" in attrs:
        product["tags"] = _tags(attrs["tags"])
    product["productOptions"] = [{"name": "Title", "position": 1, "values": [{"name": "Default Title"}]}]
    product["variants"] = [_variant(listing)]
    if "images" in attrs:
        product["files"] = [
            {"originalSource": url, "contentType": "IMAGE", "alt": str(attrs.get("title") or "")}
            for url in _urls(attrs["images"])
        ]
    metafields = [_metafield(name, value) for name, value in sorted(attrs.items()) if _METAFIELD.match(name)]
    if metafields:
        product["metafields"] = metafields
    return {"identifier": {"handle": handle}, "input": product, "synchronous": True}


def _variant(listing: Listing) -> dict[str, Any]:
    attrs = listing.attributes
    item: dict[str, Any] = {"sku": listing.sku}
    if "weight" in attrs:
        item["measurement"] = {"weight": _weight(attrs["weight"])}
    variant: dict[str, Any] = {"optionValues": [DEFAULT_OPTION], "inventoryItem": item}
    if "barcode" in attrs:
        variant["barcode"] = _text("barcode", attrs["barcode"])
    return variant


def _text(name: str, value: Any) -> str:
    if isinstance(value, dict | list | bool):
        raise AttributeValueError(name, f"expected text, got {type(value).__name__}")
    return str(value)


def _tags(value: Any) -> list[str]:
    parts = value if isinstance(value, list) else str(value).split(",")
    return [str(p).strip() for p in parts if str(p).strip()]


def _urls(value: Any) -> list[str]:
    urls = value if isinstance(value, list) else [value]
    for url in urls:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise AttributeValueError("images", f"{url!r} is not an http(s) URL")
    return urls


def _weight(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AttributeValueError("weight", "expected {value, unit}")
    unit = str(value.get("unit") or "").lower()
    if unit not in WEIGHT_UNITS:
        raise AttributeValueError(
            "weight", f"unit {value.get('unit')!r} is not one of {', '.join(WEIGHT_UNITS)}"
        )
    try:
        amount = Decimal(str(value.get("value")))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise AttributeValueError("weight", f"{value.get('value')!r} is not a weight")
    return {"value": float(amount), "unit": WEIGHT_UNITS[unit]}


def _metafield(name: str, value: Any) -> dict[str, Any]:
    found = _METAFIELD.match(name)
    assert found is not None
    structured = isinstance(value, dict | list)
    return {
        "namespace": found.group(1),
        "key": found.group(2),
        "type": "json" if structured else "single_line_text_field",
        "value": json.dumps(value, sort_keys=True) if structured else str(value),
    }


class ShopifyCatalogPublisher:
    """Sets one product per call through the connection's client (its permit, its cost bucket)."""

    channel = "shopify"

    def __init__(self, config: ShopifyConfig, ctx: ConnectorContext) -> None:
        self.client = ShopifyClient(config, ctx)

    def encode(self, listing: Listing) -> dict[str, Any]:
        return encode_product_set(listing)

    async def publish(self, variables: dict[str, Any]) -> str:
        """Set the product; answers its gid. A refusal raises PermanentError (`remote.rejected`)
        with Shopify's userErrors in its context."""
        answer = await with_short_waits(lambda: self.client.execute(PRODUCT_SET, variables))
        return str(((answer or {}).get("product") or {}).get("id") or "")
