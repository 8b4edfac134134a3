"""The registry of connection kinds: how each kind's `config` is validated, which of its
fields hold secrets (sealed as `enc:` tokens at rest), and where its connector lives.

Connector modules are imported only when a kind is first used, so a hub that never

from __future__ import annotations

import importlib
from functools import cache

from pydantic import BaseModel

from crossdock.connectors.http.config import HttpConfig
from crossdock.connectors.registry import ConnectorKind
from crossdock.connectors.shopify.config import ShopifyConfig
from crossdock.connectors.webhook.config import WebhookConfig

CONFIG_MODELS: dict[str, type[BaseModel]] = {
    "webhook": WebhookConfig,
    "http": HttpConfig,
    "shopify": ShopifyConfig,
}

# Top-level fields of each kind's config that are secrets. Keys whose names look secret
# (token, password, authorization, ...) are secrets too, at any depth, for every kind.
SECRET_FIELDS: dict[str, frozenset[str]] = {
    "webhook": frozenset({"secret"}),
    "http": frozenset({"bearer_token"}),
    "shopify": frozenset({"access_token", "webhook_secret"}),
}

# kind → module holding its `KIND` (a ConnectorKind)
_MODULES: dict[str, str] = {
    "shopify": "crossdock.connectors.shopify.connector",
}


@cache
def connector_kind(kind: str) -> ConnectorKind | None:
    module = _MODULES.get(kind)
    return importlib.import_module(module).KIND if module else None
