"""`crossdock purge`: delete what retention no longer keeps, in short batches."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crossdock.cli.messages import echo_json
from crossdock.config import Settings
from crossdock.engine.database import Database
from crossdock.store import purge as retention_purge
from crossdock.store.db import make_engine


def register(app: typer.Typer) -> None:
    app.command("purge")(purge)


def purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go; delete nothing."),
    batch: int = typer.Option(5000, "--batch", min=1, help="Rows per transaction."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (no progress bar)."),
) -> None:
    """Delete finished messages, closed exceptions, lineage and dedupe keys past retention.

    Open work (ready, running, parked) and open exceptions are never deleted."""
    settings = Settings.from_env()
    retention = retention_purge.Retention.from_settings(settings)
    database = Database(make_engine(settings.database_url))
    now = time.time()
    try:
        if dry_run or as_json:
            report = retention_purge.run(database.transaction, retention, now, batch=batch, dry_run=dry_run)
        else:
            report = _with_progress(database, retention, now, batch)
    finally:
        database.close()
        database.engine.dispose()
    if as_json:
        echo_json(report.to_dict())
        return
    title = "would delete (dry run)" if dry_run else "deleted"
    table = Table("rows", title)
    for target, n in report.counts.items():
        table.add_row(target, str(n))
    console = Console()
    console.print(
        f"retention: messages {retention.message_days:g}d, lineage {retention.lineage_days:g}d, "
        f"dedupe keys {retention.dedupe_days:g}d (never shorter than messages)"
    )
    console.print(table)


def _with_progress(database: Database, retention, now: float, batch: int) -> retention_purge.PurgeReport:
    planned = database.snapshot(retention_purge.plan, retention, now)
    columns = (TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        tasks = {t: bar.add_task(t, total=planned[t]) for t in retention_purge.TARGETS}

        def advance(target: str, n: int) -> None:
            task = bar.tasks[tasks[target]]
            if task.completed + n > (task.total or 0):  # exceptions freed by this run's message purge
                bar.update(tasks[target], total=task.completed + n)
            bar.advance(tasks[target], n)

        return retention_purge.run(database.transaction, retention, now, batch=batch, progress=advance)
