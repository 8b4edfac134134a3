"""The sandbox: simulated external systems speaking the vendors' formats over HTTP.

`create_sandbox_app(SandboxConfig)` mounts one sub-application per system:

    /shopify/...   a Shopify store (order webhooks out, Admin GraphQL in)       — shopify.py
    /amazon/...    an Amazon seller account (LWA + Orders API v0)                — amazon.py
    /erp/...       the generic REST ERP                                         — erp.py
    /wms/...       the generic REST WMS (signed warehouse events out)           — wms.py
    /amazon/feeds/..., /amazon/listings/...   Feeds and Listings Items APIs     — amazon_feeds.py
    /walmart/...   a Walmart seller (token, orders, inventory feeds)            — walmart.py

and the control surface, never faulted:

    GET  /_sandbox/state      what every system holds (orders, sales orders by reference,
                              releases, shipments, fulfillments, confirmations, invoices,
                              inventory, call counts, throttle statistics)
    POST /_sandbox/reset      forget everything, clear faults
    GET|POST|DELETE /_sandbox/faults   see faults.py
    POST /_sandbox/drain      wait until queued webhooks were delivered or given up
    GET|POST /_sandbox/traffic {"shopify": 60, "amazon": 6} orders per minute (0 stops);
                              also "stock" (WMS receipts and write-offs) and "prices" (ERP
                              list price changes) per minute
    GET  /_sandbox/config     endpoints and the sandbox credentials, for wiring up the hub

Tenants: `create_sandbox_app(config, tenants=("acme", ...))` also serves, per tenant, a
Shopify store, an Amazon seller, an ERP and a WMS of its own under `/t/{tenant}/...`
(`/t/acme/shopify/...`, `/t/acme/erp/...`), with the control surface above for that
tenant alone (`/t/acme/_sandbox/state`, `/faults`, `/traffic`, `/config`). Its webhooks
name the connections `{tenant}-shopify` and `{tenant}-wms` (`SandboxConfig.for_tenant`).
The systems at the root are the first tenant. At the root, `/_sandbox/traffic` spreads
every event over all tenants (a seeded draw per event), `/_sandbox/reset` resets them all,
and `/_sandbox/config` lists the tenants' base URLs.

It is the outside world: it never imports the hub's engine, store, flows or bootstrap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Any

from aiohttp import web

from crossdock.sandbox import state
from crossdock.sandbox.amazon import AmazonSeller
from crossdock.sandbox.amazon_feeds import AmazonListings
from crossdock.sandbox.erp import GenericErp
from crossdock.sandbox.faults import FaultBook
from crossdock.sandbox.shopify import ShopifyStore
from crossdock.sandbox.state import API_VERSION, CONTEXT, SandboxConfig, SandboxContext
from crossdock.sandbox.traffic import TrafficLoop
from crossdock.sandbox.walmart import WalmartSeller
from crossdock.sandbox.webhooks import WebhookSender
from crossdock.sandbox.wms import GenericWms


@dataclass
class Sandbox:
    """Handles on the running systems, for tests and the CLI (`app[SANDBOX]`)."""

    ctx: SandboxContext
    faults: FaultBook
    shopify: ShopifyStore
    amazon: AmazonSeller
    erp: GenericErp
    wms: GenericWms
    traffic: TrafficLoop
    amazon_listings: AmazonListings | None = None
    walmart: WalmartSeller | None = None
    prefix: str = ""  # where this tenant's systems are mounted ("" at the root)
    tenants: dict[str, Sandbox] = field(default_factory=dict)  # the root's: tenants under /t/

    async def drain(self, timeout: float = 30.0) -> None:
        await self.shopify.sender.drain(timeout)
        await self.wms.sender.drain(timeout)
        for tenant in self.tenants.values():
            await tenant.drain(timeout)

    def wiring(self, base_url: str = "") -> dict[str, Any]:
        c = self.ctx.config
        return {
            "hub_url": c.hub_url,
            "shopify": {
                "graphql_url": f"{base_url}/shopify/admin/api/{API_VERSION}/graphql.json",
                "access_token": c.shopify.access_token,
                "app_secret": c.shopify.app_secret,
                "shop_domain": c.shopify.shop_domain,
                "connection_id": c.shopify.connection_id,
                "location_id": f"gid://shopify/Location/{c.shopify.location_id}",
            },
            "amazon": {
                "endpoint": f"{base_url}/amazon",
                "token_url": f"{base_url}/amazon/auth/o2/token",
                "client_id": c.amazon.client_id,
                "client_secret": c.amazon.client_secret,
                "refresh_token": c.amazon.refresh_token,
                "marketplace_id": c.amazon.marketplace_id,
                "seller_id": c.amazon_feeds.seller_id,
            },
            "walmart": {
                "base_url": f"{base_url}/walmart",
                "client_id": c.walmart.client_id,
                "client_secret": c.walmart.client_secret,
            },
            "erp": {"base_url": f"{base_url}/erp", "api_key": c.erp.api_key},
            "wms": {
                "base_url": f"{base_url}/wms",
                "api_key": c.wms.api_key,
                "connection_id": c.wms.connection_id,
                "webhook_secret": c.wms.webhook_secret,
            },
            **(
                {"tenants": {t: f"{base_url}{s.prefix}" for t, s in self.tenants.items()}}
                if self.tenants
                else {}
            ),
        }


SANDBOX = web.AppKey("sandbox", Sandbox)
MAX_BODY = 64 * 1024 * 1024  # a listings feed of 25,000 whole listings runs to tens of megabytes
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def tenant_prefix(tenant: str) -> str:
    """Where a tenant's systems are mounted (the first tenant's are at the root)."""
    return f"/t/{tenant}"


def create_sandbox_app(config: SandboxConfig | None = None, tenants: Sequence[str] = ()) -> web.Application:
    ctx = SandboxContext(config or SandboxConfig())
    faults = FaultBook(ctx)
    shopify = ShopifyStore(ctx, faults, WebhookSender(ctx))
    amazon = AmazonSeller(ctx, faults)
    erp = GenericErp(ctx, faults)
    wms = GenericWms(ctx, faults, WebhookSender(ctx))
    traffic = TrafficLoop({"shopify": shopify.create_orders, "amazon": amazon.create_orders})
    listings, walmart = AmazonListings(ctx, faults, amazon), WalmartSeller(ctx, faults)
    sandbox = Sandbox(ctx, faults, shopify, amazon, erp, wms, traffic, listings, walmart)
    for system in (shopify, amazon, erp, wms, walmart):
        ctx.systems[system.name] = system
    ctx.extra_snapshots.update(
        faults=faults.snapshot, traffic=traffic.snapshot, amazon_feeds=listings.snapshot
    )
    ctx.on_reset.append(listings.reset)
    traffic.add("stock", wms.stock_traffic)
    traffic.add("prices", erp.price_traffic)
    traffic.add("walmart", walmart.create_orders)

    app = web.Application(client_max_size=MAX_BODY)
    app[CONTEXT] = ctx
    app[SANDBOX] = sandbox
    app.add_routes(state.routes() + faults.routes())
    app.add_routes(
        [
            web.post("/_sandbox/drain", _drain),
            web.get("/_sandbox/traffic", _get_traffic),
            web.post("/_sandbox/traffic", _post_traffic),
            web.get("/_sandbox/config", _get_config),
        ]
    )
    for system in (shopify, amazon, erp, wms, walmart):
        app.add_subapp(f"/{system.name}", system.app())
    for prefix, sub in listings.apps().items():
        app.add_subapp(prefix, sub)
    app.on_shutdown.append(faults.on_shutdown)
    app.on_cleanup.append(_close)
    _add_tenants(app, sandbox, tenants)
    return app


def _add_tenants(app: web.Application, root: Sandbox, tenants: Sequence[str]) -> None:
    """Mount a complete sandbox per tenant under /t/{tenant}; spread the root's traffic."""
    for tenant in tenants:
        if not TENANT_ID.match(tenant) or tenant in root.tenants:
            raise ValueError(f"tenant ids are unique, lowercase letters, digits and '-': {tenant!r}")
        sub = create_sandbox_app(root.ctx.config.for_tenant(tenant))
        sub[SANDBOX].prefix = tenant_prefix(tenant)
        root.tenants[tenant] = sub[SANDBOX]
        app.add_subapp(tenant_prefix(tenant), sub)
    if not tenants:
        return
    everyone = [root, *root.tenants.values()]
    for stream in list(root.traffic.create):
        root.traffic.create[stream] = _spread(stream, everyone, root.ctx.rng(f"traffic.tenants.{stream}"))
    root.ctx.on_reset.extend(t.ctx.reset for t in root.tenants.values())
    root.ctx.extra_snapshots["tenants"] = lambda: {t: s.prefix for t, s in root.tenants.items()}


def _spread(stream: str, sandboxes: list[Sandbox], rng: Random) -> Callable[[int], Any]:
    """One stream's events, each to a tenant drawn from `rng` (its own per stream, so the
    n-th event goes to the same tenant for the same seed)."""
    creators = [s.traffic.create[stream] for s in sandboxes]

    def create(count: int = 1) -> Any:
        return rng.choice(creators)(count)

    return create


async def _close(app: web.Application) -> None:
    sandbox = app[SANDBOX]
    await sandbox.traffic.stop()
    await sandbox.wms.close()
    await sandbox.shopify.sender.close()
    await sandbox.wms.sender.close()


async def _drain(request: web.Request) -> web.Response:
    timeout = float(request.query.get("timeout", 30))
    try:
        await request.app[SANDBOX].drain(timeout)
    except TimeoutError:
        return web.json_response({"drained": False}, status=504)
    return web.json_response({"drained": True})


async def _get_traffic(request: web.Request) -> web.Response:
    return web.json_response(request.app[SANDBOX].traffic.snapshot())


async def _post_traffic(request: web.Request) -> web.Response:
    traffic = request.app[SANDBOX].traffic
    try:
        traffic.set_rates({k: float(v) for k, v in (await request.json()).items()})
    except (ValueError, TypeError, AttributeError) as exc:
        return web.json_response({"error": {"code": "invalid_traffic", "message": str(exc)}}, status=400)
    return web.json_response(traffic.snapshot())


async def _get_config(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    return web.json_response(sandbox.wiring(f"{request.scheme}://{request.host}{sandbox.prefix}"))
