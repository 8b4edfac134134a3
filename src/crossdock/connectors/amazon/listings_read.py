"""What an Amazon seller's listings show, for reconciliation: `searchListingsItems`
(Listings Items API 2021-08-01) by SKU, 20 per call, with `fulfillmentAvailability`.
Only seller-fulfilled stock (`DEFAULT`) is Crossdock's to manage; FBA quantities are not."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from crossdock.connectors.amazon.client import BUCKETS_KEY, Bucket, SpApiClient
from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.amazon.feeds import LISTINGS
from crossdock.connectors.inventory_reading import ChannelLevel
from crossdock.connectors.registry import ConnectorContext
from crossdock.errors import PermanentError

SEARCH = "searchListingsItems"
USAGE_PLAN = (5.0, 5)  # requests per second, burst
MAX_IDENTIFIERS = 20


def decode_search(body: Any, skus: list[str]) -> dict[str, ChannelLevel]:
    found: dict[str, ChannelLevel] = {}
    for item in (body or {}).get("items") or ():
        sku = item.get("sku") if isinstance(item, dict) else None
        if sku not in skus:
            continue
        default = next(
            (
                f
                for f in item.get("fulfillmentAvailability") or ()
                if f.get("fulfillmentChannelCode") == "DEFAULT"
            ),
            None,
        )
        quantity = default.get("quantity") if default else None
        found[sku] = ChannelLevel(sku, int(quantity) if isinstance(quantity, int | float) else None)
    return found


class AmazonListingsReader:
    """`InventoryReader` for one Amazon seller (opened config; `seller_id` required)."""

    channel = "amazon"
    max_read = MAX_IDENTIFIERS

    def __init__(self, config: AmazonConfig, ctx: ConnectorContext) -> None:
        self.config, self.ctx = config, ctx
        self.client = SpApiClient(config, ctx)
        buckets: dict[str, Bucket] = ctx.cache.setdefault(BUCKETS_KEY, {})
        buckets.setdefault(SEARCH, Bucket(USAGE_PLAN[0], USAGE_PLAN[1], USAGE_PLAN[1], ctx.clock()))

    async def read(self, refs: list[str]) -> dict[str, ChannelLevel]:
        seller = self.config.seller_id
        if not seller:
            raise PermanentError(
                "config.seller_id_missing",
                "the Amazon connection has no seller_id; reading listings needs it",
                "Set seller_id (the merchant token, Seller Central → Account Info) on the connection.",
            )
        found: dict[str, ChannelLevel] = {}
        skus = sorted(set(refs))
        for start in range(0, len(skus), MAX_IDENTIFIERS):
            batch = skus[start : start + MAX_IDENTIFIERS]
            params = {
                "marketplaceIds": ",".join(self.config.marketplace_ids),
                "identifiers": ",".join(batch),
                "identifiersType": "SKU",
                "includedData": "summaries,fulfillmentAvailability",
                "pageSize": str(MAX_IDENTIFIERS),
            }
            path = f"{LISTINGS}/{quote(seller, safe='')}"
            answer = await self.client.call(SEARCH, "GET", path, params=params)
            found.update(decode_search(answer.body, batch))
        return found
