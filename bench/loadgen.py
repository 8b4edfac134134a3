"""Webhook load generator, run as its own process: `python -m bench.loadgen --url ... --mode closed|open`.

closed: `concurrency` connections, each sends its next request as soon as the previous
        one is answered (maximum throughput);
open:   requests start on a fixed schedule (`rate`/s) whatever the answers do, over at
        most `concurrency` connections (a request waiting for a free connection waits
        on the clock); latency is measured from the scheduled start, so a slow server
        cannot hide its queueing (no coordinated omission).
Bodies and signatures are made before the clock starts. Prints one JSON object."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid

import aiohttp

from bench.common import latency_summary
from bench.webhooks import SECRET, body, secret_bytes, sign


def _requests(n: int, size: int, secret: str) -> list[tuple[str, dict[str, str]]]:
    key = secret_bytes(secret)
    run = uuid.uuid4().hex[:8] + "-"
    out = []
    for i in range(n):
        raw = body(i, size, run)
        out.append((raw, sign(raw, key, msg_id=f"msg_{run}{i}")))
    return out


async def _send(
    session: aiohttp.ClientSession, url: str, req: tuple[str, dict[str, str]], stats: dict
) -> bool:
    raw, headers = req
    try:
        async with session.post(url, data=raw.encode(), headers=headers) as resp:
            text = await resp.read()
            if 200 <= resp.status < 300:
                return True
            stats["status"][resp.status] = stats["status"].get(resp.status, 0) + 1
            if len(stats["samples"]) < 3:
                stats["samples"].append(f"{resp.status}: {text[:300]!r}")
    except Exception as exc:  # noqa: BLE001 - counted and sampled
        stats["status"][type(exc).__name__] = stats["status"].get(type(exc).__name__, 0) + 1
        if len(stats["samples"]) < 3:
            stats["samples"].append(repr(exc)[:300])
    return False


async def closed_loop(url: str, reqs, concurrency: int, session, stats) -> dict:
    lat: list[float] = []
    nxt = iter(range(len(reqs)))
    ok = 0

    async def conn() -> None:
        nonlocal ok
        for i in nxt:
            t = time.perf_counter()
            if await _send(session, url, reqs[i], stats):
                ok += 1
                lat.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(conn() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "events": len(reqs),
        "ok": ok,
        "elapsed_s": round(elapsed, 3),
        "events_per_s": round(ok / elapsed, 1),
        **latency_summary(lat),
    }


async def open_loop(url: str, reqs, rate: float, session, stats) -> dict:
    loop = asyncio.get_running_loop()
    lat: list[float] = []
    ok = 0
    last_done = 0.0
    late_starts = 0

    async def one(i: int, scheduled: float) -> None:
        nonlocal ok, last_done
        if await _send(session, url, reqs[i], stats):
            ok += 1
            last_done = loop.time()
            lat.append(last_done - scheduled)

    start = loop.time() + 0.05
    tasks = []
    for i in range(len(reqs)):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            late_starts += 1  # the generator itself fell behind (CPU starved)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = max(last_done, loop.time()) - start
    return {
        "events": len(reqs),
        "ok": ok,
        "elapsed_s": round(elapsed, 3),
        "offered_per_s": rate,
        "events_per_s": round(ok / elapsed, 1),
        "late_starts": late_starts,
        **latency_summary(lat),
    }


async def main(args: argparse.Namespace) -> dict:
    n = args.events if args.mode == "closed" else int(args.rate * args.seconds)
    reqs = _requests(n + args.warmup, args.body_bytes, args.secret)
    warm, reqs = reqs[: args.warmup], reqs[args.warmup :]
    stats: dict = {"status": {}, "samples": []}
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        await closed_loop(args.url, warm, min(args.concurrency, max(1, args.warmup)), session, stats)
        stats = {"status": {}, "samples": []}
        cpu = time.process_time()
        if args.mode == "closed":
            out = await closed_loop(args.url, reqs, args.concurrency, session, stats)
        else:
            out = await open_loop(args.url, reqs, args.rate, session, stats)
        out["client_cpu_s"] = round(time.process_time() - cpu, 2)
    out["errors"] = sum(stats["status"].values())
    out["error_kinds"] = {str(k): v for k, v in stats["status"].items()}
    out["error_samples"] = stats["samples"]
    out["concurrency"] = args.concurrency
    return out


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen")
    p.add_argument("--url", required=True)
    p.add_argument("--mode", choices=["closed", "open"], default="closed")
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--rate", type=float, default=1_000.0)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--body-bytes", type=int, default=3_072)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--secret", default=SECRET)
    return p.parse_args(argv)


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    result = asyncio.run(main(parse(sys.argv[1:])))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
