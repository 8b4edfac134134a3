"""What a Walmart seller shows as its quantity, for reconciliation: getInventory
(`GET /v3/inventory?sku=`), one SKU a call, at the connection's `ship_node` (the node its
inventory feed sets; none: the seller's default node, for both).

Walmart has no read of many given SKUs: `GET /v3/inventories` pages through the whole
catalog by cursor, which does not fit a reconciliation page of chosen SKUs. The calls go one
at a time, paced by the client's getInventory bucket (config.DEFAULT_RATE_LIMITS, or the
connection's `rate_limits` override); a 429 pauses the connection. A SKU Walmart does not
hold answers 404 `CONTENT_NOT_FOUND…` and is left out of the answer (not listed).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from crossdock.connectors.inventory_reading import ChannelLevel
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.walmart.client import WalmartClient
from crossdock.connectors.walmart.codec import decode_inventory, inventory_not_found
from crossdock.connectors.walmart.config import WalmartConfig
from crossdock.errors import PermanentError, TransientError

OPERATION = "getInventory"
PATH = "/v3/inventory"


def inventory_path(sku: str, ship_node: str | None) -> str:
    """The getInventory path with its query, every reserved character of the SKU encoded
    (Walmart asks for `:/?#[]@!$&'()*+,;=` and `%` encoded, a space as %20)."""
    query = {"sku": sku, **({"shipNode": ship_node} if ship_node else {})}
    return f"{PATH}?{urlencode(query, quote_via=quote, safe='')}"


class WalmartInventoryReader:
    """`InventoryReader` for one Walmart seller (opened config)."""

    channel = "walmart"
    max_read = 1

    def __init__(self, config: WalmartConfig, ctx: ConnectorContext) -> None:
        self.config, self.ctx = config, ctx
        self.client = WalmartClient(config, ctx)

    async def read(self, refs: list[str]) -> dict[str, ChannelLevel]:
        found: dict[str, ChannelLevel] = {}
        for sku in sorted(set(refs)):
            level = await self.read_one(sku)
            if level is not None:
                found[sku] = level
        return found

    async def read_one(self, sku: str) -> ChannelLevel | None:
        """The SKU's level, or None when Walmart does not hold the SKU."""
        path = inventory_path(sku, self.config.ship_node)
        answer = await self.client.call(OPERATION, "GET", path, expect=(404,))
        if answer.status == 404:
            if inventory_not_found(answer.body):
                return None
            raise PermanentError(
                "remote.not_found",
                f"Walmart {OPERATION} answered 404 without naming the SKU as unknown ({sku!r})",
                "Check the connection's base_url: the inventory API was not found there.",
                context={"status": 404, "operation": OPERATION},
            )
        if answer.body is None:  # a 2xx whose body is not JSON: ask again
            raise TransientError(f"Walmart {OPERATION} answered {answer.status} without a JSON body")
        return decode_inventory(answer.body, sku)
