"""`claim`: latency of `store.messages.claim(...)` with a large, mostly finished store.

The store is filled with one set-based INSERT ... SELECT (a recursive CTE on SQLite,
generate_series on PostgreSQL): `total` messages over tenants × streams lanes, the
newest `ready` of them READY and due, the rest DONE. Every message has an ordering key
shared with ~9 older (DONE) messages of its lane, as orders do, so the claim's
"is an earlier message of this key still open?" check has history to walk.

Each timed claim takes `batch` messages in its own write transaction, then releases
them (`store.messages.release`, untimed) so the backlog stays the same size. Reported:
the whole transaction (BEGIN .. claim .. COMMIT, what the worker waits for) and the
`claim()` call alone."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text

from bench.common import Result, console, latency_summary, scratch_database, settings_for


def build(engine, *, total: int, ready: int, tenants: int, streams: int, keyed: bool = True) -> float:
    """Fill `messages` and `lanes`; answer the seconds it took. Keyed: ~10 messages per ordering key."""
    lanes = tenants * streams
    keys_per_lane = max(1, total // lanes // 10)
    now = time.time()
    dialect = engine.dialect.name
    started = time.perf_counter()
    cols = (
        "tenant_id, stream, kind, idempotency_key, ordering_key, seq, correlation_id, status, attempts,"
        " next_attempt_at, first_attempt_at, payload, created_at, updated_at"
    )
    # i: 0 .. total-1; lane = i % lanes; tenant = lane / streams; stream = lane % streams
    if dialect == "sqlite":
        source = "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < :total - 1) "
        frm = "FROM s"

        def txt(expr: str) -> str:
            return f"CAST({expr} AS TEXT)"
    else:
        source = ""
        frm = "FROM generate_series(0, :total - 1) AS g(i)"

        def txt(expr: str) -> str:
            return f"({expr})::text"

    is_ready = "i >= :total - :ready"
    at = ":now - (:total - i) * 0.01"
    payload = '\'{"topic":"orders/updated","id":"\' || ' + txt("i") + ' || \'","note":"' + "x" * 180 + "\"}'"
    key_expr = "'order-' || " + txt("(i / :lanes) % :kpl") if keyed else "NULL"
    select_sql = f"""
        SELECT 'tenant' || {txt("(i % :lanes) / :streams")},
               's' || {txt("(i % :lanes) % :streams")},
               's' || {txt("(i % :lanes) % :streams")} || '.updated',
               'evt-' || {txt("i")},
               {key_expr},
               i + 1,
               'c-' || {txt("i")},
               CASE WHEN {is_ready} THEN 'ready' ELSE 'done' END,
               CASE WHEN {is_ready} THEN 0 ELSE 1 END,
               {at},
               CASE WHEN {is_ready} THEN NULL ELSE {at} END,
               {payload},
               {at},
               {at}
        {frm}
    """
    sql = f"{source}INSERT INTO messages ({cols}) {select_sql}"
    params = {
        "total": total,
        "ready": ready,
        "lanes": lanes,
        "streams": streams,
        "kpl": keys_per_lane,
        "now": now,
    }
    with engine.begin() as conn:
        conn.execute(text(sql), params)
        conn.execute(
            text("INSERT INTO lanes (tenant_id, stream) VALUES (:t, :s)"),
            [{"t": f"tenant{t}", "s": f"s{s}"} for t in range(tenants) for s in range(streams)],
        )
    return time.perf_counter() - started


def analyze(engine) -> float:
    started = time.perf_counter()
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE messages")
            conn.exec_driver_sql("VACUUM ANALYZE lanes")
    return time.perf_counter() - started


def _timed_claim(conn, owner: str, batch: int, rotor) -> tuple[Any, float]:
    from crossdock.store import messages as store

    t = time.perf_counter()
    c = store.claim(conn, owner, batch, 30.0, time.time(), rotor)
    return c, time.perf_counter() - t


def measure(database, *, batch: int, claims: int, warmup: int = 10) -> dict[str, Any]:
    from crossdock.store import messages as store

    rotor = store.LaneRotor()
    totals, stmts, sizes = [], [], []
    for k in range(warmup + claims):
        t = time.perf_counter()
        c, stmt = database.transaction(_timed_claim, "bench-claimer", batch, rotor)
        total = time.perf_counter() - t
        if k >= warmup:
            totals.append(total)
            stmts.append(stmt)
            sizes.append(len(c.messages))
        if c.messages:
            database.transaction(store.release, c.token, [m.id for m in c.messages], time.time())
    out = latency_summary(totals)
    out.update(latency_summary(stmts, "stmt_"))
    out["claimed_per_call"] = round(sum(sizes) / len(sizes), 1)
    out["min_claimed"] = min(sizes)
    return out


def run(
    dbs: list[str],
    *,
    total: int,
    ready: int,
    tenants: int,
    streams: int,
    batch: int,
    claims: int,
    repeat: int,
    analyze: bool,
) -> list[Result]:
    from crossdock import bootstrap

    results = []
    params = {
        "total": total,
        "ready": ready,
        "tenants": tenants,
        "streams": streams,
        "batch": batch,
        "claims": claims,
        "repeat": repeat,
    }
    for db in dbs:
        with scratch_database(db, "claim") as url:
            hub = bootstrap.build(settings_for(url))
            try:
                console.print(f"[cyan]claim[/cyan] {db}: building {total:,} messages ({ready:,} ready) ...")
                build_s = build(hub.engine, total=total, ready=ready, tenants=tenants, streams=streams)
                console.print(f"  built in {build_s:.1f}s ({total / build_s:,.0f} rows/s)")
                phases: list[tuple[str, bool]] = []
                if db == "sqlite":
                    phases.append(("no-stats", False))  # SQLite as Crossdock runs it: nobody runs ANALYZE
                if analyze or db == "postgres":
                    phases.append(("analyzed", True))
                for scenario, do_analyze in phases:
                    extra = {}
                    if do_analyze:
                        extra["analyze_s"] = round(analyze_fn(hub.engine), 2)
                    runs = []
                    for k in range(repeat):
                        m = measure(hub.database, batch=batch, claims=claims)
                        m["build_s"] = round(build_s, 1)
                        m.update(extra)
                        console.print(
                            f"  {scenario} run {k + 1}/{repeat}: p50 {m['p50_ms']:.1f} ms, "
                            f"p99 {m['p99_ms']:.1f} ms, {m['claimed_per_call']} msgs/claim"
                        )
                        runs.append(m)
                    best = dict(min(runs, key=lambda r: r["p50_ms"]))
                    results.append(Result("claim", db, scenario, params=params, metrics=best, runs=runs))
            finally:
                hub.close()
    return results


analyze_fn = analyze
