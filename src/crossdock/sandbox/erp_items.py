"""The sandbox ERP's item master: catalog fields for every item, pages of it, and edits.

    GET   /erp/items?limit=500&after=CD-1500   a page, by item code: {"items", "missing": [],
                                               "next_after": code | null}
    PATCH /erp/_sandbox/items/{code}           {"brand": null, "identifiers": {...}}: merge
                                               (null removes a field) → the item

Every item has a brand, a long description, bullets, a UPC (valid check digit), package
dimensions (cm), a weight (g), a category and two image URLs, all derived from the seeded
catalog, so a run is reproducible. Tests take attributes away with the PATCH route.
"""

from __future__ import annotations

from typing import Any

from crossdock.sandbox.traffic import CatalogItem

BRANDS = ("Northwind Tools", "Harbor & Pine", "Atlas Supply", "Crossdock Basics")
IMAGE_HOST = "https://images.crossdock.example"


def upc(number: int) -> str:
    """A 12-digit UPC-A with its check digit."""
    body = f"086{number % 100_000_000:08d}"
    odd = sum(int(d) for d in body[0::2])
    even = sum(int(d) for d in body[1::2])
    return body + str((10 - (odd * 3 + even) % 10) % 10)


def item_record(item: CatalogItem, index: int) -> dict[str, Any]:
    brand = BRANDS[index % len(BRANDS)]
    material, noun = item.title.split(" ", 1)
    return {
        "code": item.sku,
        "description": item.title,
        "unit": "EA",
        "active": True,
        "brand": brand,
        "long_description": f"{item.title} by {brand}: {material.lower()}, built for daily use.",
        "bullets": [f"Made of {material.lower()}", f"One {noun.lower()} per pack"],
        "mpn": f"MPN-{item.sku}",
        "identifiers": {"upc": upc(index + 1)},
        "dimensions": {
            "length": 5 + index % 40,
            "width": 3 + index % 17,
            "height": 1 + index % 9,
            "unit": "cm",
        },
        "weight": {"value": item.grams, "unit": "g"},
        "category": f"Hardware > {noun}",
        "images": [f"{IMAGE_HOST}/{item.sku}/main.jpg", f"{IMAGE_HOST}/{item.sku}/side.jpg"],
    }


def page(items: dict[str, dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    codes = sorted(c for c in items if after is None or c > after)
    chosen = codes[:limit]
    more = len(codes) > limit
    return {"items": [items[c] for c in chosen], "missing": [], "next_after": chosen[-1] if more else None}


def edit(item: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Merge `changes` into the item; a null value removes the field (the code stays)."""
    for name, value in changes.items():
        if name == "code":
            continue
        if value is None:
            item.pop(name, None)
        else:
            item[name] = value
    return item
