"""Availability publishing end to end: N items change at once; how long until the Shopify
sandbox (Standard plan: 1,000-point bucket, 100 points/s) and the Amazon sandbox (JSON
listings feeds of ≤ 25,000 messages, 5 feeds per 5 minutes, 60 s processing) show the
right quantities, against the lower bound their limits allow; API calls against the
minimum; item-channel evaluations per second inside Crossdock.

Steady state before the timed part (written straight into the database and the sandbox,
untimed): every item has stock (100 at WH1), both channels were told 100 and confirmed it,
and Crossdock knows each Shopify listing's InventoryItem id (as publishing or
reconciliation would have learned it). Then, at t0, the ERP reports new stock for every
item (N/1,000 `inventory.snapshot` messages of 1,000 positions, none to zero, about half
up and half down) and the hub — one in-process worker, real clock — takes it from there.

Lower bounds: Shopify ⌈N/250⌉ `inventorySetQuantities` calls of 10 points each, paid from
the bucket as it stands at t0, the rest at the restore rate; Amazon ⌈N/25,000⌉ feeds (at
most 5 per 5 minutes) each processed in 60 s, so ≥ 60 s; calls 1 (LWA token) + 6 per feed
(createFeedDocument, upload, createFeed, getFeed once done, getFeedDocument, report
download). The sandbox records when each channel showed its last right quantity."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from sqlalchemy import func, insert, select

from bench.common import REPO, Result, console, profiled, scratch_database, settings_for

SHOP, AMAZON, TENANT = "bench-shop", "bench-amz", "bench"
LOCATION = 73_000_000_001
SHOPIFY_BATCH, SHOPIFY_COST, FEED_MAX, FEED_PROCESSING_S = 250, 10, 25_000, 60.0


def quantity(i: int) -> int:
    """The new stock of item i: 20…179, never 100 (what the channels show), never 0."""
    q = 20 + (i * 37) % 160
    return 101 if q == 100 else q


def sku(i: int) -> str:
    return f"CD-{1001 + i}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(base: str) -> str:
    return f"""
version: 1
tenants:
  - id: {TENANT}
    name: Bench Distribution
    connections:
      - id: {SHOP}
        kind: shopify
        config: {{shop_domain: crossdock-sandbox.myshopify.com, base_url: "{base}/shopify",
                  access_token: shpat_sandbox, webhook_secret: shopify-sandbox-app-secret,
                  location_id: "{LOCATION}"}}
      - id: {AMAZON}
        kind: amazon
        config: {{endpoint: "{base}/amazon", lwa_endpoint: "{base}/amazon/auth/o2/token",
                  client_id: amzn1.application-oa2-client.sandbox, client_secret: amazon-sandbox-client-secret,
                  refresh_token: "Atzr|sandbox-refresh-token", marketplace_ids: [ATVPDKIKX0DER],
                  seller_id: A1SANDBOXSELLER}}
    availability:
      channels:
        {SHOP}: {{locations: [WH1]}}
        {AMAZON}: {{locations: [WH1]}}
"""


def _seed(engine, n: int, gids: dict[str, int], now: float) -> None:
    """Stock, computed availability and confirmed listings of the steady state, in bulk."""
    from crossdock.domain.availability import Position, compute
    from crossdock.domain.availability_rules import ChannelRule
    from crossdock.store.tables import channel_availability, channel_listings, inventory_positions

    today = datetime.fromtimestamp(now, UTC)
    plain = orjson.dumps(
        compute("X", [Position("X", "WH1", Decimal(100), Decimal(0), Decimal(0), ())], Decimal(0),
                ChannelRule(SHOP, frozenset({"WH1"})), today).to_plain()
    ).decode()  # fmt: skip
    for start in range(0, n, 5000):
        rng = range(start, min(n, start + 5000))
        with engine.begin() as c:
            c.execute(insert(inventory_positions), [
                {"tenant_id": TENANT, "item_code": sku(i), "location": "WH1", "on_hand": "100", "allocated": "0",
                 "unavailable": "0", "inbound": "[]", "source": "erp", "updated_at": now} for i in rng])  # fmt: skip
            for conn_id in (SHOP, AMAZON):
                c.execute(insert(channel_availability), [
                    {"tenant_id": TENANT, "connection_id": conn_id, "item_code": sku(i), "computed": "100",
                     "computed_at": now, "explanation": plain, "published": "100", "published_at": now}
                    for i in rng])  # fmt: skip
                c.execute(insert(channel_listings), [
                    {"tenant_id": TENANT, "connection_id": conn_id, "item_code": sku(i), "confirmed": "100",
                     "confirmed_seq": 0, "confirmed_at": now,
                     "remote_ref": f"gid://shopify/InventoryItem/{gids[sku(i)]}" if conn_id == SHOP else None}
                    for i in rng])  # fmt: skip


async def _open(hub, stream: str) -> int:
    """Messages of the stream still to handle (ready, delayed or not, or running)."""
    from crossdock.store.tables import messages

    def count(c):
        m = messages.c
        q = select(func.count()).where(m.tenant_id == TENANT, m.stream == stream,
                                       m.status.in_(["ready", "running"]))  # fmt: skip
        return c.execute(q).scalar_one()

    return await hub.database.read(count)


async def _run_once(
    db: str, url: str, n: int, timeout: float, tmp: Path, profile: Path | None = None
) -> dict[str, Any]:
    from crossdock import bootstrap
    from crossdock.configuration import SecretBox, load_text
    from crossdock.records import NewMessage
    from crossdock.store import messages as message_store
    from crossdock.store.configuration import apply_config
    from crossdock.store.db import make_engine

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp / "sandbox.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.publishing_sandbox", "--port", str(port), "--items", str(n)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    settings = settings_for(url, tmp / "var")
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                try:
                    async with http.get(f"{base}/_bench/skus") as resp:
                        gids = await resp.json()
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.2)
            else:
                raise RuntimeError("the bench sandbox did not start (see sandbox.log)")
            engine = make_engine(url)
            text = _config(base)
            apply_config(
                engine, load_text(text), "bench.yaml", text, "bench", SecretBox.from_settings(settings)
            )
            seeded = time.perf_counter()
            _seed(engine, n, gids, time.time())
            if (
                engine.dialect.name == "postgresql"
            ):  # statistics for the bulk-loaded tables, as a live hub has
                from sqlalchemy import text as sql

                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.execute(sql("ANALYZE"))
            engine.dispose()
            async with http.post(f"{base}/_bench/amazon_listings", json={sku(i): 100 for i in range(n)}):
                pass
            expected = {sku(i): quantity(i) for i in range(n)}
            async with http.post(f"{base}/_bench/expect", json={"shopify": expected, "amazon": expected}):
                pass
            seed_s = time.perf_counter() - seeded

            hub = bootstrap.build(settings)
            stop = asyncio.Event()
            worker = hub.worker()
            running = asyncio.create_task(worker.run(stop))
            async with http.get(f"{base}/_bench/progress") as resp:
                before = await resp.json()
            batches = [
                NewMessage(
                    TENANT,
                    "inventory.snapshot",
                    f"bench-stock-{s}",
                    {
                        "source": "erp",
                        "positions": [
                            {"item": sku(i), "location": "WH1", "on_hand": quantity(i)}
                            for i in range(s, min(n, s + 1000))
                        ],
                    },
                    ordering_key="erp:stock:WH1",
                )  # fmt: skip
                for s in range(0, n, 1000)
            ]
            spy = profiled(profile / f"publishing-{db}.raw" if profile else None)
            spy.__enter__()
            t0, cpu0 = time.time(), time.process_time()
            cpu_at_evaluated = None
            for start in range(0, len(batches), 20):
                await hub.database.write(message_store.insert, batches[start : start + 20], t0)
            hub._wake_workers()
            evaluated_at = None
            progress = before
            while time.time() - t0 < timeout:
                await asyncio.sleep(0.5)
                if evaluated_at is None and await _open(hub, "inventory") == 0:
                    evaluated_at, cpu_at_evaluated = time.time(), time.process_time() - cpu0
                    spy.__exit__(None, None, None)
                async with http.get(f"{base}/_bench/progress") as resp:
                    progress = await resp.json()
                if progress["shopify"]["done_at"] and progress["amazon"]["done_at"] and evaluated_at:
                    break
            while time.time() - t0 < timeout and await _open(hub, "availability") > 0:
                await asyncio.sleep(0.5)  # confirmations (feed reports) are calls too
            async with http.get(f"{base}/_bench/progress") as resp:
                final = await resp.json()
            for channel in ("shopify", "amazon"):  # done_at as first seen, calls as finally made
                final[channel]["done_at"] = progress[channel]["done_at"]
            progress = final
            stop.set()
            await running
            await hub.aclose()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    figures = _figures(n, t0, evaluated_at, before, progress, seed_s, db)
    # CPU of the hub process (every thread, SQLite included) until the last evaluation:
    # steadier than wall time on a shared machine.
    if cpu_at_evaluated is not None:
        figures["evaluate_cpu_s"] = round(cpu_at_evaluated, 2)
        figures["cpu_us_per_evaluation"] = round(cpu_at_evaluated / (2 * n) * 1e6, 1)
    return figures


def _figures(n, t0, evaluated_at, before, after, seed_s, db) -> dict[str, Any]:
    shop, amz = after["shopify"], after["amazon"]
    bucket = before["shopify"]["bucket"]
    shop_calls_min = math.ceil(n / SHOPIFY_BATCH)
    available = float(bucket["currentlyAvailable"])
    shop_bound = max(0.0, shop_calls_min * SHOPIFY_COST - available) / float(bucket["restoreRate"])
    feeds = math.ceil(n / FEED_MAX)
    amz_bound = FEED_PROCESSING_S * math.ceil(feeds / 5)
    amz_calls_min = 1 + 6 * feeds
    shop_calls = shop["calls"]["total"] - before["shopify"]["calls"]["total"]
    amz_calls = amz["calls"]["total"] - before["amazon"]["calls"]["total"]
    shop_s = (shop["done_at"] - t0) if shop["done_at"] else None
    amz_s = (amz["done_at"] - t0) if amz["done_at"] else None
    eval_s = (evaluated_at - t0) if evaluated_at else None
    calls_min = shop_calls_min + amz_calls_min
    return {
        "items": n,
        "shopify_s": round(shop_s, 2) if shop_s else None,
        "shopify_bound_s": round(shop_bound, 2),
        "shopify_ratio": round(shop_s / shop_bound, 3) if shop_s and shop_bound else None,
        "shopify_right": shop["right"],
        "amazon_s": round(amz_s, 2) if amz_s else None,
        "amazon_bound_s": amz_bound,
        "amazon_ratio": round(amz_s / amz_bound, 3) if amz_s else None,
        "amazon_right": amz["right"],
        "shopify_calls": shop_calls,
        "shopify_calls_min": shop_calls_min,
        "shopify_operations": shop["operations"],
        "amazon_calls": amz_calls,
        "amazon_calls_min": amz_calls_min,
        "amazon_routes": amz["calls"]["by_route"],
        "calls": shop_calls + amz_calls,
        "calls_min": calls_min,
        "calls_ratio": round((shop_calls + amz_calls) / calls_min, 4),
        "shopify_throttled": shop["bucket"]["throttled"] - before["shopify"]["bucket"]["throttled"],
        "shopify_lowest_available": shop["bucket"]["lowest_available"],
        "amazon_throttled": sum(amz["throttled"].values()),
        "amazon_feeds": amz["feeds"],
        "evaluate_s": round(eval_s, 2) if eval_s else None,
        "evaluations_per_s": round(2 * n / eval_s) if eval_s else None,
        "seed_s": round(seed_s, 1),
    }


def run(
    dbs: list[str], *, items: int, timeout: float, repeat: int, profile: Path | None = None
) -> list[Result]:
    from bench.availability import run as domain_evaluations

    results = []
    domain = round(max(domain_evaluations(200_000) for _ in range(2)))
    for db in dbs:
        runs = []
        for _ in range(repeat):
            with scratch_database(db, "publishing") as url, tempfile.TemporaryDirectory() as tmp:
                figures = asyncio.run(_run_once(db, url, items, timeout, Path(tmp), profile))
            figures["domain_evaluations_per_s"] = domain
            console.print(f"[dim]{db}: {figures}[/dim]")
            runs.append(figures)
        best = min(runs, key=lambda r: max(r["shopify_ratio"] or 99, r["amazon_ratio"] or 99))
        results.append(Result("publishing", db, f"{items:,} items", {"items": items}, best, runs))
    return results
