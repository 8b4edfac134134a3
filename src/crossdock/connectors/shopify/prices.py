"""Shopify prices: `productVariantsBulkUpdate`, one call per product (up to 250 variants).

SKUs are turned into (Product gid, ProductVariant gid) by `productVariants(query: "sku:…")`
lookups, batched and cached per connection. Shopify applies a call all or nothing: when
it refuses some variants (`userErrors` naming `variants.<i>`), those become per-item
failures and the rest is sent again; a refusal naming the product fails its variants.
Prices are the store's currency; the amount is sent as a decimal string.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from crossdock.connectors.inventory_publishing import ItemFailure, PublishResult
from crossdock.connectors.price_publishing import PriceUpdate
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.shopify.client import MUTATION_COST, Operation, ShopifyClient
from crossdock.connectors.shopify.config import ShopifyConfig
from crossdock.connectors.shopify.inventory import LOOKUP_BATCH, sku_query, with_short_waits
from crossdock.errors import PermanentError

MAX_VARIANTS = 250  # Shopify's limit on array inputs
MAX_ROUNDS = 5
CACHE_KEY = "shopify.variant_by_sku"  # sku → (product gid, variant gid); ("", "") ambiguous
VARIANT_PREFIX = "gid://shopify/ProductVariant/"

BULK_UPDATE = Operation(
    "productVariantsBulkUpdate",
    """
mutation productVariantsBulkUpdate($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkUpdate(productId: $productId, variants: $variants) {
    product { id }
    productVariants { id sku price }
    userErrors { field message code }
  }
}""".strip(),
    MUTATION_COST,
)
VARIANTS_BY_SKU = Operation(
    "productVariants",
    """
query productVariants($first: Int!, $query: String!) {
  productVariants(first: $first, query: $query) {
    nodes { id sku product { id } }
    pageInfo { hasNextPage }
  }
}""".strip(),
    3 + LOOKUP_BATCH,
)
_REFUSED_HINT = "Read Shopify's refusal; fix the variant (or the item's channel SKU mapping), then retry."


# -- codec (pure) -------------------------------------------------------------------------------


def encode_bulk_update(product_gid: str, rows: list[tuple[PriceUpdate, str]]) -> dict[str, Any]:
    """Variables of one call; rows are (update, ProductVariant gid) of one product."""
    if len(rows) > MAX_VARIANTS:
        raise ValueError(f"at most {MAX_VARIANTS} variants per productVariantsBulkUpdate call")
    return {"productId": product_gid, "variants": [{"id": gid, "price": str(u.price)} for u, gid in rows]}


def refused_variants(user_errors: list[dict[str, Any]], count: int) -> dict[int, ItemFailure] | None:
    """Index of each refused variant → its failure; None when an error names no variant."""
    refused: dict[int, ItemFailure] = {}
    for error in user_errors:
        field = [str(p) for p in error.get("field") or []]
        index = int(field[1]) if len(field) > 1 and field[0] == "variants" and field[1].isdigit() else -1
        if not 0 <= index < count:
            return None
        code = str(error.get("code") or "")
        refused[index] = ItemFailure(
            "mapping.channel_item_unknown" if code == "PRODUCT_VARIANT_DOES_NOT_EXIST" else "remote.rejected",
            f"Shopify refused the price: {code} {error.get('message')}",
            _REFUSED_HINT,
        )
    return refused


# -- the publisher -----------------------------------------------------------------------------


class ShopifyPricePublisher:
    """`PricePublisher` for one Shopify store (opened config)."""

    channel = "shopify"
    max_batch = 1000  # updates per publish; split into one call per product

    def __init__(self, config: ShopifyConfig, ctx: ConnectorContext) -> None:
        self.config, self.ctx = config, ctx
        self.client = ShopifyClient(config, ctx)

    @property
    def _known(self) -> dict[str, tuple[str, str]]:
        return self.ctx.cache.setdefault(CACHE_KEY, {})

    async def publish(self, updates: list[PriceUpdate]) -> PublishResult:
        by_product, failed = await self._resolve(updates)
        result = PublishResult(failed=failed)
        for product, rows in by_product.items():
            for start in range(0, len(rows), MAX_VARIANTS):
                result = result.merge(await self._update(product, rows[start : start + MAX_VARIANTS]))
        return result

    async def check(self, pending: str) -> PublishResult | None:
        """Shopify answers at once: nothing is ever pending."""
        return PublishResult()

    async def publish_one(self, update: PriceUpdate) -> ItemFailure | None:
        result = await self.publish([update])
        return result.failed.get(update.key)

    async def _update(self, product: str, rows: list[tuple[PriceUpdate, str]]) -> PublishResult:
        failed: dict[str, ItemFailure] = {}
        for _ in range(MAX_ROUNDS):
            if not rows:
                break
            try:
                await self._execute(BULK_UPDATE, encode_bulk_update(product, rows))
            except PermanentError as error:
                errors = error.context.get("user_errors") or []
                refused = refused_variants(errors, len(rows))
                if not errors:
                    raise
                if refused is None:  # the product itself: every variant of the call fails
                    failure = ItemFailure(error.category, error.detail, _REFUSED_HINT)
                    self._forget(u.channel_ref for u, _ in rows)
                    return PublishResult(failed={**failed, **{u.key: failure for u, _ in rows}})
                for index, failure in refused.items():
                    failed[rows[index][0].key] = failure
                    self._forget([rows[index][0].channel_ref])
                rows = [row for i, row in enumerate(rows) if i not in refused]
                continue
            return PublishResult([u.key for u, _ in rows], failed)
        raise PermanentError(
            "remote.rejected",
            f"Shopify kept refusing prices after {MAX_ROUNDS} calls",
            "Read the lineage of these calls; report it if Shopify's refusals do not name variants.",
        )

    def _forget(self, skus) -> None:
        for sku in skus:
            self._known.pop(sku, None)  # looked up again next time

    async def _resolve(self, updates: list[PriceUpdate]) -> tuple[dict[str, list], dict[str, ItemFailure]]:
        """(product gid → [(update, variant gid)], failures) for the updates."""
        failed: dict[str, ItemFailure] = {}
        wanted = sorted({u.channel_ref for u in updates} - set(self._known))
        for start in range(0, len(wanted), LOOKUP_BATCH):
            await self._look_up(wanted[start : start + LOOKUP_BATCH])
        by_product: dict[str, list] = defaultdict(list)
        for update in updates:
            if update.price < 0:
                failed[update.key] = ItemFailure("validation.negative_price", f"price {update.price}")
                continue
            product, variant = self._known.get(update.channel_ref, (None, None))
            if product and variant:
                by_product[product].append((update, variant))
                continue
            failed[update.key] = ItemFailure(
                "mapping.sku_unknown" if product is None else "mapping.sku_ambiguous",
                f"Shopify has {'no variant' if product is None else 'several variants'} with SKU "
                f"{update.channel_ref!r}",
                "Create the variant in Shopify or fix the item's channel SKU mapping, then retry.",
            )
        return dict(by_product), failed

    async def _look_up(self, skus: list[str]) -> None:
        answer = await self._execute(VARIANTS_BY_SKU, {"first": LOOKUP_BATCH, "query": sku_query(skus)})
        found: dict[str, set[tuple[str, str]]] = {}
        for node in (answer or {}).get("nodes") or ():
            product = (node.get("product") or {}).get("id")
            if node.get("sku") in skus and product and node.get("id"):
                found.setdefault(node["sku"], set()).add((str(product), str(node["id"])))
        for sku, pairs in found.items():
            self._known[sku] = next(iter(pairs)) if len(pairs) == 1 else ("", "")

    async def _execute(self, op: Operation, variables: dict[str, Any]) -> Any:
        return await with_short_waits(lambda: self.client.execute(op, variables))


def build_price_publisher(config: Any, ctx: ConnectorContext) -> ShopifyPricePublisher:
    opened = config if isinstance(config, ShopifyConfig) else ShopifyConfig.model_validate(config)
    return ShopifyPricePublisher(opened, ctx)
