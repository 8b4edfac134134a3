"""Publishing available quantities to sales channels, in bulk, within each channel's limits.

A channel connector that can take stock levels implements `InventoryPublisher`. The flow
hands it `StockUpdate`s (one per channel listing) and gets a `PublishResult` back:

- `accepted`: keys of updates the channel took;
- `failed`: key → `ItemFailure` (category, detail, hint) for updates the channel refused.
  One refused item never fails its batch: the others are accepted or retried by the
  connector itself. Only a failure of the whole call (auth, throttling, transport) raises;
- `pending`: an opaque token when the channel answers later (feed-based channels: Amazon,
  Walmart). The flow stores it and calls `check(pending)` until it answers a result
  (`None`: not processed yet). The token is self-contained (feed id and the keys by
  position), so the check survives a restart of the process that published.

`max_batch` is the most updates one vendor request carries (Shopify 250 per mutation,
Amazon 25,000 messages per feed, Walmart `config.max_feed_items`). Request-based channels
take any number of updates per `publish` and split them; feed-based channels send one feed
per `publish` and refuse more than `max_batch` (ValueError: the caller groups).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import orjson

from crossdock.errors import PermanentError


@dataclass(frozen=True, slots=True)
class StockUpdate:
    """One quantity to publish for one listing on one channel."""

    item_code: str  # the distributor's item
    channel_ref: str  # Shopify SKU or InventoryItem gid, Amazon seller SKU, Walmart SKU
    quantity: int  # the available quantity to show (≥ 0)
    previous: int | None  # what Crossdock published last (compare-and-set where the channel can)
    key: str  # idempotency key of this update, echoed in the result


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """Why the channel refused one update; shaped like `PermanentError`."""

    category: str
    detail: str
    hint: str = ""

    def to_error(self) -> PermanentError:
        return PermanentError(self.category, self.detail, self.hint)

    @classmethod
    def of(cls, error: PermanentError) -> ItemFailure:
        return cls(error.category, error.detail, error.hint)


@dataclass(frozen=True, slots=True)
class PublishResult:
    accepted: list[str] = field(default_factory=list)
    failed: dict[str, ItemFailure] = field(default_factory=dict)
    pending: str | None = None

    def merge(self, other: PublishResult) -> PublishResult:
        return PublishResult(
            [*self.accepted, *other.accepted],
            {**self.failed, **other.failed},
            other.pending or self.pending,
        )


@runtime_checkable
class InventoryPublisher(Protocol):
    channel: str
    max_batch: int

    async def publish(self, updates: list[StockUpdate]) -> PublishResult: ...

    async def check(self, pending: str) -> PublishResult | None:
        """The outcome of a pending publication; None while the channel is still processing it."""
        ...


# -- the pending token of feed-based channels ------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingFeed:
    """A submitted feed: its id and the update keys in feed order (position i ↔ keys[i])."""

    feed_id: str
    keys: tuple[str, ...]
    skus: tuple[str, ...] = ()

    def encode(self) -> str:
        return orjson.dumps({"feed_id": self.feed_id, "keys": self.keys, "skus": self.skus}).decode()

    @classmethod
    def decode(cls, token: str) -> PendingFeed:
        try:
            value = orjson.loads(token)
            return cls(str(value["feed_id"]), tuple(value["keys"]), tuple(value.get("skus") or ()))
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise PermanentError(
                "validation.pending_token",
                f"unreadable pending publication token {token[:120]!r}",
                "Crossdock defect: the token was not written by this connector; report it.",
            ) from exc


def check_batch(updates: list[StockUpdate], max_batch: int, channel: str) -> None:
    """Feed-based channels take at most `max_batch` updates per publish, each key once."""
    if len(updates) > max_batch:
        raise ValueError(f"{channel}: {len(updates)} updates in one publish; at most {max_batch}")
    keys = [u.key for u in updates]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{channel}: update keys repeat within one publish")


def failures(updates: list[StockUpdate], failure: ItemFailure) -> dict[str, ItemFailure]:
    return {u.key: failure for u in updates}
