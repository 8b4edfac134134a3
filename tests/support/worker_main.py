"""A worker process for engine tests.

    python -m tests.support.worker_main --db URL --mode MODE [--lease S] [--concurrency N]

Builds a hub with the test handler (kind `test.effect`) and runs one worker until
SIGTERM or SIGINT; then it drains, prints its stats as one JSON line on stdout and
exits 0. On start it prints `{"event": "ready", "pid": ...}`.

The handler, for a payload `{"url": ..., "sleep": ...}`:
- POSTs the payload to `url` (when given) with `Idempotency-Key: <message key>`
  and records the call as lineage; 429 → ThrottledError(Retry-After), 5xx and
  connection errors → TransientError, other 4xx → PermanentError;
- stages a `cursors` row named `done:{message id}:{pid}`: committed with the
  outcome, so it proves which process's handling counted.

Modes add one behaviour:
- `crash_after_effect`: after the call returns, if the file named by
  CROSSDOCK_TEST_CRASH_MARKER does not exist, create it and SIGKILL this process;
- `slow`: sleep `payload.sleep` (default `--slow` s) after the call;
- `throttled`: make the call inside `ctx.throttle("ext")`;
- `noop`: nothing more.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
from sqlalchemy import insert

from crossdock import bootstrap
from crossdock.config import Settings
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord, Message
from crossdock.store.tables import cursors

KIND = "test.effect"
MODES = ("crash_after_effect", "slow", "throttled", "noop")
MARKER_ENV = "CROSSDOCK_TEST_CRASH_MARKER"


def done_row_name(message_id: int, pid: int) -> str:
    return f"done:{message_id}:{pid}"


class EffectHandler:
    def __init__(self, mode: str, slow_seconds: float) -> None:
        self.mode = mode
        self.slow_seconds = slow_seconds
        self.session: aiohttp.ClientSession | None = None
        self.pid = os.getpid()

    def register(self, registry) -> None:
        registry.add(KIND, self.handle)

    async def handle(self, msg: Message, ctx) -> None:
        payload = ctx.payload
        url = payload.get("url")
        if url:
            if self.mode == "throttled":
                async with ctx.throttle("ext"):
                    await self._call(msg, ctx, url)
            else:
                await self._call(msg, ctx, url)
        if self.mode == "crash_after_effect":
            _crash_once()
        elif self.mode == "slow":
            await asyncio.sleep(float(payload.get("sleep", self.slow_seconds)))
        ctx.stage(self._done_row(msg))

    async def _call(self, msg: Message, ctx, url: str) -> None:
        assert self.session is not None
        headers = {"Idempotency-Key": msg.idempotency_key, "X-Worker-Pid": str(self.pid)}
        body = msg.payload if isinstance(msg.payload, str) else orjson.dumps(msg.payload).decode()
        started = time.perf_counter()
        try:
            async with self.session.post(url, data=body, headers=headers) as resp:
                text = await resp.text()
                status, resp_headers = resp.status, dict(resp.headers)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TransientError(f"POST {url}: {exc!r}", ambiguous=True) from exc
        ctx.record(
            LineageRecord(
                "out",
                "ext",
                "POST",
                url,
                headers,
                body,
                status,
                {},
                text,
                (time.perf_counter() - started) * 1000,
            )
        )
        if status == 429:
            raise ThrottledError(float(resp_headers.get("Retry-After", "1")), "ext answered 429")
        if status >= 500:
            raise TransientError(f"ext answered {status}")
        if status >= 400:
            raise PermanentError("remote.rejected", f"ext answered {status}: {text[:200]}")

    def _done_row(self, msg: Message):
        row = {
            "tenant_id": msg.tenant_id,
            "connection_id": "ext",
            "name": done_row_name(msg.id, self.pid),
            "value": json.dumps({"pid": self.pid, "attempt": msg.attempts}),
            "updated_at": time.time(),
        }

        def write(conn) -> None:
            conn.execute(insert(cursors), row)

        return write


def _crash_once() -> None:
    """The test-only crash point: die like `kill -9` the first time only."""
    marker = os.environ.get(MARKER_ENV)
    if not marker:
        raise RuntimeError(f"mode crash_after_effect needs {MARKER_ENV}")
    path = Path(marker)
    if path.exists():
        return
    path.write_text(str(os.getpid()))
    os.kill(os.getpid(), signal.SIGKILL)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.support.worker_main")
    p.add_argument("--db", required=True)
    p.add_argument("--mode", choices=MODES, default="noop")
    p.add_argument("--lease", type=float, default=30.0)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--slow", type=float, default=5.0, help="seconds the handler sleeps in mode `slow`")
    p.add_argument("--drain", type=float, default=10.0, help="seconds in-flight handlers get on SIGTERM")
    return p.parse_args(argv)


async def _run(args: argparse.Namespace) -> dict:
    handler = EffectHandler(args.mode, args.slow)
    env = {"CROSSDOCK_DATABASE_URL": args.db, "CROSSDOCK_VAR_DIR": tempfile.gettempdir()}
    hub = bootstrap.build(Settings.from_env(env), hooks=[handler.register])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        handler.session = session
        worker = hub.worker(
            batch=args.batch, concurrency=args.concurrency, lease_seconds=args.lease, drain_seconds=args.drain
        )
        print(json.dumps({"event": "ready", "pid": os.getpid()}), flush=True)
        await worker.run(stop)
    await hub.aclose()
    stats = dataclasses.asdict(worker.stats)
    return {"event": "stopped", "pid": os.getpid(), "mode": args.mode, **stats}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    args = _parse(argv)
    stats = asyncio.run(_run(args))
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
