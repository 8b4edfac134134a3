"""`intake`: accepted events/s and acknowledgement latency for signed ~3 KB JSON webhooks.

Four modes, each on a fresh database:
- inproc-closed: 64 asyncio tasks call `hub.intake.accept(Delivery)` back to back
  (no HTTP, no signature check): the engine's ceiling;
- inproc-open: `accept` started on a fixed schedule (`rate`/s), latency from the
  scheduled start;
- http-closed / http-open: the real server (`crossdock serve --no-workers`) after
  `crossdock apply` of a webhook connection, driven by `bench.loadgen` in a separate
  process over `concurrency` keep-alive connections. Skipped while
  `src/crossdock/cli/serve.py` does not exist."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import (
    REPO,
    Result,
    best_of,
    console,
    latency_summary,
    profiled,
    scratch_database,
    settings_for,
)
from bench.webhooks import SECRET, body, secret_bytes, sign

TENANT = "bench"
CONNECTION = "bench-hooks"
TOPIC = os.environ.get("CROSSDOCK_BENCH_TOPIC", "orders/updated")
VENV_BIN = Path(sys.executable).parent
SWITCH_INTERVAL: float | None = None  # what-if experiments only (see bench/serve_launcher.py)


# --------------------------------------------------------------------------- in process


def _deliveries(n: int, size: int):
    from crossdock.records import Delivery

    key = secret_bytes()
    run = uuid.uuid4().hex[:8] + "-"
    out = []
    for i in range(n):
        raw = body(i, size, run)
        headers = sign(raw, key, msg_id=f"msg_{run}{i}")
        headers["webhook-signature"] = "***"  # what intake receives: secrets redacted
        out.append(
            Delivery(
                tenant_id=TENANT,
                connection_id=CONNECTION,
                kind="orders.updated",
                idempotency_key=headers["webhook-id"],
                payload=raw,
                raw_body=raw,
                headers=headers,
                correlation_id=headers["webhook-id"],
                url=f"/hooks/{CONNECTION}/{TOPIC}",
            )
        )
    return out


async def _inproc_closed(hub, deliveries, concurrency: int) -> dict[str, Any]:
    lat: list[float] = []
    nxt = iter(deliveries)

    async def task() -> None:
        for d in nxt:
            t = time.perf_counter()
            await hub.intake.accept(d)
            lat.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(task() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "events": len(deliveries),
        "ok": len(lat),
        "elapsed_s": round(elapsed, 3),
        "events_per_s": round(len(lat) / elapsed, 1),
        "errors": 0,
        **latency_summary(lat),
    }


async def _inproc_open(hub, deliveries, rate: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    lat: list[float] = []
    start = loop.time() + 0.05

    async def one(d, scheduled: float) -> None:
        await hub.intake.accept(d)
        lat.append(loop.time() - scheduled)

    tasks = []
    for i, d in enumerate(deliveries):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(d, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    return {
        "events": len(deliveries),
        "ok": len(lat),
        "elapsed_s": round(elapsed, 3),
        "offered_per_s": rate,
        "events_per_s": round(len(lat) / elapsed, 1),
        "errors": 0,
        **latency_summary(lat),
    }


def _inproc_run(
    db: str,
    mode: str,
    *,
    events: int,
    concurrency: int,
    rate: float,
    seconds: float,
    body_bytes: int,
    profile: Path | None = None,
) -> dict[str, Any]:
    from crossdock import bootstrap

    n = events if mode == "inproc-closed" else int(rate * seconds)
    deliveries = _deliveries(n + 200, body_bytes)
    warm, deliveries = deliveries[:200], deliveries[200:]
    with scratch_database(db, "intake") as url:
        hub = bootstrap.build(settings_for(url))

        async def go() -> dict[str, Any]:
            try:
                await _inproc_closed(hub, warm, concurrency)
                cpu = time.process_time()
                with profiled(profile):
                    if mode == "inproc-closed":
                        out = await _inproc_closed(hub, deliveries, concurrency)
                    else:
                        out = await _inproc_open(hub, deliveries, rate)
                out["server_cpu_s"] = round(time.process_time() - cpu, 2)
                return out
            finally:
                await hub.aclose()

        out = asyncio.run(go())
        out["accepted_total"] = hub.intake.accepted
    if out["accepted_total"] != n + 200:
        raise AssertionError(f"intake accepted {out['accepted_total']} of {n + 200}")
    return out


# --------------------------------------------------------------------------- over HTTP


def serve_available() -> bool:
    return (REPO / "src" / "crossdock" / "cli" / "serve.py").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config_yaml() -> str:
    return f"""version: 1
tenants:
  - id: {TENANT}
    name: Benchmark tenant
    connections:
      - id: {CONNECTION}
        kind: webhook
        config:
          secret: {SECRET}
          tolerance_seconds: 300
"""


@contextlib.contextmanager
def running_server(db_url: str, workdir: Path, extra_args: list[str] | None = None):
    env = dict(os.environ, CROSSDOCK_DATABASE_URL=db_url, CROSSDOCK_VAR_DIR=str(workdir / "var"))
    env.pop("CROSSDOCK_SECRET_KEY", None)
    cfg = workdir / "crossdock.yaml"
    cfg.write_text(_config_yaml(), encoding="utf-8")
    crossdock = str(VENV_BIN / "crossdock")
    applied = subprocess.run(
        [crossdock, "apply", "-f", str(cfg)], env=env, capture_output=True, text=True, timeout=120
    )
    if applied.returncode != 0:
        raise RuntimeError(f"crossdock apply failed:\n{applied.stdout[-1000:]}\n{applied.stderr[-1500:]}")
    port = _free_port()
    log = open(workdir / "serve.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
    if SWITCH_INTERVAL:  # what-if: the same CLI, with the GIL switch interval changed first
        env["CROSSDOCK_BENCH_SWITCH_INTERVAL"] = str(SWITCH_INTERVAL)
        cmd = [sys.executable, "-m", "bench.serve_launcher"]
    else:
        cmd = [crossdock]
    proc = subprocess.Popen(
        [*cmd, "serve", "--no-workers", "--port", str(port), "--log-level", "warning", *(extra_args or [])],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"crossdock serve exited with {proc.returncode}:\n"
                    + (workdir / "serve.log").read_text()[-3000:]
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("crossdock serve did not listen within 60 s")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def _loadgen(
    url: str, mode: str, *, events: int, concurrency: int, rate: float, seconds: float, body_bytes: int
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--url",
        url,
        "--mode",
        mode,
        "--events",
        str(events),
        "--concurrency",
        str(concurrency),
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--body-bytes",
        str(body_bytes),
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=240)
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _http_run(
    db: str,
    mode: str,
    *,
    events: int,
    concurrency: int,
    rate: float,
    seconds: float,
    body_bytes: int,
    profile: Path | None = None,
) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    from crossdock.store.db import normalize_url

    with scratch_database(db, "intake") as url, tempfile.TemporaryDirectory(prefix="cd_bench_http_") as tmp:
        with running_server(url, Path(tmp)) as (base, proc):
            cpu = _cpu_seconds(proc.pid)
            with profiled(profile, pid=proc.pid):
                out = _loadgen(
                    f"{base}/hooks/{CONNECTION}/{TOPIC}",
                    mode.removeprefix("http-"),
                    events=events,
                    concurrency=concurrency,
                    rate=rate,
                    seconds=seconds,
                    body_bytes=body_bytes,
                )
            out["server_cpu_s"] = round(_cpu_seconds(proc.pid) - cpu, 2)  # includes the loadgen's warm-up
            tail = (Path(tmp) / "serve.log").read_text()[-2000:]
        engine = create_engine(normalize_url(url))
        with engine.connect() as c:
            out["messages_in_store"] = c.execute(text("SELECT count(*) FROM messages")).scalar_one()
        engine.dispose()
        if out.get("errors"):
            out["serve_log_tail"] = tail
    return out


# --------------------------------------------------------------------------- driver


def run(
    dbs: list[str],
    *,
    modes: list[str],
    events: int,
    concurrency: int,
    rate: float,
    seconds: float,
    body_bytes: int,
    repeat: int,
    profile_dir: Path | None = None,
) -> list[Result]:
    results = []
    params = {
        "events": events,
        "concurrency": concurrency,
        "rate": rate,
        "seconds": seconds,
        "body_bytes": body_bytes,
        "repeat": repeat,
        "topic": TOPIC,
    }
    if SWITCH_INTERVAL:
        params["server_switch_interval"] = SWITCH_INTERVAL
    for db in dbs:
        for mode in modes:
            if mode.startswith("http") and not serve_available():
                console.print(
                    f"[yellow]skipping {mode}: src/crossdock/cli/serve.py does not exist yet[/yellow]"
                )
                continue
            fn = _http_run if mode.startswith("http") else _inproc_run
            runs = []
            for k in range(repeat):
                console.print(f"[cyan]intake[/cyan] {db} {mode} run {k + 1}/{repeat} ...")
                prof = profile_dir / f"intake-{db}-{mode}-{k + 1}.raw" if profile_dir else None
                try:
                    r = fn(
                        db,
                        mode,
                        events=events,
                        concurrency=concurrency,
                        rate=rate,
                        seconds=seconds,
                        body_bytes=body_bytes,
                        profile=prof,
                    )
                except Exception as exc:  # one broken scenario must not lose the others' results
                    console.print(f"  [red]failed: {type(exc).__name__}: {str(exc)[:500]}[/red]")
                    continue
                console.print(
                    f"  {r['events_per_s']:,.0f} events/s, p50 {r['p50_ms']:.1f} ms, "
                    f"p99 {r['p99_ms']:.1f} ms, errors {r.get('errors', 0)}, "
                    f"server cpu {r.get('server_cpu_s')} s, client cpu {r.get('client_cpu_s', '-')} s "
                    f"in {r['elapsed_s']} s"
                )
                runs.append(r)
            if not runs:
                results.append(Result("intake", db, mode, params=params, notes=["every run failed"]))
                continue
            best = dict(
                best_of(runs, "events_per_s")
                if mode.endswith("closed")
                else min(runs, key=lambda r: r["p99_ms"])
            )
            res = Result("intake", db, mode, params=params, metrics=best, runs=runs)
            if db == "sqlite" and mode.endswith("closed") and best["events_per_s"] < 3_000:
                res.notes.append(f"below target: {best['events_per_s']:,.0f} < 3,000 events/s")
            if mode.endswith("open") and best["p99_ms"] >= 50:
                res.notes.append(
                    f"below target: p99 {best['p99_ms']:.1f} ms >= 50 ms at {rate:,.0f}/s offered"
                )
            if best.get("errors"):
                res.notes.append(
                    f"{best['errors']} errors: {best.get('error_kinds')} {best.get('error_samples')}"
                )
            results.append(res)
    return results
