"""What a Shopify store shows as available, for reconciliation: `inventoryItems` searched by
SKU (100 per query), each with its `inventoryLevel` at the connection's location.

The answer also names each SKU's InventoryItem gid, which `ShopifyInventoryPublisher`
takes in place of the SKU (no lookup before publishing)."""

from __future__ import annotations

from typing import Any

from crossdock.connectors.inventory_reading import ChannelLevel
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.shopify.client import Operation, ShopifyClient
from crossdock.connectors.shopify.config import ShopifyConfig
from crossdock.connectors.shopify.inventory import sku_query, with_short_waits
from crossdock.errors import PermanentError

READ_BATCH = 100

LEVELS_BY_SKU = Operation(
    "inventoryItems",
    """
query inventoryItems($first: Int!, $query: String!, $locationId: ID!) {
  inventoryItems(first: $first, query: $query) {
    nodes { id sku inventoryLevel(locationId: $locationId) { quantities(names: ["available"]) { name quantity } } }
    pageInfo { hasNextPage }
  }
}""".strip(),
    3 + READ_BATCH,
)


def decode_levels(answer: Any, skus: list[str]) -> dict[str, ChannelLevel]:
    """SKU → level, for the asked SKUs Shopify answered (a SKU on several items: the first)."""
    found: dict[str, ChannelLevel] = {}
    for node in (answer or {}).get("nodes") or ():
        sku = node.get("sku")
        if sku not in skus or sku in found:
            continue
        level = node.get("inventoryLevel") or {}
        available = next(
            (q.get("quantity") for q in level.get("quantities") or () if q.get("name") == "available"), None
        )
        quantity = int(available) if isinstance(available, int | float) and level else None
        found[sku] = ChannelLevel(sku, quantity, node.get("id"))
    return found


class ShopifyInventoryReader:
    """`InventoryReader` for one Shopify store and location (opened config)."""

    channel = "shopify"
    max_read = READ_BATCH

    def __init__(self, config: ShopifyConfig, ctx: ConnectorContext) -> None:
        self.config, self.ctx = config, ctx
        self.client = ShopifyClient(config, ctx)

    async def read(self, refs: list[str]) -> dict[str, ChannelLevel]:
        location = self.config.location_gid
        if location is None:
            raise PermanentError(
                "config.location_missing",
                "the Shopify connection has no location_id to read quantities at",
                "Set location_id on the connection (Settings → Locations in the Shopify admin).",
            )
        found: dict[str, ChannelLevel] = {}
        skus = sorted(set(refs))
        for start in range(0, len(skus), READ_BATCH):
            batch = skus[start : start + READ_BATCH]
            variables = {"first": len(batch), "query": sku_query(batch), "locationId": location}
            answer = await with_short_waits(lambda v=variables: self.client.execute(LEVELS_BY_SKU, v))
            found.update(decode_levels(answer, batch))
        return found
