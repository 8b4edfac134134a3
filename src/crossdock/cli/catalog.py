"""`crossdock catalog`: pull a tenant's item master now, and show one item's listings."""

from __future__ import annotations

import time
import uuid

import typer
from rich.console import Console

from crossdock.cli.exceptions import writing
from crossdock.cli.messages import echo_json, known_tenant, reading
from crossdock.store import catalog as store

app = typer.Typer(help="The catalog: item master and channel listings.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="catalog")


@app.command()
def sync(
    tenant: str = typer.Option(..., "--tenant", help="The tenant whose item master is pulled.", callback=known_tenant),
    connection: str | None = typer.Option(
        None, "--connection", help="Pull from this connection instead of catalog.source."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Queue a pull of the item master; running workers publish what changed to every channel."""
    key = f"catalog.sync:cli:{uuid.uuid4().hex}"
    try:
        with writing() as conn:
            message_id = store.request_sync(conn, tenant, connection, key, time.time())
    except LookupError as exc:
        Console(stderr=True).print(str(exc), markup=False)
        raise typer.Exit(1) from None
    if as_json:
        echo_json({"tenant": tenant, "message_id": message_id})
        return
    Console().print(f"catalog sync of {tenant} queued as message {message_id}", markup=False)


@app.command()
def show(
    item: str = typer.Argument(..., help="The item code."),
    tenant: str = typer.Option(..., "--tenant", help="The item's tenant.", callback=known_tenant),
) -> None:
    """One item: its item master record and its listing on each channel connection (JSON)."""
    with reading() as conn:
        found = store.item_status(conn, tenant, item)
    if found is None:
        Console(stderr=True).print(f"item {item} of tenant {tenant} not found", markup=False)
        raise typer.Exit(1)
    echo_json(found)
