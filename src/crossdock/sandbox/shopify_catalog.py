"""What `productSet` sets besides titles and prices in the simulated store: the product's
description, vendor, type, tags, status, category, media and metafields, and its variants'
barcode and weight, kept for the snapshot (`products`, by handle)."""

from __future__ import annotations

from typing import Any

PRODUCT_FIELDS = ("descriptionHtml", "vendor", "productType", "tags", "status", "category")


def refusal(product: dict[str, Any] | None, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """userErrors of a productSet the store refuses: a new product needs a title."""
    if product is None and not str(spec.get("title") or "").strip():
        return [{"field": ["input", "title"], "message": "Title can't be blank", "code": "BLANK"}]
    return []


def set_product(product: dict[str, Any], spec: dict[str, Any], now: str) -> None:
    for name in PRODUCT_FIELDS:
        if name in spec:
            product[name] = spec[name]
    if "files" in spec:
        product["media"] = [f.get("originalSource") for f in spec.get("files") or [] if isinstance(f, dict)]
    if "metafields" in spec:
        product["metafields"] = {
            f"{m.get('namespace')}.{m.get('key')}": m.get("value")
            for m in spec["metafields"]
            if isinstance(m, dict)
        }
    product["sets"] = product.get("sets", 0) + 1
    product["updated_at"] = now


def set_variant(variant: dict[str, Any], spec: dict[str, Any]) -> None:
    if "barcode" in spec:
        variant["barcode"] = spec["barcode"]
    weight = ((spec.get("inventoryItem") or {}).get("measurement") or {}).get("weight")
    if isinstance(weight, dict):
        variant["weight"] = {"value": weight.get("value"), "unit": weight.get("unit")}


def snapshot(products: dict[int, dict[str, Any]], variants: dict[int, dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for p in products.values():
        if not p.get("sets"):
            continue  # never set through productSet: the seeded catalog as it was
        vs = [variants[i] for i in p["variant_ids"] if i in variants]
        out[p["handle"]] = {
            "id": p["id"],
            "title": p["title"],
            **{name: p[name] for name in PRODUCT_FIELDS if name in p},
            "media": p.get("media", []),
            "metafields": p.get("metafields", {}),
            "sets": p["sets"],
            "variants": [{k: v.get(k) for k in ("sku", "barcode", "weight", "price")} for v in vs],
        }
    return out
