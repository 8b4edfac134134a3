"""Configuration of a Tryton ERP connection (JSON-RPC)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Top-level fields that are secrets (sealed as `enc:` tokens at rest, redacted everywhere).
SECRET_FIELDS = frozenset({"password"})


class TrytonConfig(BaseModel):
    """`url` is the server's root (`https://erp.example.com/`); `database` the Tryton database."""

    model_config = ConfigDict(extra="forbid")

    url: str
    database: str = Field(min_length=1)
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)
    connect_timeout_seconds: float = Field(5.0, gt=0, le=120)
    read_timeout_seconds: float = Field(30.0, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/") + "/"
