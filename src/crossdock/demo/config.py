"""The demo tenant's configuration: tenant `northwind` wired to the sandbox's systems.

Connections `shopify`, `amazon` (channels), `erp` (generic REST ERP) and `wms` (generic
REST WMS), the sandbox's own credentials (`SandboxConfig` defaults), identity SKU mappings
for the sandbox catalog (`CD-1001` ... `CD-1020`) except the SKUs left `unmapped` on
purpose, tax/shipping/customer/legal-entity mappings, and `settings.orders` naming the
ERP and WMS connections. `examples/sandbox.yaml` is this document for the default ports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from crossdock.sandbox.state import SandboxConfig

TENANT = "northwind"
SANDBOX = SandboxConfig()
CATALOG = [f"CD-{1001 + i}" for i in range(SANDBOX.catalog_size)]
UNMAPPED_SKU = CATALOG[-1]  # left out of the mapping: its orders park as `mapping.sku_unknown`
AMAZON_CUSTOMER = "C-AMAZON"  # overwritten by the ERP's id of the marketplace account


def amazon_rate_limits(speed: float) -> dict[str, dict[str, float]]:
    """Amazon's documented usage plans; the sandbox multiplies them by `--speed`."""
    plans = {
        "getOrders": (0.0167, 20),
        "getOrderItems": (0.5, 30),
        "getOrderAddress": (0.5, 30),
        "confirmShipment": (2.0, 10),
    }
    return {op: {"rate": round(rate * speed, 4), "burst": burst} for op, (rate, burst) in plans.items()}


def tenant_config(
    sandbox_url: str,
    *,
    amazon_customer: str = AMAZON_CUSTOMER,
    unmapped: tuple[str, ...] = (UNMAPPED_SKU,),
    speed: float = 1.0,
    tenant: str = TENANT,
    short_pick: str = "cancel",
) -> dict[str, Any]:
    """The `crossdock apply` document for one tenant wired to the sandbox at `sandbox_url`."""
    base = sandbox_url.rstrip("/")
    skus = [s for s in CATALOG if s not in set(unmapped)]
    return {
        "version": 1,
        "tenants": [
            {
                "id": tenant,
                "name": "Northwind Traders (demo)",
                "settings": {"orders": {"erp": "erp", "wms": "wms", "short_pick": short_pick}},
                "connections": [
                    {
                        "id": "shopify",
                        "kind": "shopify",
                        "config": {
                            "shop_domain": SANDBOX.shopify.shop_domain,
                            "base_url": f"{base}/shopify",
                            "access_token": SANDBOX.shopify.access_token,
                            "webhook_secret": SANDBOX.shopify.app_secret,
                            "timeout_seconds": 5,
                        },
                    },
                    {
                        "id": "amazon",
                        "kind": "amazon",
                        "config": {
                            "endpoint": f"{base}/amazon",
                            "lwa_endpoint": f"{base}/amazon/auth/o2/token",
                            "client_id": SANDBOX.amazon.client_id,
                            "client_secret": SANDBOX.amazon.client_secret,
                            "refresh_token": SANDBOX.amazon.refresh_token,
                            "marketplace_ids": [SANDBOX.amazon.marketplace_id],
                            "poll_interval_seconds": 1 if speed > 1 else 60,
                            "poll_overlap_seconds": 10,
                            "timeout_seconds": 5,
                            "rate_limits": amazon_rate_limits(speed),
                        },
                    },
                    {
                        "id": "erp",
                        "kind": "erp-rest",
                        "config": {
                            "base_url": f"{base}/erp",
                            "api_key": SANDBOX.erp.api_key,
                            "timeout_seconds": 3,
                        },
                    },
                    {
                        "id": "wms",
                        "kind": "wms-rest",
                        "config": {
                            "base_url": f"{base}/wms",
                            "api_key": SANDBOX.wms.api_key,
                            "webhook_secret": SANDBOX.wms.webhook_secret,
                            "timeout_seconds": 3,
                        },
                    },
                ],
                "mappings": {
                    "sku": [
                        {"channel": channel, "sku": sku, "item": sku}
                        for sku in skus
                        for channel in ("shopify", "amazon")
                    ],
                    "tax_codes": [
                        {"channel": "shopify", "title": "*", "tax_code": "US-SALES"},
                        {"channel": "amazon", "title": "*", "tax_code": "US-MARKETPLACE-FACILITATOR"},
                    ],
                    "shipping_methods": [
                        {"channel": "shopify", "method": "*", "carrier": "UPS", "service": "GROUND"},
                        {"channel": "amazon", "method": "*", "carrier": "UPS", "service": "SUREPOST"},
                    ],
                    "customers": {
                        "unmatched": {
                            "shopify": {"policy": "create"},
                            "amazon": {"policy": "default_account", "account": amazon_customer},
                        }
                    },
                    "legal_entities": {"default": "NORTHWIND-US"},
                },
                "validation": {"price_tolerance_percent": 50, "currencies": ["USD"]},
            }
        ],
    }


HEADER = """\
# Generated by `crossdock demo`: tenant `{tenant}` wired to the sandbox at {url}.
# SKU {unmapped} is left out of the mapping on purpose (its orders park as mapping.sku_unknown).
# The credentials are the sandbox's own demo values, not secrets.
"""


def write(path: Path, doc: dict[str, Any], *, sandbox_url: str, unmapped: tuple[str, ...]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = HEADER.format(
        tenant=doc["tenants"][0]["id"], url=sandbox_url, unmapped=", ".join(unmapped) or "none"
    )
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False, width=110))
    return path
