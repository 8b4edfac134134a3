"""`crossdock apply -f FILE`: validate a configuration file and apply it to the database."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from crossdock.config import Settings
from crossdock.configuration import ConfigErrors, SecretBox, SecretError, load_file
from crossdock.store import migrate
from crossdock.store.configuration import ApplyReport, Status, apply_config
from crossdock.store.db import make_engine

_STYLES = {
    Status.CREATED: "green",
    Status.UPDATED: "yellow",
    Status.REMOVED: "red",
    Status.NOT_IN_FILE: "magenta",
}


def register(app: typer.Typer) -> None:
    app.command("apply")(apply)


def apply(
    file: Path = typer.Option(..., "-f", "--file", help="The configuration file (YAML)."),
    actor: str | None = typer.Option(None, "--actor", help="Who applies it (audit log); default: OS user."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Validate FILE and apply it: tenants, connections, routes, throttles. Idempotent."""
    err = Console(stderr=True)
    try:
        loaded = load_file(file)
    except ConfigErrors as exc:
        _fail(err, exc)
    settings = Settings.from_env()
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        box = SecretBox.from_settings(settings)
        report = apply_config(engine, loaded.config, loaded.path, loaded.text, actor or os_user(), box)
    except ConfigErrors as exc:
        _fail(err, exc)
    except SecretError as exc:
        err.print(f"[red]error:[/] {exc.detail}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    _print(report, as_json)


def _fail(err: Console, exc: ConfigErrors) -> None:
    for error in exc.errors:
        typer.echo(str(error), err=True)  # one line each, never wrapped: editors jump to file:line
    err.print(f"{len(exc.errors)} error(s); nothing applied", style="red")
    raise typer.Exit(2)


def _print(report: ApplyReport, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    table = Table("object", "id", "tenant", "status")
    for change in report.changes:
        style = _STYLES.get(change.status, "dim")
        table.add_row(change.object, change.id, change.tenant_id, f"[{style}]{change.status}[/]")
    console = Console()
    console.print(table)
    if report.version_id is None:
        console.print("nothing changed; no new configuration version")
    else:
        console.print(f"applied as configuration version [bold]{report.version_id}[/]")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"
