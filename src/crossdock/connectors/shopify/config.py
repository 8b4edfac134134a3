"""Configuration of a Shopify store connection (Admin GraphQL out, signed webhooks in)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Fields holding secrets: `enc:` tokens in the database, literals or `env:NAME` in a file.
SECRET_FIELDS = frozenset({"access_token", "webhook_secret"})

_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?\Z")
_VERSION = re.compile(r"(?:[0-9]{4}-(?:01|04|07|10)|unstable)\Z")


class ShopifyConfig(BaseModel):
    """One Shopify store as seen by one custom app.

    `access_token` is the Admin API token sent as `X-Shopify-Access-Token`;
    `webhook_secret` is the app's client secret, the key of the webhooks' HMAC.
    `cost_bucket_size` and `cost_restore_rate` describe the store's GraphQL cost
    bucket until Shopify's own `throttleStatus` has been seen once.
    """

    model_config = ConfigDict(extra="forbid")

    shop_domain: str = Field(min_length=1)
    base_url: str | None = None  # default https://{shop_domain}; the sandbox mounts the store under a path
    api_version: str = "2026-04"
    access_token: str = Field(min_length=1)
    webhook_secret: str = Field(min_length=1)
    location_id: str | None = None  # fulfil only fulfillment orders assigned to this location
    notify_customer: bool = False
    timeout_seconds: float = Field(30.0, gt=0, le=300)
    cost_restore_rate: float = Field(100.0, gt=0)  # points per second
    cost_bucket_size: float = Field(1000.0, gt=0)  # points

    @field_validator("shop_domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        if not _DOMAIN.match(value):
            raise ValueError("must be a host name such as my-store.myshopify.com (no scheme, no path)")
        return value.lower()

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError("must be a Shopify API version such as 2026-04")
        return value

    @property
    def graphql_url(self) -> str:
        base = self.base_url or f"https://{self.shop_domain}"
        return f"{base}/admin/api/{self.api_version}/graphql.json"

    @property
    def location_gid(self) -> str | None:
        if self.location_id is None:
            return None
        ident = self.location_id
        return ident if ident.startswith("gid://") else f"gid://shopify/Location/{ident}"
