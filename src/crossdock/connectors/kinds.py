"""The registry of connection kinds: how each kind's `config` is validated, which of its
fields hold secrets (sealed as `enc:` tokens at rest), and where its connector lives.

Connector modules are imported only when a kind is first used, so a hub that never
talks to Amazon never imports the Amazon connector."""

from __future__ import annotations

import importlib
from functools import cache

from pydantic import BaseModel

from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.erp_rest.config import ErpRestConfig
from crossdock.connectors.http.config import HttpConfig
from crossdock.connectors.registry import ConnectorKind
from crossdock.connectors.shopify.config import ShopifyConfig
from crossdock.connectors.tryton.config import TrytonConfig
from crossdock.connectors.walmart.config import WalmartConfig
from crossdock.connectors.webhook.config import WebhookConfig
from crossdock.connectors.wms_rest.config import WmsRestConfig

CONFIG_MODELS: dict[str, type[BaseModel]] = {
    "webhook": WebhookConfig,
    "http": HttpConfig,
    "shopify": ShopifyConfig,
    "amazon": AmazonConfig,
    "erp-rest": ErpRestConfig,
    "wms-rest": WmsRestConfig,
    "tryton": TrytonConfig,
    "walmart": WalmartConfig,
}

# Top-level fields of each kind's config that are secrets. Keys whose names look secret
# (token, password, authorization, ...) are secrets too, at any depth, for every kind.
SECRET_FIELDS: dict[str, frozenset[str]] = {
    "webhook": frozenset({"secret"}),
    "http": frozenset({"bearer_token"}),
    "shopify": frozenset({"access_token", "webhook_secret"}),
    "amazon": frozenset({"client_secret", "refresh_token", "notification_secret"}),
    "erp-rest": frozenset({"api_key"}),
    "wms-rest": frozenset({"api_key", "webhook_secret"}),
    "tryton": frozenset({"password"}),
    "walmart": frozenset({"client_secret"}),
}

# kind → module holding its `KIND` (a ConnectorKind)
_MODULES: dict[str, str] = {
    "shopify": "crossdock.connectors.shopify.connector",
    "amazon": "crossdock.connectors.amazon.connector",
    "erp-rest": "crossdock.connectors.erp_rest.connector",
    "wms-rest": "crossdock.connectors.wms_rest.connector",
    "tryton": "crossdock.connectors.tryton.connector",
    "walmart": "crossdock.connectors.walmart.connector",
}


@cache
def connector_kind(kind: str) -> ConnectorKind | None:
    module = _MODULES.get(kind)
    return importlib.import_module(module).KIND if module else None
