"""`crossdock availability`: reconciliation of channel quantities — the drift reports, and a
reconciliation run started now (`reconcile`), which by default waits for its report."""

from __future__ import annotations

import asyncio
import time

import typer
from rich.console import Console
from rich.table import Table

from crossdock import bootstrap
from crossdock.cli.messages import cells, echo_json, known_tenant, reading, when
from crossdock.config import Settings
from crossdock.records import NewMessage
from crossdock.store import drift
from crossdock.store import messages as message_store
from crossdock.store.drift import DriftReport
from crossdock.store.publishing import RECONCILE_KIND

app = typer.Typer(help="Channel quantities: drift reports and reconciliation.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="availability")


@app.command("drift")
def drift_reports(
    tenant: str = typer.Option(..., "--tenant", help="The tenant.", callback=known_tenant),
    connection: str | None = typer.Option(None, "--connection", help="Only this channel connection."),
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="At most this many, latest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON, with the largest drifts item by item."),
) -> None:
    """Drift reports of reconciliation runs: items checked and off, how far off, since when."""
    with reading() as conn:
        found = drift.list_reports(conn, tenant, connection, limit)
    if as_json:
        echo_json([r.to_dict() for r in found])
        return
    _table(found)


@app.command("reconcile")
def reconcile(
    tenant: str = typer.Option(..., "--tenant", help="The tenant.", callback=known_tenant),
    connection: str = typer.Option(..., "--connection", help="The channel connection to reconcile."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Run it here and print its report."),
    timeout: float = typer.Option(300.0, "--timeout", min=1, help="With --wait: give up after this long."),
) -> None:
    """Reconcile one channel connection now: compare what it shows with what it should show,
    queue the corrections and record a drift report."""
    err = Console(stderr=True)
    settings = Settings.from_env()
    hub = bootstrap.build(settings, migrate=True)
    try:
        problem = hub.database.transaction(drift.reconcile_problem, tenant, connection)
        if problem:
            err.print(f"[red]error:[/] {problem}", highlight=False)
            raise typer.Exit(2)
        now = hub.clock()
        new = NewMessage(tenant, RECONCILE_KIND, f"reconcile:{connection}:cli:{now:.6f}",
                         {"connection_id": connection}, connection_id=connection)  # fmt: skip
        (written,) = hub.database.transaction(message_store.insert, [new], now)
        run_id = f"{connection}-{written.message_id}"
        if not wait:
            typer.echo(f"reconciliation {run_id} queued; a running worker takes it")
            return
        report = asyncio.run(_run(hub, tenant, run_id, timeout))
    finally:
        hub.close()
    if report is None or report.state != "done":
        err.print(
            f"reconciliation {run_id} has not finished within {timeout:g}s; see `crossdock availability drift`"
        )
        raise typer.Exit(1)
    _table([report])


async def _run(hub: bootstrap.Hub, tenant: str, run_id: str, timeout: float) -> DriftReport | None:
    """A worker on the tenant's availability lane until the run's report is done."""
    deadline = time.monotonic() + timeout
    report = None
    try:
        while time.monotonic() < deadline:
            worker = hub.worker(lanes=frozenset({(tenant, "availability")}))
            await worker.run_until_idle(timeout=max(1.0, deadline - time.monotonic()))
            report = hub.database.transaction(drift.get_report, tenant, run_id)
            if report is not None and report.state == "done":
                break
            await asyncio.sleep(0.5)
    finally:
        await hub.services.aclose()
    return report


def _table(found: list[DriftReport]) -> None:
    table = Table("run", "connection", "state", "started", "finished", "checked", "drifted", "missing",
                  "total off", "largest", "oldest since", title="availability drift")  # fmt: skip
    for r in found:
        table.add_row(*cells(r.run_id, r.connection_id, r.state, when(r.started_at), when(r.finished_at),
                             r.items_checked, r.items_drifted, r.items_missing, r.total_abs_diff,
                             r.max_abs_diff, when(r.oldest_drift_since)))  # fmt: skip
    Console().print(table)
