"""The registry of connection kinds known to configuration: how each kind's `config` is
validated and which of its fields hold secrets (sealed as `enc:` tokens at rest)."""

from __future__ import annotations

from pydantic import BaseModel

from crossdock.connectors.http.config import HttpConfig
from crossdock.connectors.webhook.config import WebhookConfig

CONFIG_MODELS: dict[str, type[BaseModel]] = {
    "webhook": WebhookConfig,
    "http": HttpConfig,
}

# Top-level fields of each kind's config that are secrets. Keys whose names look secret
# (token, password, authorization, ...) are secrets too, at any depth, for every kind.
SECRET_FIELDS: dict[str, frozenset[str]] = {
    "webhook": frozenset({"secret"}),
    "http": frozenset({"bearer_token"}),
}
