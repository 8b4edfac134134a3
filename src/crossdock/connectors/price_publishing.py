"""Publishing prices to sales channels, and reading a base price list from an ERP.

A channel connector that can take prices implements `PricePublisher`; it is shaped like
`InventoryPublisher` and answers the same `PublishResult` (accepted keys, per-item
`ItemFailure`s, a `pending` token for feed-based channels that answer later):

- `publish(updates)`: one batch of at most `max_batch` updates; one refused item never
  fails its batch, only a failure of the whole call (auth, throttling, transport) raises;
- `check(pending)`: the outcome of a pending publication, None while still processing;
- `publish_one(update)`: one price at once (an operator retrying one failed item).

Setting a price is idempotent (an absolute value), so a repeated publish is harmless.
Builders are looked up by connection kind (`price_publisher`), imported on first use.
An ERP connector that has a price list implements `PriceListSource`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from crossdock.connectors.inventory_publishing import ItemFailure, PublishResult
from crossdock.connectors.registry import ConnectorContext
from crossdock.domain.pricing import BasePrice


@dataclass(frozen=True, slots=True)
class PriceUpdate:
    """One price to publish for one listing on one channel."""

    item_code: str  # the distributor's item
    channel_ref: str  # Shopify SKU or ProductVariant gid, Amazon seller SKU
    price: Decimal  # in `currency`, already rounded to its minor units
    currency: str
    key: str  # echoed in the result


@runtime_checkable
class PricePublisher(Protocol):
    channel: str
    max_batch: int

    async def publish(self, updates: list[PriceUpdate]) -> PublishResult: ...

    async def check(self, pending: str) -> PublishResult | None: ...

    async def publish_one(self, update: PriceUpdate) -> ItemFailure | None: ...


@runtime_checkable
class PriceListSource(Protocol):
    async def price_list(self, item_codes: list[str] | None, currency: str) -> list[BasePrice]:
        """Unit prices (and costs, when known) for single units in `currency`; every item
        on the list when `item_codes` is None."""
        ...


_MODULES: dict[str, str] = {
    "shopify": "crossdock.connectors.shopify.prices",
    "amazon": "crossdock.connectors.amazon.prices",
}


def price_publisher(kind: str) -> Callable[[Any, ConnectorContext], PricePublisher] | None:
    """The builder (opened config, context) → publisher for a connection kind, or None."""
    module = _MODULES.get(kind)
    return importlib.import_module(module).build_price_publisher if module else None


__all__ = [
    "ItemFailure",
    "PricePublisher",
    "PriceListSource",
    "PriceUpdate",
    "PublishResult",
    "price_publisher",
]
