"""Configuration of a Walmart Marketplace seller connection (client credentials, orders, feeds)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Fields holding secrets: `enc:` tokens in the database, literals or `env:NAME` in a file.
SECRET_FIELDS = frozenset({"client_secret"})

# Walmart's default limits of the order operations Crossdock calls, in requests per minute
# (a token bucket per seller and operation that refills over the minute). getInventory
# (`GET /v3/inventory`, reconciliation's read) has no published US Marketplace figure: the
# throttling guide lists feeds and a few sync APIs only, calls non-feed inventory calls
# "highly throttled" and points to the `x-current-token-count` / `x-next-replenish-time`
# headers. Crossdock assumes a cautious 200 a minute (override it per connection under
# `rate_limits`); a 429 pauses the connection anyway.
DEFAULT_RATE_LIMITS: dict[str, float] = {
    "getAllOrders": 5000,
    "getAnOrder": 5000,
    "acknowledgeOrders": 60,
    "shippingUpdates": 60,
    "cancelOrderLines": 60,
    "getInventory": 200,
}


class RateLimit(BaseModel):
    """`per_minute` requests refill the bucket evenly over a minute, up to `burst` (default: a minute's worth)."""

    model_config = ConfigDict(extra="forbid")

    per_minute: float = Field(gt=0)
    burst: float | None = Field(None, ge=1)


class WalmartConfig(BaseModel):
    """One Walmart seller as seen by one API key (Developer Portal client id and secret).

    `service_name` is sent as `WM_SVC.NAME` on every call. `ship_node` addresses one
    fulfillment center in the inventory feed (omitted: the seller's default node).
    `feeds_per_hour` is Walmart's bulk inventory feed limit (10 per hour); `max_feed_items`
    how many SKUs one feed file carries (Walmart caps feed files by size).

    Orders: with `poll_orders`, `crossdock apply` schedules a poll every
    `poll_interval_seconds` (`GET /v3/orders` by last modification, `page_size` orders a
    page). A poll starts `poll_overlap_seconds` before the previous one ended, so an order
    Walmart lists late is not missed; the first poll looks back `first_poll_lookback_hours`.
    Walmart filters listings by creation date too: orders created more than
    `created_window_days` before the polled window are not seen again.
    """

    model_config = ConfigDict(extra="forbid")

    base_url: str = "https://marketplace.walmartapis.com"
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    service_name: str = Field("Walmart Marketplace", min_length=1)
    ship_node: str | None = None
    timeout_seconds: float = Field(30.0, gt=0, le=300)
    feeds_per_hour: int = Field(10, ge=1, le=1000)
    max_feed_items: int = Field(10_000, ge=1, le=100_000)
    status_page_size: int = Field(1000, ge=1, le=1000)  # item details per feed status page
    poll_orders: bool = True  # False: the connection only publishes (no order schedule)
    page_size: int = Field(100, ge=1, le=200)
    poll_interval_seconds: float = Field(120.0, ge=1, le=86_400)
    poll_overlap_seconds: float = Field(300.0, ge=0, le=86_400)
    first_poll_lookback_hours: float = Field(24.0, gt=0, le=24 * 180)
    created_window_days: float = Field(30.0, gt=0, le=180)
    rate_limits: dict[str, RateLimit] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("rate_limits")
    @classmethod
    def _known_operations(cls, value: dict[str, RateLimit]) -> dict[str, RateLimit]:
        if unknown := set(value) - set(DEFAULT_RATE_LIMITS):
            raise ValueError(f"unknown operations {sorted(unknown)}; known: {sorted(DEFAULT_RATE_LIMITS)}")
        return value

    def rate_limit(self, operation: str) -> RateLimit | None:
        """The operation's limit (None: an operation without a client-side bucket, e.g. feeds)."""
        if operation in self.rate_limits:
            return self.rate_limits[operation]
        per_minute = DEFAULT_RATE_LIMITS.get(operation)
        return RateLimit(per_minute=per_minute) if per_minute else None
