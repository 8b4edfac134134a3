"""`python -m bench amazon-listing`: getOrders calls an Amazon order listing costs.

The hub reads an Amazon listing as time windows that each fit on one page (see
`AmazonChannel.poll_orders`) instead of paging it by NextToken, so that an order updated
while a listing is read cannot hide another. This measures the price: getOrders calls for
one whole listing of N orders, against the minimum a NextToken listing needs (one call a
page of 100), for orders spread in different ways over the day before the poll. The real
sandbox seller account runs in process on a test clock (1,000× Amazon's rates, so no call
waits) and is reached over HTTP; every order must be listed, and `repeats` counts orders
delivered twice (a window's edge second is read by both windows it bounds)."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable

import aiohttp
from aiohttp.test_utils import TestServer
from tests.support.clock import FakeClock

from bench.common import Result
from crossdock.connectors.amazon.config import DEFAULT_RATE_LIMITS, FIXED_RATE_LIMITS, AmazonConfig, RateLimit
from crossdock.connectors.amazon.connector import KIND
from crossdock.connectors.registry import ConnectorContext
from crossdock.sandbox.app import SANDBOX, create_sandbox_app
from crossdock.sandbox.state import AmazonAccountConfig, SandboxConfig

SPEED = 1000.0
DAY = 86_400.0

# Seconds between consecutive orders, per scenario (N orders over at most a day).
SHAPES: dict[str, Callable[[random.Random, int], list[float]]] = {
    "steady (1 s apart)": lambda rnd, n: [1.0] * n,
    "random over the day": lambda rnd, n: [rnd.expovariate(n / (DAY * 0.9)) for _ in range(n)],
    "bursts (flash sales)": lambda rnd, n: [rnd.choice([0.0, 0.0, 0.0, 0.01, 30.0]) for _ in range(n)],
    "one second": lambda rnd, n: [0.0] * n,
}


async def _listing(shape: str, n: int, page_size: int) -> dict[str, float | int | str]:
    clock = FakeClock(1_780_000_000.5)
    account = AmazonAccountConfig()
    app = create_sandbox_app(SandboxConfig(clock=clock, speed=SPEED, amazon=account))
    server = TestServer(app)
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        ctx = ConnectorContext("amazon-us", "tenant-1", session, lambda _record: None, clock=clock)
        limits = {op: RateLimit(rate=r * SPEED, burst=b) for op, (r, b) in DEFAULT_RATE_LIMITS.items()
                  if op not in FIXED_RATE_LIMITS}  # fmt: skip
        channel = KIND.build(
            AmazonConfig(endpoint=f"{base}/amazon", lwa_endpoint=f"{base}/amazon/auth/o2/token",
                         client_id=account.client_id, client_secret=account.client_secret,
                         refresh_token=account.refresh_token, marketplace_ids=[account.marketplace_id],
                         page_size=page_size, rate_limits=limits),  # fmt: skip
            ctx,
        )
        sandbox = app[SANDBOX].amazon
        clock.advance(DAY * 0.05)
        for gap in SHAPES[shape](random.Random(7), n):
            sandbox.create_orders(1)
            clock.advance(gap)
        clock.advance(600)  # past Amazon's two-minute listing lag
        listed: list[str] = []
        cursor, more, calls = None, True, 0
        while more:
            page = await channel.poll_orders(cursor)
            clock.advance(0.1)
            listed += [o["AmazonOrderId"] for o in page.orders]
            cursor, more, calls = page.cursor, page.more, calls + 1
    await server.close()
    missing = len(set(sandbox.orders) - set(listed))
    minimum = math.ceil(n / page_size)
    return {"orders": n, "missing": missing, "repeats": len(listed) - len(set(listed)),
            "calls": calls, "calls_min": minimum, "calls_ratio": round(calls / minimum, 2)}  # fmt: skip


def run(orders: list[int], page_size: int) -> list[Result]:
    results = []
    for shape in SHAPES:
        for n in orders:
            metrics = asyncio.run(_listing(shape, n, page_size))
            results.append(Result("amazon_listing", "-", f"{shape}, {n:,}", {"page_size": page_size},
                                  metrics, [metrics]))  # fmt: skip
    return results
