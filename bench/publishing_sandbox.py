"""The sandbox for `python -m bench publishing`: `python -m bench.publishing_sandbox --port P --items N`.

The unchanged sandbox (Shopify Standard plan: 1,000-point bucket, 100 points/s; Amazon's
feed limits and 60-s processing) with a catalog of N items, webhooks off, plus bench-only
control routes:

    GET  /_bench/skus               Shopify SKU → InventoryItem id (what Crossdock learned earlier)
    POST /_bench/amazon_listings    {sku: quantity}: the seller's listings before the run
    POST /_bench/expect             {"shopify": {sku: q}, "amazon": {sku: q}}: the quantities to watch for
    GET  /_bench/progress           per channel: items shown right, when the last one became
                                    right (the sandbox's own clock), calls, throttling

The watch is kept as changes are applied (wrapped around the sandbox's own appliers), so
"when did the channel show everything right" is the sandbox's time, not the poller's."""

from __future__ import annotations

import argparse
import time
from typing import Any

from aiohttp import web

from crossdock.sandbox import amazon_feeds, shopify_mutations
from crossdock.sandbox.app import SANDBOX, create_sandbox_app
from crossdock.sandbox.state import AmazonListingsConfig, SandboxConfig, ShopifyStoreConfig


class Watch:
    """Which watched SKUs a channel does not show right yet, and when the last became right."""

    def __init__(self) -> None:
        self.expected: dict[str, int] = {}
        self.wrong: set[str] = set()
        self.done_at: float | None = None
        self.changes = 0

    def expect(self, expected: dict[str, int], shown: dict[str, int | None]) -> None:
        self.expected = expected
        self.wrong = {s for s, q in expected.items() if shown.get(s) != q}
        self.done_at = None if self.wrong else time.time()
        self.changes = 0

    def saw(self, sku: str | None, quantity: int | None) -> None:
        if sku is None or sku not in self.expected:
            return
        self.changes += 1
        if quantity == self.expected[sku]:
            self.wrong.discard(sku)
            if not self.wrong and self.done_at is None:
                self.done_at = time.time()
        else:
            self.wrong.add(sku)
            self.done_at = None

    def progress(self) -> dict[str, Any]:
        return {"watched": len(self.expected), "right": len(self.expected) - len(self.wrong),
                "done_at": self.done_at, "changes": self.changes}  # fmt: skip


WATCH = {"shopify": Watch(), "amazon": Watch()}
SKU_OF_ITEM: dict[int, str] = {}


def _wrap() -> None:
    apply_quantities = shopify_mutations._apply_quantities

    def applied(store, spec, name, changes):
        result = apply_quantities(store, spec, name, changes)
        if name == "available":
            for (item, _loc), _level, quantity in changes:
                WATCH["shopify"].saw(SKU_OF_ITEM.get(item), quantity)
        return result

    shopify_mutations._apply_quantities = applied
    apply_message = amazon_feeds.AmazonListings._apply

    def applied_message(self, message):
        issues = apply_message(self, message)
        if not issues and isinstance(message, dict):
            WATCH["amazon"].saw(message.get("sku"), amazon_feeds._quantity(message))
        return issues

    amazon_feeds.AmazonListings._apply = applied_message


def build(items: int) -> web.Application:
    config = SandboxConfig(
        catalog_size=items,
        shopify=ShopifyStoreConfig(topics=()),
        amazon_feeds=AmazonListingsConfig(feed_processing_s=60.0),
    )
    app = create_sandbox_app(config)
    sandbox = app[SANDBOX]
    shop, listings = sandbox.shopify, sandbox.amazon_listings
    assert listings is not None
    location = shop.cfg.location_id
    SKU_OF_ITEM.update({v["inventory_item_id"]: v["sku"] for v in shop.variants.values()})

    async def skus(request: web.Request) -> web.Response:
        return web.json_response({sku: item for item, sku in SKU_OF_ITEM.items()})

    async def amazon_listings(request: web.Request) -> web.Response:
        listings.listings.update({str(k): int(v) for k, v in (await request.json()).items()})
        return web.json_response({"listings": len(listings.listings)})

    async def expect(request: web.Request) -> web.Response:
        body = await request.json()
        items_of = {sku: item for item, sku in SKU_OF_ITEM.items()}
        shown_shop = {
            s: shop.inventory[(items_of[s], location)]["available"] for s in body.get("shopify", {})
        }
        WATCH["shopify"].expect(body.get("shopify", {}), shown_shop)
        WATCH["amazon"].expect(body.get("amazon", {}), dict(listings.listings))
        return web.json_response({"expected": {k: len(v) for k, v in body.items()}})

    async def progress(request: web.Request) -> web.Response:
        stats = sandbox.ctx.stats
        return web.json_response(
            {
                "now": time.time(),
                "shopify": {
                    **WATCH["shopify"].progress(),
                    "calls": stats.snapshot("shopify"),
                    "operations": dict(shop.operations),
                    "bucket": shop.bucket.snapshot(),
                },
                "amazon": {
                    **WATCH["amazon"].progress(),
                    "calls": stats.snapshot("amazon"),
                    "feeds": len(listings.feeds),
                    "throttled": dict(listings.throttled),
                    "patches": len(listings.patches),
                },
            }  # fmt: skip
        )

    app.router.add_get("/_bench/skus", skus)
    app.router.add_post("/_bench/amazon_listings", amazon_listings)
    app.router.add_post("/_bench/expect", expect)
    app.router.add_get("/_bench/progress", progress)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    _wrap()
    web.run_app(build(args.items), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
