"""Shopify available quantities: `inventorySetQuantities`, 250 quantities per call.

Per API 2026-04 every quantity carries `changeFromQuantity` (the quantity Crossdock
published last, so a sale or a manual edit since then is not overwritten blindly; null
skips the check) and the mutation carries `@idempotent(key:)`: the key is derived from the
update keys of the call, so a retried publish replays instead of applying twice.

Shopify applies a call all or nothing: when some quantities are refused (stale
`changeFromQuantity`, unknown inventory item), the refused ones become per-item failures
and the rest is sent again as a new call (its own key). SKUs are turned into InventoryItem
gids by `productVariants(query: "sku:…")` lookups, batched and cached per connection.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from crossdock.connectors.inventory_publishing import ItemFailure, PublishResult, StockUpdate
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.shopify.client import MUTATION_COST, Operation, ShopifyClient
from crossdock.connectors.shopify.config import ShopifyConfig
from crossdock.errors import PermanentError, ThrottledError

MAX_QUANTITIES = 250  # Shopify's limit on array inputs
LOOKUP_BATCH = 100  # SKUs per productVariants search
MAX_SLEEP = 2.0  # a throttle wait up to this is slept; a longer one raises ThrottledError
MAX_ROUNDS = 5  # calls per chunk while Shopify keeps refusing some quantities
CACHE_KEY = "shopify.inventory_item_by_sku"
GID_PREFIX = "gid://shopify/InventoryItem/"

SET_QUANTITIES = Operation(
    "inventorySetQuantities",
    """
mutation inventorySetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange item { id } } }
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
    nodes { id sku inventoryItem { id } }
    pageInfo { hasNextPage }
  }
}""".strip(),
    3 + LOOKUP_BATCH,
)

_USER_ERRORS: dict[str, tuple[str, str]] = {
    "CHANGE_FROM_QUANTITY_STALE": (
        "remote.stale_quantity",
        "Shopify's quantity changed since Crossdock last published it (a sale or a manual edit); "
        "the next availability run publishes again from Shopify's current figure.",
    ),
    "INVALID_INVENTORY_ITEM": (
        "mapping.channel_item_unknown",
        "The inventory item is not stocked at the configured location: check the variant's SKU "
        "and the connection's location_id.",
    ),
}


# -- codec (pure) -------------------------------------------------------------------------------


def batch_key(keys: list[str]) -> str:
    """The `@idempotent` key of one call: the same updates always give the same key."""
    return "crossdock-inv-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:40]


def encode_set_quantities(rows: list[tuple[StockUpdate, str]], location_gid: str) -> dict[str, Any]:
    """Variables of one `inventorySetQuantities` call; rows are (update, InventoryItem gid)."""
    if len(rows) > MAX_QUANTITIES:
        raise ValueError(f"at most {MAX_QUANTITIES} quantities per inventorySetQuantities call")
    quantities = [
        {
            "inventoryItemId": gid,
            "locationId": location_gid,
            "quantity": update.quantity,
            "changeFromQuantity": update.previous,
        }
        for update, gid in rows
    ]
    spec = {"name": "available", "reason": "correction", "quantities": quantities}
    return {"input": spec, "idempotencyKey": batch_key([u.key for u, _ in rows])}


def refused_quantities(user_errors: list[dict[str, Any]], count: int) -> dict[int, ItemFailure] | None:
    """Index of each refused quantity → its failure; None when an error names no quantity."""
    refused: dict[int, ItemFailure] = {}
    for error in user_errors:
        field = [str(p) for p in error.get("field") or []]
        index = int(field[2]) if len(field) > 2 and field[1] == "quantities" and field[2].isdigit() else -1
        if not 0 <= index < count:
            return None
        code = str(error.get("code") or "")
        category, hint = _USER_ERRORS.get(
            code, ("remote.rejected", "Read Shopify's refusal; fix the listing, then publish again.")
        )
        refused[index] = ItemFailure(
            category, f"Shopify refused the quantity: {code} {error.get('message')}", hint
        )
    return refused


def sku_query(skus: list[str]) -> str:
    return " OR ".join('sku:"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in skus)


# -- the publisher -----------------------------------------------------------------------------


class ShopifyInventoryPublisher:
    """`InventoryPublisher` for one Shopify store and location (opened config)."""

    channel = "shopify"
    max_batch = MAX_QUANTITIES

    def __init__(self, config: ShopifyConfig, ctx: ConnectorContext) -> None:
        self.config, self.ctx = config, ctx
        self.client = ShopifyClient(config, ctx)

    @property
    def _known(self) -> dict[str, str]:
        return self.ctx.cache.setdefault(CACHE_KEY, {})

    async def publish(self, updates: list[StockUpdate]) -> PublishResult:
        location = self.config.location_gid
        if location is None:
            raise PermanentError(
                "config.location_missing",
                "the Shopify connection has no location_id to publish quantities at",
                "Set location_id on the connection (Settings → Locations in the Shopify admin).",
            )
        rows, failed = await self._resolve(updates)
        result = PublishResult(failed=failed)
        for start in range(0, len(rows), MAX_QUANTITIES):
            result = result.merge(await self._set_chunk(rows[start : start + MAX_QUANTITIES], location))
        return result

    async def check(self, pending: str) -> PublishResult | None:
        """Shopify answers at once: nothing is ever pending."""
        return PublishResult()

    async def _set_chunk(self, rows: list[tuple[StockUpdate, str]], location: str) -> PublishResult:
        failed: dict[str, ItemFailure] = {}
        for _ in range(MAX_ROUNDS):
            if not rows:
                break
            try:
                await self._execute(SET_QUANTITIES, encode_set_quantities(rows, location))
            except PermanentError as error:
                refused = refused_quantities(error.context.get("user_errors") or [], len(rows))
                if not refused:
                    raise
                for index, failure in refused.items():
                    update, gid = rows[index]
                    failed[update.key] = failure
                    if failure.category == "mapping.channel_item_unknown":
                        self._known.pop(update.channel_ref, None)  # look it up again next time
                rows = [row for i, row in enumerate(rows) if i not in refused]
                continue
            return PublishResult([u.key for u, _ in rows], failed)
        raise PermanentError(
            "remote.rejected",
            f"Shopify kept refusing quantities after {MAX_ROUNDS} calls",
            "Read the lineage of these calls; report it if Shopify's refusals do not name quantities.",
        )

    async def _resolve(self, updates: list[StockUpdate]) -> tuple[list[tuple[StockUpdate, str]], dict]:
        """(update, InventoryItem gid) for each update Shopify knows; failures for the rest."""
        failed: dict[str, ItemFailure] = {}
        for update in updates:
            if update.quantity < 0:
                failed[update.key] = ItemFailure(
                    "validation.negative_quantity", f"quantity {update.quantity} for {update.channel_ref}"
                )
        wanted = sorted(
            {u.channel_ref for u in updates if not u.channel_ref.startswith("gid://")} - set(self._known)
        )
        for start in range(0, len(wanted), LOOKUP_BATCH):
            await self._look_up(wanted[start : start + LOOKUP_BATCH])
        rows = []
        for update in updates:
            if update.key in failed:
                continue
            ref = update.channel_ref
            gid = ref if ref.startswith(GID_PREFIX) else self._known.get(ref)
            if gid:
                rows.append((update, gid))
            else:
                failed[update.key] = ItemFailure(
                    "mapping.sku_unknown" if gid is None else "mapping.sku_ambiguous",
                    f"Shopify has {'no variant' if gid is None else 'several variants'} with SKU {ref!r}",
                    "Create the variant in Shopify or fix the item's channel SKU mapping, then publish again.",
                )
        return rows, failed

    async def _look_up(self, skus: list[str]) -> None:
        answer = await self._execute(VARIANTS_BY_SKU, {"first": LOOKUP_BATCH, "query": sku_query(skus)})
        found: dict[str, set[str]] = {}
        for node in (answer or {}).get("nodes") or ():
            item = (node.get("inventoryItem") or {}).get("id")
            if node.get("sku") in skus and item:
                found.setdefault(node["sku"], set()).add(str(item))
        for sku, items in found.items():
            self._known[sku] = next(iter(items)) if len(items) == 1 else ""  # "": ambiguous

    async def _execute(self, op: Operation, variables: dict[str, Any]) -> Any:
        return await with_short_waits(lambda: self.client.execute(op, variables))


async def with_short_waits(call: Callable[[], Awaitable[Any]], rounds: int = 5) -> Any:
    """Sleep through short throttles (the cost bucket refills in a moment); raise long ones."""
    for _ in range(rounds):
        try:
            return await call()
        except ThrottledError as error:
            if error.retry_after > MAX_SLEEP:
                raise
            await asyncio.sleep(error.retry_after)
    return await call()
