"""Configuration of a generic REST ERP connection."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Top-level fields that are secrets (sealed as `enc:` tokens at rest, redacted everywhere).
SECRET_FIELDS = frozenset({"api_key"})


def check_base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value.rstrip("/")


class ErpRestConfig(BaseModel):
    """`api_key` is sent as `Authorization: Bearer <api_key>`; `warehouse` names the one
    stock figure the contract reports per item (the ERP has no warehouse dimension)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    api_key: str = Field(min_length=1)
    timeout_seconds: float = Field(10.0, gt=0, le=300)
    warehouse: str = Field("MAIN", min_length=1)

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_base_url(value)
