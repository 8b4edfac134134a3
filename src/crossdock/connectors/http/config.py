"""Configuration of an outbound HTTP connection (events POSTed to a partner endpoint)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator


class HttpConfig(BaseModel):
    """`bearer_token` and secret-named headers (Authorization, X-Api-Key, ...) are secrets:
    `enc:` tokens in the database, literals or `env:NAME` references in a file."""

    model_config = ConfigDict(extra="forbid")

    url: str
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    bearer_token: str | None = Field(None, min_length=1)
    timeout_seconds: float = Field(10.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
