"""Shared helpers for the benchmarks: throw-away databases, timing, percentiles, reporting.

Nothing here is imported by the product or by the test suite."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"

# Wide enough for the tables when output goes to a file or a pipe.
console = Console() if sys.stdout.isatty() else Console(width=150)


def pg_server_url() -> str:
    """Where to create throw-away PostgreSQL databases (any database on the server will do)."""
    return (
        os.environ.get("CROSSDOCK_BENCH_POSTGRES_URL")
        or os.environ.get("CROSSDOCK_TEST_POSTGRES_URL")
        or DEFAULT_PG
    )


def _admin_engine(server_url: str):
    from sqlalchemy import create_engine

    from crossdock.store.db import normalize_url

    return create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")


@contextlib.contextmanager
def scratch_database(kind: str, label: str, *, migrate: bool = True) -> Iterator[str]:
    """A migrated, empty database that is removed afterwards: a SQLite file in a temp
    dir, or `cd_bench_<label>_<pid>_<rand>` created on the PostgreSQL server."""
    from sqlalchemy import text

    from crossdock.store import migrate as migrations

    if kind == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix=f"cd_bench_{label}_"))
        url = f"sqlite:///{tmp / 'crossdock.db'}"
        try:
            if migrate:
                migrations.upgrade(url)
            yield url
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    if kind != "postgres":
        raise ValueError(f"unknown database kind {kind!r}")
    server = pg_server_url()
    name = f"cd_bench_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _admin_engine(server)
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{server.rsplit('/', 1)[0]}/{name}"
    try:
        if migrate:
            migrations.upgrade(url)
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def settings_for(url: str, var_dir: Path | None = None, **extra_env: str):
    from crossdock.config import Settings

    env = {
        "CROSSDOCK_DATABASE_URL": url,
        "CROSSDOCK_VAR_DIR": str(var_dir or Path(tempfile.gettempdir()) / "cd_bench_var"),
    }
    env.update(extra_env)
    return Settings.from_env(env)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def latency_summary(seconds: Sequence[float], prefix: str = "") -> dict[str, float]:
    ms = [v * 1000.0 for v in seconds]
    return {
        f"{prefix}p50_ms": round(percentile(ms, 50), 3),
        f"{prefix}p90_ms": round(percentile(ms, 90), 3),
        f"{prefix}p99_ms": round(percentile(ms, 99), 3),
        f"{prefix}max_ms": round(max(ms), 3) if ms else float("nan"),
        f"{prefix}samples": len(ms),
    }


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "host": platform.node(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        info["loadavg_1m"] = round(os.getloadavg()[0], 2)
    with contextlib.suppress(Exception):
        info["git_rev"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    return info


@dataclass
class Result:
    """One benchmark scenario on one database: the best run's metrics plus every run's."""

    bench: str
    db: str
    scenario: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "db": self.db,
            "scenario": self.scenario,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine_info(),
            "params": self.params,
            "best": self.metrics,
            "runs": self.runs,
            "notes": self.notes,
        }


def best_of(runs: list[dict[str, Any]], key: str, higher_is_better: bool = True) -> dict[str, Any]:
    return (max if higher_is_better else min)(runs, key=lambda r: r[key])


def save(name: str, results: list[Result], json_out: Path | None) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    rows = [r.as_json() for r in results]
    with open(RESULTS_DIR / f"{name}.jsonl", "a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True) + "\n")
    if json_out:
        json_out.write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    console.print(
        f"[dim]appended {len(rows)} result(s) to {RESULTS_DIR / (name + '.jsonl')}"
        + (f" and wrote {json_out}" if json_out else "")
        + "[/dim]"
    )


def show(title: str, results: list[Result], columns: list[tuple[str, str]]) -> None:
    """A small table: one row per (db, scenario), the chosen metrics as columns."""
    table = Table(title=title, title_justify="left")
    table.add_column("db")
    table.add_column("scenario")
    for _key, label in columns:
        table.add_column(label, justify="right")
    table.add_column("runs", justify="right")
    for r in results:
        cells = []
        for key, _label in columns:
            v = r.metrics.get(key, "")
            cells.append(f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v))
        table.add_row(r.db, r.scenario, *cells, str(len(r.runs)))
    console.print(table)
    for r in results:
        for n in r.notes:
            console.print(f"[yellow]{r.db}/{r.scenario}:[/yellow] {n}")


def dbs_of(option: str) -> list[str]:
    return ["sqlite", "postgres"] if option == "both" else [option]


@contextlib.contextmanager
def profiled(out: Path | None, *, pid: int | None = None, rate: int = 200) -> Iterator[None]:
    """Sample this process (or `pid`) with py-spy while the block runs; write a raw profile
    to `out` and its summary to `out` + `.txt`. A no-op when `out` is None. Extra py-spy
    arguments come from CROSSDOCK_BENCH_PYSPY_ARGS (e.g. `--gil`: only the thread holding the GIL).
    py-spy is not a project dependency: `.venv/bin/uv pip install py-spy`."""
    if out is None:
        yield
        return
    import signal

    pyspy = Path(sys.executable).parent / "py-spy"
    if not pyspy.exists():
        raise RuntimeError("py-spy is not installed in this venv: .venv/bin/uv pip install py-spy")
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            str(pyspy),
            "record",
            "-p",
            str(pid or os.getpid()),
            "-r",
            str(rate),
            "--nonblocking",
            "--format",
            "raw",
            "-o",
            str(out),
            *os.environ.get("CROSSDOCK_BENCH_PYSPY_ARGS", "").split(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # attached before the timed part starts
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        if out.exists():
            from bench.pyspy_summary import summarise

            summary = summarise(str(out), 30, None)
            Path(str(out) + ".txt").write_text(summary + "\n", encoding="utf-8")
            console.print(f"[dim]profile: {out} (summary: {out}.txt)[/dim]")
