"""Configuration of an inbound webhook connection (Standard Webhooks signatures)."""

from __future__ import annotations

import base64
import binascii

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Values in this form are references resolved later, not the secret itself.
_REFERENCE_PREFIXES = ("env:", "enc:")


class WebhookConfig(BaseModel):
    """`secret` is a Standard Webhooks secret (`whsec_<base64>`) or a raw shared secret;
    in the database it is an `enc:` token, in a file it may be an `env:NAME` reference."""

    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=1)
    tolerance_seconds: int = Field(300, gt=0, le=86_400)
    max_body_bytes: int | None = Field(None, gt=0)

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: str) -> str:
        # Messages never echo the value: it is a secret.
        if value.startswith(_REFERENCE_PREFIXES) or not value.startswith("whsec_"):
            return value
        try:
            decoded = base64.b64decode(value.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a whsec_ secret must be base64 after the prefix") from None
        if len(decoded) < 16:
            raise ValueError("a whsec_ secret must decode to at least 16 bytes")
        return value
