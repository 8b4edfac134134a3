"""`python -m bench <name> [--db sqlite|postgres|both] [--json out.json]`

Benchmarks run on demand, never as part of the test suite. Each appends its results
as JSON lines to bench/results/<name>.jsonl (git-ignored) and prints a small table."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Crossdock benchmarks (see bench/README.md).",
)


class Db(StrEnum):
    sqlite = "sqlite"
    postgres = "postgres"
    both = "both"


DbOpt = typer.Option(Db.sqlite, "--db", help="Database to run against (both: SQLite, then PostgreSQL).")
JsonOpt = typer.Option(None, "--json", help="Also write this run's results to this JSON file.")
RepeatOpt = typer.Option(2, "--repeat", min=1, help="Runs per scenario; the best one is reported.")


def _quiet() -> None:
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)


@app.command()
def engine(
    db: Db = DbOpt,
    json_out: Path | None = JsonOpt,
    repeat: int = RepeatOpt,
    messages: int = typer.Option(50_000, help="Messages pre-inserted per run."),
    batch: int = typer.Option(200, help="Worker claim batch."),
    concurrency: int = typer.Option(64, help="Worker handler concurrency."),
    lanes: int = typer.Option(1, help="Tenants to spread the messages over (one lane each)."),
    keyed: bool = typer.Option(False, help="Give messages ordering keys (5,000 distinct)."),
    scenario: list[str] = typer.Option(["noop", "emit1"], help="noop and/or emit1."),
    timeout: float = typer.Option(150.0, help="Stop a run after this many seconds (reported as timed out)."),
    flush_delay: float | None = typer.Option(
        None, help="WorkerOptions.flush_max_delay (default: the engine's)."
    ),
    profile: Path | None = typer.Option(None, help="Directory for py-spy profiles of the timed part."),
) -> None:
    """Worker throughput (no-op handler; handler emitting one message) and insert rows/s."""
    from bench import engine as bench
    from bench.common import dbs_of, save, show

    _quiet()
    options = {} if flush_delay is None else {"flush_max_delay": flush_delay}
    results = bench.run(
        dbs_of(db.value),
        n=messages,
        batch=batch,
        concurrency=concurrency,
        lanes=lanes,
        keyed=keyed,
        repeat=repeat,
        scenarios=scenario,
        timeout=timeout,
        options=options,
        profile_dir=profile,
    )
    show(
        "engine (best run)",
        results,
        [
            ("msgs_per_s", "msgs/s"),
            ("handle_s", "handle s"),
            ("handled", "handled"),
            ("insert_rows_per_s", "insert rows/s"),
        ],
    )
    save("engine", results, json_out)


@app.command("console")
def console_pages(
    db: Db = DbOpt,
    json_out: Path | None = JsonOpt,
    total: int = typer.Option(1_000_000, help="Messages in the store."),
    ready: int = typer.Option(10_000, help="Of which READY (the rest DONE)."),
    tenants: int = typer.Option(5),
    streams: int = typer.Option(3),
    open_exceptions: int = typer.Option(10_000, help="Open exceptions over all tenants."),
    closed_exceptions: int = typer.Option(20_000, help="Resolved exceptions (the desk's history)."),
    requests: int = typer.Option(50, help="Timed requests per page."),
    analyze: bool = typer.Option(False, help="ANALYZE SQLite after the load (PostgreSQL: always)."),
) -> None:
    """Console page latency (overview, exception desk) with a large store: p50/p95."""
    from bench import console as bench
    from bench.common import dbs_of, save, show

    _quiet()
    results = bench.run(
        dbs_of(db.value),
        total=total,
        ready=ready,
        tenants=tenants,
        streams=streams,
        open_exceptions=open_exceptions,
        closed_exceptions=closed_exceptions,
        requests=requests,
        analyze=analyze,
    )
    show(
        "console",
        results,
        [
            ("p50_ms", "p50 ms"),
            ("p95_ms", "p95 ms"),
            ("p99_ms", "p99 ms"),
            ("max_ms", "max ms"),
            ("build_s", "build s"),
        ],
    )
    save("console", results, json_out)


@app.command()
def claim(
    db: Db = DbOpt,
    json_out: Path | None = JsonOpt,
    repeat: int = RepeatOpt,
    total: int = typer.Option(1_000_000, help="Messages in the store."),
    ready: int = typer.Option(10_000, help="Of which READY (the rest DONE)."),
    tenants: int = typer.Option(5),
    streams: int = typer.Option(3),
    batch: int = typer.Option(200, help="Claim batch."),
    claims: int = typer.Option(300, help="Timed claims per run (each one is released again)."),
    analyze: bool = typer.Option(True, help="ANALYZE after the bulk load (PostgreSQL always autovacuums)."),
    keep_url: str | None = typer.Option(None, hidden=True),
) -> None:
    """Claim latency p50/p99 with a large, mostly finished store."""
    from bench import claim as bench
    from bench.common import dbs_of, save, show

    _quiet()
    results = bench.run(
        dbs_of(db.value),
        total=total,
        ready=ready,
        tenants=tenants,
        streams=streams,
        batch=batch,
        claims=claims,
        repeat=repeat,
        analyze=analyze,
    )
    show(
        "claim (best run)",
        results,
        [
            ("p50_ms", "p50 ms"),
            ("p99_ms", "p99 ms"),
            ("stmt_p50_ms", "claim() p50"),
            ("stmt_p99_ms", "claim() p99"),
            ("claimed_per_call", "msgs/claim"),
            ("build_s", "build s"),
        ],
    )
    save("claim", results, json_out)


@app.command()
def intake(
    db: Db = DbOpt,
    json_out: Path | None = JsonOpt,
    repeat: int = RepeatOpt,
    mode: list[str] = typer.Option(
        ["inproc-closed", "inproc-open", "http-closed", "http-open"],
        help="inproc-closed, inproc-open, http-closed, http-open (http-* need `crossdock serve`).",
    ),
    events: int = typer.Option(20_000, help="Events per closed-loop run."),
    concurrency: int = typer.Option(64),
    rate: float = typer.Option(1_000.0, help="Offered rate of the open-loop modes (events/s)."),
    seconds: float = typer.Option(15.0, help="Duration of an open-loop run."),
    body_bytes: int = typer.Option(3_072, help="Size of each webhook body."),
    profile: Path | None = typer.Option(
        None, help="Directory for py-spy profiles (the server's, for http-*)."
    ),
    switch_interval: float | None = typer.Option(
        None, help="What-if: the server's GIL switch interval in seconds (CPython default 0.005)."
    ),
) -> None:
    """Accepted events/s and acknowledgement latency for signed 3 KB webhooks."""
    from bench import intake as bench
    from bench.common import dbs_of, save, show

    _quiet()
    bench.SWITCH_INTERVAL = switch_interval
    results = bench.run(
        dbs_of(db.value),
        modes=mode,
        events=events,
        concurrency=concurrency,
        rate=rate,
        seconds=seconds,
        body_bytes=body_bytes,
        repeat=repeat,
        profile_dir=profile,
    )
    show(
        "intake (best run)",
        results,
        [
            ("events_per_s", "events/s"),
            ("p50_ms", "p50 ms"),
            ("p99_ms", "p99 ms"),
            ("errors", "errors"),
            ("offered_per_s", "offered/s"),
        ],
    )
    save("intake", results, json_out)


@app.command()
def orders(
    db: Db = DbOpt,
    json_out: Path | None = JsonOpt,
    repeat: int = typer.Option(1, "--repeat", min=1, help="Runs per scenario; the best one is reported."),
    scenario: list[str] = typer.Option(["burst", "drain"], help="burst and/or drain."),
    count: int = typer.Option(2_000, "--orders", help="burst: Shopify orders created at once."),
    queued: int = typer.Option(30_000, help="drain: orders queued while the ERP is down."),
    rate: float = typer.Option(20.0, help="drain: the ERP connection's throttle rate (requests/s)."),
    burst: int = typer.Option(1, help="drain: the throttle's burst."),
    max_concurrency: int = typer.Option(4, help="drain: the throttle's max_concurrency."),
    window: float = typer.Option(5.0, help="drain: sliding window (s) for the never-exceeded check."),
    drain_seconds: float = typer.Option(90.0, help="drain: how long to measure after the ERP is back."),
    timeout: float = typer.Option(180.0, help="burst: stop waiting after this; drain: queueing limit."),
    workers: int = typer.Option(1, help="Worker loops in the `crossdock serve` process."),
    profile: Path | None = typer.Option(None, help="Directory for py-spy profiles of the hub process."),
) -> None:
    """Order to cash through the real sandbox and server: orders/s to the ERP and to channel
    confirmation (burst), and the throttled backlog drain rate against the ERP's limit (drain)."""
    from bench import orders as bench
    from bench.common import dbs_of, save, show

    _quiet()
    results = bench.run(
        dbs_of(db.value),
        scenarios=scenario,
        orders=count,
        queued=queued,
        rate=rate,
        burst=burst,
        max_concurrency=max_concurrency,
        window=window,
        drain_seconds=drain_seconds,
        timeout=timeout,
        workers=workers,
        repeat=repeat,
        profile_dir=profile,
    )
    show(
        "orders (best run)",
        results,
        [
            ("erp_orders_per_s", "orders/s → ERP"),
            ("confirmed_orders_per_s", "orders/s → confirmed"),
            ("accepted_per_s", "ERP req/s"),
            ("share_of_allowed", "of allowed"),
            ("exceeded", "exceeded"),
        ],
    )
    save("orders", results, json_out)



@app.command()
def publishing(
    db: Db = DbOpt,
    json_out: Path | None = JsonOpt,
    repeat: int = typer.Option(1, "--repeat", min=1, help="Runs per database; the best one is reported."),
    items: int = typer.Option(100_000, help="Items that change at once."),
    timeout: float = typer.Option(600.0, help="Stop waiting for the channels after this many seconds."),
    profile: Path | None = typer.Option(None, help="Directory for a py-spy profile of the evaluation part."),
) -> None:
    """Availability publishing: N items change at once; time until the Shopify and Amazon
    sandboxes show them against the bound their limits allow, API calls against the minimum,
    item-channel evaluations per second (see bench/publishing.py)."""
    from bench import publishing as bench
    from bench.common import dbs_of, save, show

    _quiet()
    results = bench.run(dbs_of(db.value), items=items, timeout=timeout, repeat=repeat, profile=profile)
    show(
        "publishing (best run)",
        results,
        [
            ("shopify_s", "Shopify s"),
            ("shopify_bound_s", "bound s"),
            ("shopify_ratio", "×"),
            ("amazon_s", "Amazon s"),
            ("amazon_bound_s", "bound s"),
            ("amazon_ratio", "×"),
            ("calls", "calls"),
            ("calls_min", "min"),
            ("calls_ratio", "×"),
            ("evaluations_per_s", "evals/s (hub)"),
            ("cpu_us_per_evaluation", "CPU µs/eval"),
            ("domain_evaluations_per_s", "evals/s (domain)"),
        ],
    )
    save("publishing", results, json_out)


@app.command("amazon-listing")
def amazon_listing(
    json_out: Path | None = JsonOpt,
    orders: list[int] = typer.Option([250, 2_000, 10_000], help="Orders in the listing (repeatable)."),
    page_size: int = typer.Option(100, min=1, max=100, help="MaxResultsPerPage."),
) -> None:
    """getOrders calls for one Amazon order listing (time windows of one page each) against
    the minimum a NextToken listing needs, for orders spread in different ways."""
    from bench import amazon_listing as bench
    from bench.common import save, show

    _quiet()
    results = bench.run(orders, page_size)
    show(
        "Amazon order listing",
        results,
        [("orders", "orders"), ("missing", "missing"), ("repeats", "repeats"),
         ("calls", "getOrders"), ("calls_min", "min"), ("calls_ratio", "×")],  # fmt: skip
    )
    save("amazon_listing", results, json_out)


if __name__ == "__main__":
    app()
