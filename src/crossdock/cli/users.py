"""`crossdock users`: people who sign in to the web console — create, list, disable.

The password is read from standard input (`--password-stdin`, for scripts) or asked
for twice at the terminal; it is never an argument, so it stays out of shell history
and process lists. Creating and disabling are audited with `--actor`."""

from __future__ import annotations

import sys
import time

import typer
from rich.console import Console
from rich.table import Table

from crossdock.access import ALL_TENANTS, Role
from crossdock.cli.exceptions import os_user, writing
from crossdock.cli.messages import cells, echo_json, reading, when
from crossdock.store import users as accounts

app = typer.Typer(help="Web console users (sign-in accounts).", no_args_is_help=True)
err = Console(stderr=True)

ActorOpt = typer.Option(None, "--actor", help="Who acts (audit log); default: the OS user.")
JsonOpt = typer.Option(False, "--json", help="Print JSON.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="users")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@app.command()
def create(
    username: str = typer.Argument(..., help="The sign-in name."),
    role: Role = typer.Option(
        ..., "--role", help="partner_admin, partner_operator, tenant_admin, tenant_viewer."
    ),
    tenant: list[str] | None = typer.Option(None, "--tenant", help="A tenant the user sees (repeatable)."),
    all_tenants: bool = typer.Option(False, "--all-tenants", help="Every tenant (partner roles only)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of standard input."
    ),
    actor: str | None = ActorOpt,
) -> None:
    """Create a console user; the password is hashed with argon2id."""
    if bool(tenant) == all_tenants:
        err.print("give --tenant (one or more) or --all-tenants")
        raise typer.Exit(2)
    scope = [ALL_TENANTS] if all_tenants else list(tenant or [])
    try:
        password_hash = accounts.hash_password(_read_password(password_stdin))
        with writing() as conn:
            user_id = accounts.create_user(
                conn, username, password_hash, role, scope, actor or os_user(), time.time()
            )
    except accounts.UserError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    Console().print(
        f"created user {user_id} ({username}, {role.value}, tenants {', '.join(scope)})", markup=False
    )


@app.command("list")
def list_(as_json: bool = JsonOpt) -> None:
    """List users (never their password hashes)."""
    with reading() as conn:
        found = accounts.list_users(conn)
    rows = [
        {
            "id": u.id,
            "username": u.username,
            "role": u.role.value,
            "tenants": list(u.tenants),
            "created_at": u.created_at,
            "last_login_at": u.last_login_at,
            "disabled_at": u.disabled_at,
        }
        for u in found
    ]
    if as_json:
        echo_json(rows)
        return
    table = Table("id", "username", "role", "tenants", "created", "last sign-in", "disabled")
    for r in rows:
        table.add_row(
            *cells(
                r["id"],
                r["username"],
                r["role"],
                ", ".join(r["tenants"]),
                when(r["created_at"]),
                when(r["last_login_at"]),
                when(r["disabled_at"]),
            )
        )
    Console().print(table)


@app.command()
def disable(username: str = typer.Argument(...), actor: str | None = ActorOpt) -> None:
    """Disable a user: it cannot sign in, and its open sessions end at once."""
    with writing() as conn:
        changed = accounts.disable_user(conn, username, actor or os_user(), time.time())
    if not changed:
        err.print(f"no active user {username}", markup=False)
        raise typer.Exit(1)
    Console().print(f"disabled user {username}", markup=False)
