"""A hub wired to the sandbox's Shopify store and Amazon seller (and, on request, its Walmart
seller), in process, over HTTP, for the availability publishing tests: stock goes in as `inventory.snapshot` messages, the worker runs
on a fake clock the test moves, and outcomes are read from the sandbox's own state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from crossdock import bootstrap
from crossdock.bootstrap import Hub
from crossdock.configuration import SecretBox, load_text
from crossdock.records import NewMessage, Status
from crossdock.sandbox.app import SANDBOX, Sandbox, create_sandbox_app
from crossdock.sandbox.state import SandboxConfig
from crossdock.store import messages as message_store
from crossdock.store.configuration import apply_config
from crossdock.store.db import make_engine
from crossdock.store.tables import messages
from tests.support.clock import FakeClock

TENANT = "acme"
SHOP, AMAZON, WALMART = "acme-shop", "acme-amz", "acme-wm"
LOCATION = 73_000_000_001


def sku(i: int) -> str:
    """The sandbox catalog's SKUs: CD-1001, CD-1002, ..."""
    return f"CD-{1001 + i}"


def walmart_connection(base: str) -> str:
    """The sandbox's Walmart seller as a publishing-only connection (no order schedule)."""
    return f"""      - id: {WALMART}
        kind: walmart
        config:
          base_url: "{base}/walmart"
          client_id: walmart-sandbox-client
          client_secret: walmart-sandbox-secret
          poll_orders: false
"""


def config_text(base: str, channels: str, mappings: str = "", *, walmart: bool = False) -> str:
    return f"""
version: 1
tenants:
  - id: {TENANT}
    name: ACME Distribution
    connections:
      - id: {SHOP}
        kind: shopify
        config:
          shop_domain: crossdock-sandbox.myshopify.com
          base_url: "{base}/shopify"
          access_token: shpat_sandbox
          webhook_secret: shopify-sandbox-app-secret
          location_id: "{LOCATION}"
      - id: {AMAZON}
        kind: amazon
        config:
          endpoint: "{base}/amazon"
          lwa_endpoint: "{base}/amazon/auth/o2/token"
          client_id: amzn1.application-oa2-client.sandbox
          client_secret: amazon-sandbox-client-secret
          refresh_token: "Atzr|sandbox-refresh-token"
          marketplace_ids: [ATVPDKIKX0DER]
          seller_id: A1SANDBOXSELLER
{walmart_connection(base) if walmart else ""}{mappings}
    availability:
      channels:
{channels}
"""


@dataclass
class Rig:
    hub: Hub
    clock: FakeClock
    server: TestServer
    sandbox: Sandbox
    sent: int = 0  # stock messages so far (their idempotency keys)

    def stock(self, values: list[tuple[str, int]], *, per_message: int = 1) -> None:
        """Stock events as intake stores them: `inventory.snapshot`s of WH1, applied in this order
        (one ordering key, as one ERP's stock feed)."""
        new = []
        for n in range(0, len(values), per_message):
            chunk = values[n : n + per_message]
            positions = [{"item": item, "location": "WH1", "on_hand": qty} for item, qty in chunk]
            self.sent += 1
            new.append(
                NewMessage(
                    TENANT,
                    "inventory.snapshot",
                    f"stock-{self.sent}",
                    {"source": "erp", "positions": positions},
                    ordering_key="erp:stock:WH1",
                )  # fmt: skip
            )
        for start in range(0, len(new), 2000):
            self.hub.database.transaction(message_store.insert, new[start : start + 2000], self.clock())

    def insert(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        self.hub.database.transaction(
            message_store.insert, [NewMessage(TENANT, kind, key, payload)], self.clock()
        )

    async def run(self, *, rounds: int = 20, until: float | None = None) -> None:
        """The worker until idle; then the clock jumps to the next delayed message (not past
        `until`), and again, until no message is waiting."""
        for _ in range(rounds):
            await self.hub.worker(batch=500, concurrency=64).run_until_idle(timeout=120)
            with self.hub.engine.connect() as c:
                due = c.execute(
                    select(func.min(messages.c.next_attempt_at)).where(
                        messages.c.status == Status.READY.value
                    )
                ).scalar()
            if due is None or (until is not None and due > until):
                return
            self.clock.now = max(self.clock.now, due)

    def state(self) -> dict[str, Any]:
        return self.sandbox.ctx.snapshot()


async def start(
    settings, sandbox_config: SandboxConfig, channels: str, mappings: str = "", *, walmart: bool = False
) -> Rig:
    clock = FakeClock(1_800_000_000.0)
    # The sandbox runs on real time, as the connectors' own limit estimates do; only the hub's
    # messages (delays, retries, the coalescing windows) follow the fake clock.
    app = create_sandbox_app(sandbox_config)
    server = TestServer(app)
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    text = config_text(base, channels, mappings, walmart=walmart)
    engine = make_engine(settings.database_url)
    apply_config(
        engine, load_text(text), "crossdock.yaml", text, "ops@test", SecretBox.from_settings(settings)
    )
    engine.dispose()
    hub = bootstrap.build(settings, clock=clock)
    return Rig(hub, clock, server, app[SANDBOX])


async def stop(rig: Rig) -> None:
    await rig.hub.aclose()
    await rig.server.close()


async def graphql(rig: Rig, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """A call to the sandbox store as its admin would make one (not through Crossdock)."""
    url = rig.server.make_url("/shopify/admin/api/2026-04/graphql.json")
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            url,
            json={"query": query, "variables": variables},
            headers={"X-Shopify-Access-Token": "shpat_sandbox"},
        ) as resp,
    ):
        return await resp.json()
