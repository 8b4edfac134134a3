"""Configuration of a generic REST WMS connection: the calls to it and the events from it."""

from __future__ import annotations

import base64
import binascii

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crossdock.connectors.erp_rest.config import check_base_url

# Top-level fields that are secrets (sealed as `enc:` tokens at rest, redacted everywhere).
SECRET_FIELDS = frozenset({"api_key", "webhook_secret"})
_REFERENCE_PREFIXES = ("env:", "enc:")  # references resolved later, not the secret itself


class WmsRestConfig(BaseModel):
    """`api_key` authenticates the hub's calls (bearer); `webhook_secret` (`whsec_<base64>`)
    proves the warehouse's events (Standard Webhooks), accepted within `tolerance_seconds`."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    api_key: str = Field(min_length=1)
    webhook_secret: str = Field(min_length=1)
    timeout_seconds: float = Field(10.0, gt=0, le=300)
    tolerance_seconds: int = Field(300, gt=0, le=86_400)

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_base_url(value)

    @field_validator("webhook_secret")
    @classmethod
    def _check_secret(cls, value: str) -> str:
        # Messages never echo the value: it is a secret.
        if value.startswith(_REFERENCE_PREFIXES):
            return value
        if not value.startswith("whsec_"):
            raise ValueError("must be a Standard Webhooks secret: whsec_ followed by base64")
        try:
            decoded = base64.b64decode(value.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a whsec_ secret must be base64 after the prefix") from None
        if len(decoded) < 16:
            raise ValueError("a whsec_ secret must decode to at least 16 bytes")
        return value
