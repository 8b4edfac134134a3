"""`crossdock apikeys`: keys for the REST API — create (the key is printed once), list, revoke.

Creating and revoking are audited with `--actor` (default: the OS user)."""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.table import Table

from crossdock.access import ALL_TENANTS, Role
from crossdock.cli.exceptions import os_user, writing
from crossdock.cli.messages import cells, echo_json, reading, when
from crossdock.store import api_keys

app = typer.Typer(help="API keys for the REST API (/api/v1).", no_args_is_help=True)
err = Console(stderr=True)

ActorOpt = typer.Option(None, "--actor", help="Who acts (audit log); default: the OS user.")
JsonOpt = typer.Option(False, "--json", help="Print JSON.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="apikeys")


@app.command()
def create(
    name: str = typer.Option(
        ..., "--name", help="What the key is for (shown in listings and the audit log)."
    ),
    role: Role = typer.Option(
        ..., "--role", help="partner_admin, partner_operator, tenant_admin, tenant_viewer."
    ),
    tenant: list[str] | None = typer.Option(None, "--tenant", help="A tenant the key acts for (repeatable)."),
    all_tenants: bool = typer.Option(False, "--all-tenants", help="Every tenant (partner roles only)."),
    actor: str | None = ActorOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Create a key and print it once: it cannot be shown again."""
    if bool(tenant) == all_tenants:
        err.print("give --tenant (one or more) or --all-tenants")
        raise typer.Exit(2)
    scope = [ALL_TENANTS] if all_tenants else list(tenant or [])
    try:
        with writing() as conn:
            created = api_keys.create(conn, name, role, scope, actor or os_user(), time.time())
    except api_keys.ApiKeyError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    if as_json:
        echo_json({**created.key.to_dict(), "key": created.plaintext})
        return
    k = created.key
    Console().print(
        f"created key {k.id} ({k.name}, {k.role.value}, tenants {', '.join(k.tenants)})", markup=False
    )
    typer.echo(created.plaintext)
    err.print("Store it now: it is not kept and cannot be shown again.")


@app.command("list")
def list_(
    include_revoked: bool = typer.Option(False, "--all", help="Include revoked keys."),
    as_json: bool = JsonOpt,
) -> None:
    """List keys (never the keys themselves: their first characters only)."""
    with reading() as conn:
        keys = api_keys.list_keys(conn, include_revoked)
    if as_json:
        echo_json([k.to_dict() for k in keys])
        return
    table = Table("id", "name", "prefix", "role", "tenants", "created", "by", "last used", "revoked")
    for k in keys:
        table.add_row(
            *cells(
                k.id,
                k.name,
                k.key_prefix + "…",
                k.role.value,
                ", ".join(k.tenants),
                when(k.created_at),
                k.created_by,
                when(k.last_used_at),
                when(k.revoked_at),
            )
        )
    Console().print(table)


@app.command()
def revoke(
    key_id: int = typer.Argument(..., help="The key's id (see `crossdock apikeys list`)."),
    actor: str | None = ActorOpt,
) -> None:
    """Revoke a key: requests with it answer 401 from now on."""
    with writing() as conn:
        done = api_keys.revoke(conn, key_id, actor or os_user(), time.time())
    if not done:
        err.print(f"no live key {key_id}")
        raise typer.Exit(1)
    Console().print(f"revoked key {key_id}")
