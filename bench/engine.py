"""`engine`: messages/s through the worker, and rows/s of `store.messages.insert`.

Per database and per run, on a fresh database:
1. pre-insert N messages with `store.messages.insert` in batches of 1,000, one
   transaction per batch (timed: rows/s);
2. start one worker (`hub.worker(batch=, concurrency=)`) and time until every message
   is DONE, for two handlers:
   - `noop`: the handler returns at once (N messages handled);
   - `emit1`: the handler emits one message whose handler is a no-op (2·N handled,
     both counted).
The clock stops when the worker's committed-DONE count reaches the total, so idle
detection does not pollute the figure."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench.common import Result, best_of, console, profiled, scratch_database, settings_for

TENANT = "bench"
INSERT_BATCH = 1_000


def _payload(i: int) -> str:
    # ~300 bytes of JSON, the size of a small "order changed" notification
    return (
        f'{{"id":"{i}","topic":"orders/updated","shop":"bench.example","sku":"SKU-{i % 999_999:06d}",'
        f'"qty":{i % 7},"price":"19.90","currency":"EUR","note":"{"x" * 160}"}}'
    )


def _new_messages(n: int, kind: str, lanes: int, keyed: bool):
    from crossdock.records import NewMessage

    out = []
    for i in range(n):
        out.append(
            NewMessage(
                tenant_id=f"{TENANT}{i % lanes}" if lanes > 1 else TENANT,
                kind=kind,
                idempotency_key=f"evt-{i}",
                payload=_payload(i),
                ordering_key=f"order-{i % 5_000}" if keyed else None,
                correlation_id=f"c-{i}",
            )
        )
    return out


def _hooks(registry) -> None:
    @registry.handler("bench.noop")
    async def noop(msg, ctx):
        return None

    @registry.handler("bench.emit")
    async def emit(msg, ctx):
        ctx.emit("bench.sink", {"from": msg.id})

    @registry.handler("bench.sink")
    async def sink(msg, ctx):
        return None


def _insert_all(hub, new) -> float:
    from crossdock.store import messages as store

    started = time.perf_counter()
    for i in range(0, len(new), INSERT_BATCH):
        hub.database.transaction(store.insert, new[i : i + INSERT_BATCH], time.time())
    return time.perf_counter() - started


async def _drive(
    hub, expected: int, batch: int, concurrency: int, timeout: float, options: dict[str, Any]
) -> tuple[float, Any, bool]:
    """Run one worker until `expected` messages are DONE or `timeout` passes (then: timed out)."""
    worker = hub.worker(batch=batch, concurrency=concurrency, **options)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(worker.run(stop))
    timed_out = False
    try:
        while worker.stats.done < expected:
            if task.done():
                task.result()
                raise RuntimeError("worker stopped early")
            if time.perf_counter() - started > timeout:
                timed_out = True
                break
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        await task
    return elapsed, worker.stats, timed_out


def one_run(
    db: str,
    scenario: str,
    n: int,
    batch: int,
    concurrency: int,
    lanes: int,
    keyed: bool,
    timeout: float,
    options: dict[str, Any] | None = None,
    profile: Path | None = None,
) -> dict[str, Any]:
    from crossdock import bootstrap
    from crossdock.store import messages as store

    kind = {"noop": "bench.noop", "emit1": "bench.emit"}[scenario]
    expected = n if scenario == "noop" else 2 * n
    with scratch_database(db, "engine") as url:
        hub = bootstrap.build(settings_for(url), hooks=[_hooks])
        try:
            new = _new_messages(n, kind, lanes, keyed)
            insert_s = _insert_all(hub, new)
            with profiled(profile):
                elapsed, stats, timed_out = asyncio.run(
                    _drive(hub, expected, batch, concurrency, timeout, options or {})
                )
            counts = hub.database.snapshot(store.status_counts)
        finally:
            hub.close()
    done = sum(v for (_t, _s, st), v in counts.items() if st == "done")
    if done != expected and not timed_out:
        raise AssertionError(f"expected {expected} DONE messages, found {counts}")
    handled = stats.done if timed_out else expected
    return {
        "insert_rows": n,
        "insert_s": round(insert_s, 3),
        "insert_rows_per_s": round(n / insert_s, 1),
        "handled": handled,
        "expected": expected,
        "timed_out": timed_out,
        "handle_s": round(elapsed, 3),
        "msgs_per_s": round(handled / elapsed, 1),
        "claimed": stats.claimed,
        "fenced": stats.fenced,
    }


def run(
    dbs: list[str],
    *,
    n: int,
    batch: int,
    concurrency: int,
    lanes: int,
    keyed: bool,
    repeat: int,
    scenarios: list[str],
    timeout: float,
    options: dict[str, Any] | None = None,
    profile_dir: Path | None = None,
) -> list[Result]:
    results = []
    for db in dbs:
        for scenario in scenarios:
            runs = []
            for k in range(repeat):
                console.print(f"[cyan]engine[/cyan] {db} {scenario} run {k + 1}/{repeat} (n={n:,}) ...")
                prof = profile_dir / f"engine-{db}-{scenario}-{k + 1}.raw" if profile_dir else None
                r = one_run(db, scenario, n, batch, concurrency, lanes, keyed, timeout, options, prof)
                console.print(
                    f"  insert {r['insert_rows_per_s']:,.0f} rows/s, handle {r['msgs_per_s']:,.0f} msgs/s"
                    + (
                        f" [red](timed out: {r['handled']:,} of {r['expected']:,} done)[/red]"
                        if r["timed_out"]
                        else ""
                    )
                )
                runs.append(r)
            best = dict(best_of(runs, "msgs_per_s"))
            best["insert_rows_per_s"] = max(r["insert_rows_per_s"] for r in runs)  # best insert of all runs
            res = Result(
                "engine",
                db,
                scenario,
                params={
                    "n": n,
                    "batch": batch,
                    "concurrency": concurrency,
                    "lanes": lanes,
                    "keyed": keyed,
                    "insert_batch": INSERT_BATCH,
                    "repeat": repeat,
                    "worker_options": options or {},
                },
                metrics=best,
                runs=runs,
            )
            if best["timed_out"]:
                res.notes.append(
                    f"timed out after {timeout:.0f}s: {best['handled']:,} of {best['expected']:,} "
                    "handled; msgs/s is over the part that finished"
                )
            if db == "sqlite" and scenario == "noop" and best["msgs_per_s"] < 5_000:
                res.notes.append(f"below target: {best['msgs_per_s']:,.0f} < 5,000 no-op msgs/s on SQLite")
            results.append(res)
    return results
