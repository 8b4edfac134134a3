"""Configuration of an Amazon seller connection (SP-API Orders v0 with Login with Amazon)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The usage plan of each SP-API operation Crossdock calls: (requests per second, burst).
DEFAULT_RATE_LIMITS: dict[str, tuple[float, float]] = {
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "getOrderAddress": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "createRestrictedDataToken": (1.0, 10),  # Tokens API 2021-03-01
}

# Operations a connection may not override: a configuration key naming a token is sealed as a
# secret (configuration/secrets.py), so this one follows Amazon's x-amzn-RateLimit-Limit only.
FIXED_RATE_LIMITS = frozenset({"createRestrictedDataToken"})

# Fields sealed as `enc:` tokens at rest and never written to lineage or logs.
SECRET_FIELDS = frozenset({"client_secret", "refresh_token", "notification_secret"})


class RateLimit(BaseModel):
    """A token bucket: `rate` requests per second refill it, up to `burst` requests."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(gt=0)
    burst: float = Field(ge=1)


def _absolute_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value.rstrip("/")


class AmazonConfig(BaseModel):
    """`client_secret` and `refresh_token` are secrets: `enc:` tokens in the database,
    literals or `env:NAME` references in a file. `endpoint` is the SP-API base URL of the
    seller's region (e.g. `https://sellingpartnerapi-na.amazon.com`)."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str
    lwa_endpoint: str = "https://api.amazon.com/auth/o2/token"
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    refresh_token: str = Field(min_length=1)
    marketplace_ids: list[str] = Field(min_length=1)
    seller_id: str | None = None
    page_size: int = Field(100, ge=1, le=100)
    timeout_seconds: float = Field(30.0, gt=0, le=300)
    first_poll_lookback_hours: float = Field(24.0, gt=0, le=24 * 730)
    # Polls start this far before the last watermark, so orders Amazon lists late are not missed.
    poll_overlap_seconds: float = Field(300.0, ge=0, le=86_400)
    poll_interval_seconds: float = Field(120.0, ge=1, le=86_400)  # how often the hub asks for new orders
    rate_limits: dict[str, RateLimit] = Field(default_factory=dict)
    # JSON_LISTINGS_FEED submissions: Amazon allows 5 per 5 minutes (a sliding window); the
    # hub keeps its own count so it never spends a call on a certain 429. Only a test bed
    # running Amazon's clock faster (the sandbox's speed) has reason to change these.
    listings_feeds_per_window: int = Field(5, ge=1, le=1000)
    listings_feed_window_seconds: float = Field(300.0, gt=0, le=86_400)
    # ORDER_CHANGE notifications reach `/hooks/<connection>/notifications` through an
    # EventBridge API destination whose connection sends this value in `x-crossdock-token`.
    notification_secret: str | None = Field(None, min_length=16)

    @field_validator("endpoint", "lwa_endpoint")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _absolute_url(value)

    @field_validator("rate_limits")
    @classmethod
    def _known_operations(cls, value: dict[str, RateLimit]) -> dict[str, RateLimit]:
        known = set(DEFAULT_RATE_LIMITS) - FIXED_RATE_LIMITS
        if unknown := set(value) - known:
            raise ValueError(f"unknown operations {sorted(unknown)}; known: {sorted(known)}")
        return value

    def rate_limit(self, operation: str) -> RateLimit:
        if operation in self.rate_limits:
            return self.rate_limits[operation]
        rate, burst = DEFAULT_RATE_LIMITS[operation]
        return RateLimit(rate=rate, burst=burst)
