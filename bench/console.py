"""`console`: latency of the web console's busiest pages on a large store.

The store: `total` messages (bench.claim's bulk INSERT ... SELECT, mostly DONE, the
newest `ready` READY) over tenants × streams lanes, `open_exceptions` open exceptions
(plus `closed_exceptions` resolved ones, the desk's history) spread over the tenants and
a handful of categories, one row per tenant in `tenants`, and a partner operator.

Timed over HTTP with FastAPI's TestClient against `create_app(hub, run_workers=False)`
after signing in, `requests` each (after a few warm-up requests):
- overview: `/console/tenants/tenant0`;
- desk, partner view: `/console/exceptions` (every tenant);
- desk, one tenant: `/console/exceptions?tenant=tenant0`;
- `/metrics` with its 5 s cache off (every scrape reads the database, all tenants).
Reported per page: p50 / p95 / p99 / max in ms. Target: p95 < 200 ms."""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import text

from bench.claim import analyze as analyze_store
from bench.claim import build as build_messages
from bench.common import Result, console, latency_summary, percentile, scratch_database, settings_for

PASSWORD = "bench console password"
CATEGORIES = (
    "mapping.sku_unknown",
    "mapping.customer_unknown",
    "connection.auth",
    "connection.unavailable",
    "validation.address",
    "validation.price",
    "erp.rejected",
    "defect.crash_loop",
)


def build_exceptions(engine, *, open_: int, closed: int, tenants: int) -> float:
    """`open_` open and `closed` resolved exceptions, round-robin over tenants and categories."""
    total = open_ + closed
    dialect = engine.dialect.name
    if dialect == "sqlite":
        source, frm = (
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < :total - 1) ",
            "FROM s",
        )

        def txt(e: str) -> str:
            return f"CAST({e} AS TEXT)"
    else:
        source, frm = "", "FROM generate_series(0, :total - 1) AS g(i)"

        def txt(e: str) -> str:
            return f"({e})::text"

    cats = "CASE i % 8 " + " ".join(f"WHEN {k} THEN '{c}'" for k, c in enumerate(CATEGORIES)) + " END"
    is_open = "i >= :closed"
    sql = f"""{source}INSERT INTO exceptions (tenant_id, message_id, kind, correlation_id, connection_id,
        category, severity, owner, summary, hint, context, attempts, first_seen_at, last_seen_at,
        last_error, status, resolution, closed_by, closed_at)
      SELECT 'tenant' || {txt("i % :tenants")}, i + 1, 'order.received', 'shopify:' || {txt("i")}, 'shop-1',
        {cats}, 'high', 'tenant', 'SKU X-' || {txt("i")} || ' is not mapped', 'Map it, then retry.',
        '{{"sku":"X"}}', 1, :now - (:total - i) * 1.0, :now - (:total - i) * 1.0,
        'PermanentError: not mapped', CASE WHEN {is_open} THEN 'open' ELSE 'resolved' END,
        CASE WHEN {is_open} THEN NULL ELSE 'fixed' END, CASE WHEN {is_open} THEN NULL ELSE 'bench' END,
        CASE WHEN {is_open} THEN NULL ELSE :now END
      {frm}"""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(sql), {"total": total, "closed": closed, "tenants": tenants, "now": time.time()})
    return time.perf_counter() - started


def seed(engine, *, tenants: int) -> None:
    from crossdock.access import Role
    from crossdock.store import users as accounts

    now = time.time()
    with engine.begin() as conn:
        for t in range(tenants):
            conn.execute(
                text(
                    "INSERT INTO tenants (id, name, settings, created_at, updated_at)"
                    " VALUES (:id, :name, '{}', :now, :now)"
                ),
                {"id": f"tenant{t}", "name": f"Tenant {t}", "now": now},
            )
        accounts.create_user(
            conn, "olga", accounts.hash_password(PASSWORD), Role.PARTNER_OPERATOR, ["*"], "bench", now
        )


def sign_in(client) -> None:
    page = client.get("/console/login")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)
    resp = client.post(
        "/console/login",
        data={"username": "olga", "password": PASSWORD, "nonce": nonce},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text[:500]


PAGES = {
    "overview": "/console/tenants/tenant0",
    "desk (partner)": "/console/exceptions",
    "desk (tenant0)": "/console/exceptions?tenant=tenant0",
    "/metrics (uncached)": "/metrics",
}


def measure(client, url: str, *, requests: int, warmup: int = 3) -> dict[str, Any]:
    times = []
    for k in range(warmup + requests):
        t = time.perf_counter()
        resp = client.get(url)
        elapsed = time.perf_counter() - t
        assert resp.status_code == 200, (url, resp.status_code, resp.text[:300])
        if k >= warmup:
            times.append(elapsed)
    out = latency_summary(times)
    out["p95_ms"] = round(percentile([v * 1000 for v in times], 95), 3)
    return out


def run(
    dbs: list[str],
    *,
    total: int,
    ready: int,
    tenants: int,
    streams: int,
    open_exceptions: int,
    closed_exceptions: int,
    requests: int,
    analyze: bool,
) -> list[Result]:
    from fastapi.testclient import TestClient

    from crossdock import bootstrap
    from crossdock.api.app import create_app

    params = {
        "total": total,
        "ready": ready,
        "tenants": tenants,
        "streams": streams,
        "open_exceptions": open_exceptions,
        "closed_exceptions": closed_exceptions,
        "requests": requests,
        "analyze": analyze,
    }
    results = []
    for db in dbs:
        with scratch_database(db, "console") as url:
            hub = bootstrap.build(settings_for(url))
            try:
                console.print(f"[cyan]console[/cyan] {db}: building {total:,} messages, exceptions ...")
                build_s = build_messages(
                    hub.engine, total=total, ready=ready, tenants=tenants, streams=streams
                )
                exc_s = build_exceptions(
                    hub.engine, open_=open_exceptions, closed=closed_exceptions, tenants=tenants
                )
                seed(hub.engine, tenants=tenants)
                console.print(f"  built in {build_s:.1f}s + {exc_s:.1f}s")
                if analyze or db == "postgres":
                    analyze_store(hub.engine)
                    if db == "postgres":
                        with hub.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                            c.exec_driver_sql("VACUUM ANALYZE exceptions")
                app = create_app(hub, run_workers=False)
                app.state.metrics.collector._ttl = 0.0  # every scrape reads the database (no 5 s cache)
                with TestClient(app) as client:
                    sign_in(client)
                    for page, path in PAGES.items():
                        m = measure(client, path, requests=requests)
                        m["build_s"] = round(build_s + exc_s, 1)
                        console.print(
                            f"  {page}: p50 {m['p50_ms']:.1f} ms, p95 {m['p95_ms']:.1f} ms, max {m['max_ms']:.1f} ms"
                        )
                        results.append(Result("console", db, page, params=params, metrics=m, runs=[m]))
            finally:
                hub.close()
    return results
