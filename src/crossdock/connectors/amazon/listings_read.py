"""What an Amazon seller's listings show, for reconciliation: `searchListingsItems`
(Listings Items API 2021-08-01) by SKU, 20 per call, with `fulfillmentAvailability`.
Only seller-fulfilled stock (`DEFAULT`) is Crossdock's to manage; FBA quantities are not.

An answer is read against Amazon's `ItemSearchResults` schema: any other shape is a
`CodecError` naming the field, never "nothing listed" (which would report every SKU of the
page as missing); a 2xx without a JSON body is asked again. A page of at most 20 SKUs asked
20 per page comes whole; should Amazon page it anyway, its `nextToken` is followed."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from crossdock.connectors.amazon.client import BUCKETS_KEY, Bucket, SpApiClient
from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.amazon.feeds import LISTINGS
from crossdock.connectors.codec_errors import CodecError, Field
from crossdock.connectors.inventory_reading import ChannelLevel
from crossdock.connectors.registry import ConnectorContext
from crossdock.errors import PermanentError, TransientError

CHANNEL = "amazon"
SEARCH = "searchListingsItems"
USAGE_PLAN = (5.0, 5)  # requests per second, burst
MAX_IDENTIFIERS = 20
SELLER_FULFILLED = "DEFAULT"


def decode_search(body: Any, skus: list[str]) -> dict[str, ChannelLevel]:
    """SKU → level for the asked SKUs a `searchListingsItems` answer lists (`{numberOfResults,
    items: [{sku, fulfillmentAvailability: [{fulfillmentChannelCode, quantity}]}]}`); a
    listing without a DEFAULT quantity reads as listed without one. Any other shape, or an
    unpaged answer listing fewer items than it counts, is a CodecError. (`numberOfResults` is
    required by the schema but only checked when sent: `items` is what the answer rests on.)"""
    root = Field(body, "", CHANNEL).required()
    items = root["items"].required().items()
    counted = int(root["numberOfResults"].count()) if root["numberOfResults"].present else len(items)
    paged = any(root["pagination"][token].opt_text() for token in ("nextToken", "previousToken"))
    if len(items) < counted and not paged:
        raise root["items"].fail(f"lists {len(items)} listings of the {counted} numberOfResults counts")
    found: dict[str, ChannelLevel] = {}
    for item in items:
        sku = item["sku"].text()
        if sku in skus:
            found[sku] = ChannelLevel(sku, _seller_fulfilled(item["fulfillmentAvailability"]))
    return found


def next_page(body: Any) -> str | None:
    """The `pagination.nextToken` of a decoded answer: more listings to ask for."""
    return Field(body, "", CHANNEL)["pagination"]["nextToken"].opt_text()


def _seller_fulfilled(availability: Field) -> int | None:
    for entry in availability.items():
        if entry["fulfillmentChannelCode"].text() == SELLER_FULFILLED:
            quantity = entry["quantity"]
            return int(quantity.count()) if quantity.present else None
    return None


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
            found.update(await self.read_batch(seller, skus[start : start + MAX_IDENTIFIERS]))
        return found

    async def read_batch(self, seller: str, batch: list[str]) -> dict[str, ChannelLevel]:
        """At most 20 SKUs: one page, or (should Amazon page it) one listing a page at worst."""
        found: dict[str, ChannelLevel] = {}
        params = {
            "marketplaceIds": ",".join(self.config.marketplace_ids),
            "identifiers": ",".join(batch),
            "identifiersType": "SKU",
            "includedData": "summaries,fulfillmentAvailability",
            "pageSize": str(MAX_IDENTIFIERS),
        }
        path = f"{LISTINGS}/{quote(seller, safe='')}"
        for _ in range(len(batch)):
            answer = await self.client.call(SEARCH, "GET", path, params=params)
            if answer.body is None:  # a 2xx without a body: ask again
                raise TransientError(f"Amazon {SEARCH} answered {answer.status} without a JSON body")
            found.update(decode_search(answer.body, batch))
            token = next_page(answer.body)
            if token is None:
                return found
            params = {**params, "pageToken": token}
        raise CodecError(
            "pagination.nextToken", f"still names a next page after {len(batch)} pages", system=CHANNEL
        )
