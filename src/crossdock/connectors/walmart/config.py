"""Configuration of a Walmart Marketplace seller connection (client credentials, feeds)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Fields holding secrets: `enc:` tokens in the database, literals or `env:NAME` in a file.
SECRET_FIELDS = frozenset({"client_secret"})


class WalmartConfig(BaseModel):
    """One Walmart seller as seen by one API key (Developer Portal client id and secret).

    `service_name` is sent as `WM_SVC.NAME` on every call. `ship_node` addresses one
    fulfillment center in the inventory feed (omitted: the seller's default node).
    `feeds_per_hour` is Walmart's bulk inventory feed limit (10 per hour); `max_feed_items`
    how many SKUs one feed file carries (Walmart caps feed files by size).
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

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")
