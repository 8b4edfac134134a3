"""`crossdock audit verify`: check the audit log's hash chain end to end."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.console import Console
from sqlalchemy.exc import DBAPIError

from crossdock.config import Settings
from crossdock.store import audit as audit_log
from crossdock.store.db import make_engine

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audit")


@app.command()
def verify(as_json: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Recompute every entry's hash; exit 1 at the first broken link."""
    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    try:
        result = audit_log.verify(engine)
    except DBAPIError:
        Console(stderr=True).print("cannot read the audit log; is the schema there? (crossdock db upgrade)")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(asdict(result)))
    elif result.ok:
        Console().print(f"[green]ok[/]: {result.count} entries, chain intact")
    else:
        Console().print(f"[red]broken[/] at entry {result.first_broken_id}: {result.reason}")
    if not result.ok:
        raise typer.Exit(1)
