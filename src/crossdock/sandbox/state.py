"""What the simulated outside world knows: configuration, clock, seeded randomness, call
statistics, the vendors' rate-limit buckets, and the `/_sandbox/state` snapshot.

Every simulated system (`shopify`, `amazon`, `erp`, `wms`) registers itself on the
`SandboxContext`; `GET /_sandbox/state` asks each for its snapshot, `POST /_sandbox/reset`
asks each to forget everything (and clears faults and call counts). The snapshot is how
tests and benchmarks check outcomes independently of the hub.
"""

from __future__ import annotations

import base64
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web

API_VERSION = "2026-04"


# GraphQL Admin API restore rate per Shopify plan (points per second, shopify.dev "API rate
# limits"); the bucket holds ten seconds of it (Standard: 1,000 points).
SHOPIFY_PLANS = {"standard": 100.0, "advanced": 200.0, "plus": 1000.0, "enterprise": 2000.0}


@dataclass(frozen=True)
class ShopifyStoreConfig:
    shop_domain: str = "crossdock-sandbox.myshopify.com"
    access_token: str = "shpat_sandbox"
    app_secret: str = "shopify-sandbox-app-secret"
    connection_id: str = "shopify"
    hub_url: str | None = None  # where webhooks go; None means SandboxConfig.hub_url
    topics: tuple[str, ...] = ("orders/create", "orders/updated", "orders/cancelled", "orders/paid")
    bucket_size: float = 1000.0  # GraphQL cost bucket (points)
    restore_rate: float = 100.0  # points per second (Standard plan)
    location_id: int = 73_000_000_001
    currency: str = "USD"
    initial_stock: int = 100

    @classmethod
    def on_plan(cls, plan: str) -> ShopifyStoreConfig:
        """The store on a Shopify plan (`SHOPIFY_PLANS`): its cost bucket and restore rate."""
        rate = SHOPIFY_PLANS[plan]
        return cls(bucket_size=10 * rate, restore_rate=rate)


@dataclass(frozen=True)
class AmazonAccountConfig:
    client_id: str = "amzn1.application-oa2-client.sandbox"
    client_secret: str = "amazon-sandbox-client-secret"
    refresh_token: str = "Atzr|sandbox-refresh-token"
    marketplace_id: str = "ATVPDKIKX0DER"
    token_ttl_s: int = 3600
    rdt_ttl_s: int = 3600  # Restricted Data Tokens (Tokens API) live one hour
    page_size: int = 100
    visibility_lag_s: float = 120.0  # getOrders never shows the last two minutes (divided by speed)
    currency: str = "USD"


@dataclass(frozen=True)
class AmazonListingsConfig:
    seller_id: str = "A1SANDBOXSELLER"
    feed_processing_s: float = 60.0  # a feed stays IN_QUEUE this long (divided by speed)
    invalid_skus: tuple[str, ...] = ()  # feed messages and patches for these get ERROR issues
    # Listings (UPDATE messages) without one of these attributes get Amazon's 90220 issue.
    required_attributes: tuple[str, ...] = ("item_name", "brand", "externally_assigned_product_identifier")


@dataclass(frozen=True)
class WalmartSellerConfig:
    client_id: str = "walmart-sandbox-client"
    client_secret: str = "walmart-sandbox-secret"
    feed_processing_s: float = 60.0  # a feed stays RECEIVED this long (divided by speed)
    inventory_feeds_per_hour: int = 10
    # getInventory: Walmart publishes no US Marketplace default; the connector's assumed 200.
    inventory_reads_per_minute: int = 200
    known_skus: tuple[str, ...] = ()  # sold by the seller besides the catalog


@dataclass(frozen=True)
class ErpConfig:
    api_key: str = "erp-sandbox-key"
    rate_limit_per_s: float | None = None  # e.g. 20 (Business Central's sustained figure)
    currency: str = "USD"


@dataclass(frozen=True)
class WmsConfig:
    api_key: str = "wms-sandbox-key"
    connection_id: str = "wms"
    webhook_secret: str = "whsec_" + base64.b64encode(b"crossdock-sandbox-wms-secret!!!!").decode()
    hub_url: str | None = None
    event_delay_s: float = 2.0  # between accepted → picked → packed → shipped
    short_pick_probability: float = 0.0
    partial_shipment_probability: float = 0.0
    carrier: str = "UPS"
    service: str = "Ground"
    # Stock per item and location: picks take from it, shipments decrement it, receipts and
    # write-offs change it, and every change is sent to the hub (`inventory.*` events).
    # Off: stock is not tracked (every pick is full unless short-picked by chance).
    stock: bool = False
    stock_locations: tuple[str, ...] = ("MAIN",)
    initial_stock: tuple[int, int] = (30, 90)  # per item and location, drawn from the seed


@dataclass(frozen=True)
class SandboxConfig:
    hub_url: str = "http://127.0.0.1:8000"
    seed: int = 0
    speed: float = 1.0  # multiplies Amazon's documented rates and shrinks its listing lag
    webhook_timeout_s: float = 5.0  # Shopify's documented delivery timeout
    webhook_retry_factor: float = 1.0  # multiplies the 4-hour retry schedule (0.001 → ~14 s)
    webhook_concurrency: int = 4
    catalog_size: int = 20
    shopify: ShopifyStoreConfig = field(default_factory=ShopifyStoreConfig)
    amazon: AmazonAccountConfig = field(default_factory=AmazonAccountConfig)
    erp: ErpConfig = field(default_factory=ErpConfig)
    wms: WmsConfig = field(default_factory=WmsConfig)
    amazon_feeds: AmazonListingsConfig = field(default_factory=AmazonListingsConfig)
    walmart: WalmartSellerConfig = field(default_factory=WalmartSellerConfig)
    clock: Callable[[], float] = time.time  # seconds; tests pass a fake
    tenant: str = ""  # "": the systems at the root; else the tenant served under /t/{tenant}

    def for_tenant(self, tenant: str) -> SandboxConfig:
        """The same sandbox for another tenant: its own seed stream, shop domain and webhook
        connection ids (`{tenant}-shopify`, `{tenant}-wms`: unique across the hub)."""
        return replace(
            self,
            tenant=tenant,
            shopify=replace(
                self.shopify, connection_id=f"{tenant}-shopify", shop_domain=f"{tenant}-sandbox.myshopify.com"
            ),
            wms=replace(self.wms, connection_id=f"{tenant}-wms"),
        )


class System(Protocol):
    name: str

    def snapshot(self) -> dict[str, Any]: ...

    def reset(self) -> None: ...


class CallStats:
    """Requests per system, route and status, plus per-minute counters a system adds to."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total: Counter[str] = Counter()
        self.routes: dict[str, Counter[str]] = defaultdict(Counter)
        self.statuses: dict[str, Counter[str]] = defaultdict(Counter)

    def record(self, system: str, route: str, status: int) -> None:
        self.total[system] += 1
        self.routes[system][route] += 1
        self.statuses[system][str(status)] += 1

    def snapshot(self, system: str) -> dict[str, Any]:
        return {
            "total": self.total[system],
            "by_route": dict(self.routes[system]),
            "by_status": dict(self.statuses[system]),
        }


class SandboxContext:
    """Shared by every simulated system: config, clock, randomness, statistics."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.stats = CallStats()
        self.systems: dict[str, System] = {}
        self.on_reset: list[Callable[[], None]] = []
        self.extra_snapshots: dict[str, Callable[[], Any]] = {}

    def now(self) -> float:
        return self.config.clock()

    def iso(self, ts: float | None = None) -> str:
        moment = datetime.fromtimestamp(self.now() if ts is None else ts, UTC)
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")

    def rng(self, name: str) -> random.Random:
        """A generator of its own per purpose, so one system's draws never shift another's."""
        tenant = f"{self.config.tenant}:" if self.config.tenant else ""
        return random.Random(f"{self.config.seed}:{tenant}{name}")

    def hub_url(self, override: str | None) -> str:
        return (override or self.config.hub_url).rstrip("/")

    def snapshot(self) -> dict[str, Any]:
        return {
            "at": self.iso(),
            "seed": self.config.seed,
            **{
                name: {**s.snapshot(), "calls": self.stats.snapshot(name)} for name, s in self.systems.items()
            },
            **{name: snapshot() for name, snapshot in self.extra_snapshots.items()},
        }

    def reset(self) -> None:
        for system in self.systems.values():
            system.reset()
        for hook in self.on_reset:
            hook()
        self.stats.reset()


class TokenBucket:
    """Amazon's usage plan: `rate` tokens per second, at most `burst`, one token per call."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = float(burst), now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now

    def take(self, now: float) -> float:
        """0 when a token was taken, else seconds until one will be there."""
        self._refill(now)
        if self.tokens >= 1.0 - 1e-4:  # tolerate float dust from rate × elapsed
            self.tokens = max(0.0, self.tokens - 1.0)
            return 0.0
        return (1.0 - self.tokens) / self.rate


class CostBucket:
    """Shopify's GraphQL leaky bucket of query-cost points, with per-minute accounting."""

    def __init__(self, maximum: float, restore_rate: float, now: float) -> None:
        self.maximum, self.restore_rate = maximum, restore_rate
        self.available, self.at = maximum, now
        self.minutes: dict[int, Counter[str]] = defaultdict(Counter)
        self.lowest = maximum
        self.throttled = 0

    def level(self, now: float) -> float:
        self.available = min(self.maximum, self.available + max(0.0, now - self.at) * self.restore_rate)
        self.at = now
        return self.available

    def try_spend(self, cost: float, now: float) -> bool:
        minute = self.minutes[int(now // 60)]
        minute["calls"] += 1
        if self.level(now) < cost:
            self.throttled += 1
            minute["throttled"] += 1
            return False
        self.available -= cost
        self.lowest = min(self.lowest, self.available)
        return True

    def settle(self, requested: float, actual: float, now: float) -> None:
        """Refund what the query did not use (requested was taken up front)."""
        self.minutes[int(now // 60)]["points"] += int(actual)
        self.available = min(self.maximum, self.available + max(0.0, requested - actual))

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": float(self.maximum),
            "currentlyAvailable": float(int(self.available)),
            "restoreRate": float(self.restore_rate),
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            **self.status(),
            "lowest_available": round(self.lowest, 3),
            "throttled": self.throttled,
            "per_minute": {str(m * 60): dict(c) for m, c in sorted(self.minutes.items())},
        }


CONTEXT = web.AppKey("sandbox_context", SandboxContext)


async def get_state(request: web.Request) -> web.Response:
    return web.json_response(request.app[CONTEXT].snapshot(), dumps=dumps)


async def post_reset(request: web.Request) -> web.Response:
    request.app[CONTEXT].reset()
    return web.json_response({"reset": True})


def dumps(value: Any) -> str:
    import orjson

    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def routes() -> list[web.RouteDef]:
    return [web.get("/_sandbox/state", get_state), web.post("/_sandbox/reset", post_reset)]
