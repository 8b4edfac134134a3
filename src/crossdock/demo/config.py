"""The demo tenants' configuration: tenants wired to the sandbox's systems.

One tenant (`tenant_config`, also the end-to-end harness's) or several (`demo_config`).
Each tenant has connections for its own Shopify store and Amazon account (channels), ERP
(generic REST ERP) and WMS (generic REST WMS) in the sandbox, the sandbox's own
credentials (`SandboxConfig` defaults), identity SKU mappings for the sandbox catalog
(`CD-1001` ... `CD-1020`) except the SKUs left `unmapped` on purpose,
tax/shipping/customer/legal-entity mappings, and `settings.orders` naming the ERP and WMS
connections. With `availability`, an `availability:` section lists the warehouse's stock
on both channels.

The first tenant (`northwind`) uses the sandbox's systems at its root and the connection
ids `shopify`, `amazon`, `erp` and `wms`; every further tenant uses the systems the
sandbox serves under `/t/{tenant}` and connection ids prefixed with the tenant
(`contoso-shopify`, ...), since webhook URLs name the connection alone.
`examples/sandbox.yaml` is the first tenant's document for the default ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from crossdock.sandbox.app import tenant_prefix
from crossdock.sandbox.state import SandboxConfig

TENANT = "northwind"
NAMES = {
    "northwind": "Northwind Traders",
    "contoso": "Contoso Supply",
    "fabrikam": "Fabrikam Outfitters",
    "tailspin": "Tailspin Toys",
    "wingtip": "Wingtip Toys",
    "litware": "Litware Home",
    "proseware": "Proseware Tools",
    "adatum": "Adatum Goods",
}
SANDBOX = SandboxConfig()
CATALOG = [f"CD-{1001 + i}" for i in range(SANDBOX.catalog_size)]
UNMAPPED_SKU = CATALOG[-1]  # left out of the mapping: its orders park as `mapping.sku_unknown`
AMAZON_CUSTOMER = "C-AMAZON"  # overwritten by the ERP's id of the marketplace account
WAREHOUSE = SANDBOX.wms.stock_locations[0]  # where the sandbox WMS keeps stock (`MAIN`)
ROLES = ("shopify", "amazon", "erp", "wms")


@dataclass(frozen=True)
class DemoTenant:
    """One demo tenant: where its systems are in the sandbox and its connection ids."""

    id: str
    name: str
    prefix: str  # the sandbox path of its systems: "" (the root) or /t/{id}
    sandbox: SandboxConfig  # its store's domain and webhook connection ids
    connections: dict[str, str]  # role (shopify, amazon, erp, wms) → connection id

    @classmethod
    def of(cls, tenant: str, first: bool) -> DemoTenant:
        sandbox = SANDBOX if first else SANDBOX.for_tenant(tenant)
        ids = {
            "shopify": sandbox.shopify.connection_id,
            "amazon": "amazon" if first else f"{tenant}-amazon",
            "erp": "erp" if first else f"{tenant}-erp",
            "wms": sandbox.wms.connection_id,
        }
        name = f"{NAMES.get(tenant, tenant.title())} (demo)"
        return cls(tenant, name, "" if first else tenant_prefix(tenant), sandbox, ids)


def tenant_ids(count: int) -> list[str]:
    """`count` tenant ids: `northwind`, `contoso`, ..., then `tenant-09`, ..."""
    named = list(NAMES)
    return [named[i] if i < len(named) else f"tenant-{i + 1:02d}" for i in range(count)]


def demo_tenants(count: int) -> list[DemoTenant]:
    return [DemoTenant.of(t, i == 0) for i, t in enumerate(tenant_ids(count))]


def amazon_rate_limits(speed: float) -> dict[str, dict[str, float]]:
    """Amazon's documented usage plans; the sandbox multiplies them by `--speed`."""
    plans = {
        "getOrders": (0.0167, 20),
        "getOrderItems": (0.5, 30),
        "getOrderAddress": (0.5, 30),
        "confirmShipment": (2.0, 10),
    }
    return {op: {"rate": round(rate * speed, 4), "burst": burst} for op, (rate, burst) in plans.items()}


# Feed reports read at a fast sandbox's pace (its feeds are processed in 60 s / speed), not a
# minute after each feed: a value patched while an older feed waited goes again at the report.
SANDBOX_FEED_CHECKS = {"check_after_seconds": 1, "check_every_seconds": 1}


def availability_section(connections: dict[str, str], speed: float = 1.0) -> dict[str, Any]:
    """Both channels list the warehouse's stock: Shopify all of it less 2 units of safety
    stock, Amazon 80% of it; increases wait 10 s at the sandbox's speed (5 min otherwise), and
    Amazon's feed reports are read every second at its speed."""
    dampen = 10 if speed > 1 else 300
    amazon: dict[str, Any] = {
        "locations": [WAREHOUSE],
        "share_percent": 80,
        "zero_below": 2,
        "low_stock": 5,
        "dampen_increase_seconds": dampen,
    }
    if speed > 1:
        amazon["publishing"] = dict(SANDBOX_FEED_CHECKS)
    shopify = {
        "locations": [WAREHOUSE],
        "safety_stock": {"units": 2},
        "low_stock": 5,
        "dampen_increase_seconds": dampen,
    }
    return {"channels": {connections["shopify"]: shopify, connections["amazon"]: amazon}}


def pricing_section(connections: dict[str, str], speed: float = 1.0) -> dict[str, Any]:
    """Channel prices from the ERP's list prices, which the demo's traffic changes (the
    sandbox ERP's `prices` stream): polled every few seconds; Shopify at list + 20 % ending
    in .99, Amazon at list + 25 % with a 15 % margin floor; a change over 15 % waits for an
    operator's approval in the console."""
    return {
        "base_currency": "USD",
        "source": {"connection": connections["erp"], "poll_seconds": 5 if speed > 1 else 60},
        "channels": {
            connections["shopify"]: {
                "currency": "USD",
                "markup_percent": 20,
                "rounding": {"ending": "0.99"},
                "approval_threshold_percent": 15,
            },
            connections["amazon"]: {
                "currency": "USD",
                "markup_percent": 25,
                "rounding": {"ending": "0.99"},
                "min_margin_percent": 15,
                "approval_threshold_percent": 15,
            },
        },
    }


def tenant_entry(
    sandbox_url: str,
    tenant: DemoTenant,
    *,
    amazon_customer: str = AMAZON_CUSTOMER,
    unmapped: tuple[str, ...] = (UNMAPPED_SKU,),
    speed: float = 1.0,
    short_pick: str = "cancel",
    availability: bool = False,
    pricing: bool = False,
) -> dict[str, Any]:
    """One tenant of the `crossdock apply` document (`pricing` needs `availability`'s
    publishing settings)."""
    base = sandbox_url.rstrip("/") + tenant.prefix
    ids, sandbox = tenant.connections, tenant.sandbox
    skus = [s for s in CATALOG if s not in set(unmapped)]
    entry: dict[str, Any] = {
        "id": tenant.id,
        "name": tenant.name,
        "settings": {"orders": {"erp": ids["erp"], "wms": ids["wms"], "short_pick": short_pick}},
        "connections": [
            {
                "id": ids["shopify"],
                "kind": "shopify",
                "config": {
                    "shop_domain": sandbox.shopify.shop_domain,
                    "base_url": f"{base}/shopify",
                    "access_token": sandbox.shopify.access_token,
                    "webhook_secret": sandbox.shopify.app_secret,
                    "timeout_seconds": 5,
                },
            },
            {
                "id": ids["amazon"],
                "kind": "amazon",
                "config": {
                    "endpoint": f"{base}/amazon",
                    "lwa_endpoint": f"{base}/amazon/auth/o2/token",
                    "client_id": sandbox.amazon.client_id,
                    "client_secret": sandbox.amazon.client_secret,
                    "refresh_token": sandbox.amazon.refresh_token,
                    "marketplace_ids": [sandbox.amazon.marketplace_id],
                    "poll_interval_seconds": 1 if speed > 1 else 60,
                    "poll_overlap_seconds": 10,
                    "timeout_seconds": 5,
                    "rate_limits": amazon_rate_limits(speed),
                    "listings_feed_window_seconds": 300.0 / speed,  # the sandbox's feed window
                },
            },
            {
                "id": ids["erp"],
                "kind": "erp-rest",
                "config": {
                    "base_url": f"{base}/erp",
                    "api_key": sandbox.erp.api_key,
                    "timeout_seconds": 3,
                },
            },
            {
                "id": ids["wms"],
                "kind": "wms-rest",
                "config": {
                    "base_url": f"{base}/wms",
                    "api_key": sandbox.wms.api_key,
                    "webhook_secret": sandbox.wms.webhook_secret,
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
            "legal_entities": {"default": f"{tenant.id.upper()}-US"},
        },
        "validation": {"price_tolerance_percent": 50, "currencies": ["USD"]},
    }
    if availability:  # publishing needs the store's location and the seller's id
        entry["connections"][0]["config"]["location_id"] = str(sandbox.shopify.location_id)
        entry["connections"][1]["config"]["seller_id"] = sandbox.amazon_feeds.seller_id
        entry["availability"] = availability_section(ids, speed)
        if pricing:
            entry["pricing"] = pricing_section(ids, speed)
    return entry


def tenant_config(
    sandbox_url: str,
    *,
    amazon_customer: str = AMAZON_CUSTOMER,
    unmapped: tuple[str, ...] = (UNMAPPED_SKU,),
    speed: float = 1.0,
    tenant: str = TENANT,
    short_pick: str = "cancel",
    availability: bool = False,
) -> dict[str, Any]:
    """The `crossdock apply` document for one tenant wired to the sandbox's root systems at
    `sandbox_url` (connection ids `shopify`, `amazon`, `erp`, `wms`)."""
    entry = tenant_entry(
        sandbox_url,
        DemoTenant.of(tenant, first=True),
        amazon_customer=amazon_customer,
        unmapped=unmapped,
        speed=speed,
        short_pick=short_pick,
        availability=availability,
    )
    return {"version": 1, "tenants": [entry]}


def demo_config(
    sandbox_url: str,
    tenants: list[DemoTenant],
    customers: dict[str, str],
    *,
    unmapped: tuple[str, ...] = (UNMAPPED_SKU,),
    speed: float = 1.0,
) -> dict[str, Any]:
    """The document `crossdock demo` applies: every tenant, with availability; `customers`
    is each tenant's ERP account for Amazon orders."""
    return {
        "version": 1,
        "tenants": [
            tenant_entry(
                sandbox_url,
                t,
                amazon_customer=customers.get(t.id, AMAZON_CUSTOMER),
                unmapped=unmapped,
                speed=speed,
                availability=True,
                pricing=True,
            )
            for t in tenants
        ],
    }


HEADER = """\
# Generated by `crossdock demo`: tenant(s) {tenants} wired to the sandbox at {url}.
# SKU {unmapped} is left out of the mapping on purpose (its orders park as mapping.sku_unknown).
# The credentials are the sandbox's own demo values, not secrets.
"""


def write(path: Path, doc: dict[str, Any], *, sandbox_url: str, unmapped: tuple[str, ...]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = HEADER.format(
        tenants=", ".join(f"`{t['id']}`" for t in doc["tenants"]),
        url=sandbox_url,
        unmapped=", ".join(unmapped) or "none",
    )
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False, width=110))
    return path
