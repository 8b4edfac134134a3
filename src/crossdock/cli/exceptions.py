"""`crossdock exceptions`: the exception desk — list, retry, resubmit an edited payload, resolve.

Every action is audited with `--actor` (default: the OS user). Acting on a filter
rather than on ids asks for confirmation, or `--yes`."""

from __future__ import annotations

import contextlib
import getpass
import time
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection

from crossdock.cli.messages import (
    cells,
    configured_engine,
    database_errors,
    echo_json,
    known_tenant,
    one_of,
    reading,
    when,
)
from crossdock.records import ExceptionStatus
from crossdock.store import exceptions as desk

app = typer.Typer(help="The exception desk: parked messages waiting for an operator.", no_args_is_help=True)
err = Console(stderr=True)

TenantOpt = typer.Option(None, "--tenant", help="Only this tenant (repeatable).", callback=known_tenant)
CategoryOpt = typer.Option(None, "--category", help="A category, or a prefix ending in '.' (mapping.).")
KindOpt = typer.Option(None, "--kind", help="Only this message kind.")
ConnectionOpt = typer.Option(None, "--connection", help="Only this connection.")
SeverityOpt = typer.Option(None, "--severity", help="low, medium, high, critical.")
OwnerOpt = typer.Option(None, "--owner", help="tenant or partner.")
ActorOpt = typer.Option(None, "--actor", help="Who acts (audit log); default: the OS user.")
JsonOpt = typer.Option(False, "--json", help="Print JSON.")
YesOpt = typer.Option(False, "--yes", "-y", help="Act on every match without asking.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="exceptions")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


@contextlib.contextmanager
def writing() -> Iterator[Connection]:
    """A transaction on the configured database; failures are clear errors (see `reading`)."""
    engine = configured_engine()
    try:
        with database_errors("write to the database"), engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def _filter(
    ids=None,
    tenant=None,
    category=None,
    kind=None,
    connection=None,
    severity=None,
    owner=None,
    status: str | None = "open",
) -> desk.ExceptionFilter:
    return desk.ExceptionFilter(
        tenant_ids=tuple(tenant or ()),
        category=category,
        kind=kind,
        connection_id=connection,
        severity=severity,
        owner=owner,
        ids=tuple(ids or ()),
        status=status,
    )


@app.command("list")
def list_(
    tenant: list[str] | None = TenantOpt,
    category: str | None = CategoryOpt,
    kind: str | None = KindOpt,
    connection: str | None = ConnectionOpt,
    severity: str | None = SeverityOpt,
    owner: str | None = OwnerOpt,
    status: str = typer.Option(
        "open", "--status", help="Only exceptions in this status.",
        callback=one_of([*(s.value for s in ExceptionStatus), "any"]),
    ),
    group: bool = typer.Option(False, "--group", help="Counts per category instead of rows."),
    limit: int = typer.Option(100, "--limit", min=1),
    offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JsonOpt,
) -> None:
    """List exceptions, newest first (or counted per category with --group)."""
    flt = _filter(
        None, tenant, category, kind, connection, severity, owner, None if status == "any" else status
    )
    with reading() as conn:
        result = (
            desk.group_by_category(conn, flt) if group else desk.list_exceptions(conn, flt, limit, offset)
        )
    if group:
        _print_groups(result, as_json)
    elif as_json:
        echo_json([e.to_dict() for e in result])
    else:
        table = Table(
            "id", "tenant", "message", "category", "severity", "owner", "status", "last seen", "summary"
        )
        for e in result:
            table.add_row(
                *cells(
                    e.id,
                    e.tenant_id,
                    str(e.message_id),
                    e.category,
                    e.severity,
                    e.owner,
                    e.status,
                    when(e.last_seen_at),
                    e.summary[:70],
                )
            )
        Console().print(table)


def _print_groups(counts: dict[str, int], as_json: bool) -> None:
    if as_json:
        echo_json(counts)
        return
    table = Table("category", "count")
    for category, n in counts.items():
        table.add_row(*cells(category, n))
    Console().print(table)


def _bulk_guard(
    verb: str, ids: list[int] | None, flt: desk.ExceptionFilter, all_open: bool, yes: bool
) -> None:
    """Ids act at once; a filter needs a filter (or --all-open) and a confirmation (or --yes)."""
    if ids:
        return
    narrowed = any((flt.tenant_ids, flt.category, flt.kind, flt.connection_id, flt.severity, flt.owner))
    if not narrowed and not all_open:
        err.print("give exception ids, a filter (--tenant, --category, ...) or --all-open")
        raise typer.Exit(2)
    if yes:
        return
    with reading() as conn:
        n = desk.count_open(conn, flt)
    if n:
        typer.confirm(f"{verb} {n} open exception(s)?", abort=True)


def _report(result: desk.ActionResult, as_json: bool, ids: list[int] | None = None) -> None:
    """Print what was done; exit 3 when exceptions named by id were not acted on (unknown,
    or no longer open), naming them, so a script does not take "nothing" for done."""
    if as_json:
        echo_json(result.to_dict())
    else:
        extra = (
            f" → new message(s) {', '.join(map(str, result.new_message_ids))}" if result.new_message_ids else ""
        )
        Console().print(f"{result.action}: {result.count} exception(s){extra}", markup=False)
    missed = sorted(set(ids or ()) - set(result.exception_ids))
    if missed:
        err.print(
            f"not acted on (unknown, or not open): {', '.join(map(str, missed))}; see `crossdock exceptions list`",
            markup=False,
        )
        raise typer.Exit(3)


@app.command()
def retry(
    ids: list[int] | None = typer.Argument(None, help="Exception ids."),
    tenant: list[str] | None = TenantOpt,
    category: str | None = CategoryOpt,
    kind: str | None = KindOpt,
    connection: str | None = ConnectionOpt,
    all_open: bool = typer.Option(
        False, "--all-open", help="Every open exception (within --tenant if given)."
    ),
    yes: bool = YesOpt,
    actor: str | None = ActorOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Send parked messages back to the queue as they are, with a fresh retry budget."""
    flt = _filter(ids, tenant, category, kind, connection)
    _bulk_guard("Retry", ids, flt, all_open, yes)
    with writing() as conn:
        result = desk.retry(conn, flt, actor or os_user(), time.time())
    _report(result, as_json, ids)


@app.command()
def resubmit(
    exception_id: int = typer.Argument(..., help="The exception whose message is replaced."),
    payload_file: Path | None = typer.Option(None, "--payload-file", help="The edited payload (JSON file)."),
    payload: str | None = typer.Option(None, "--payload", help="The edited payload (JSON text)."),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept with the action)."),
    tenant: str | None = typer.Option(None, "--tenant", help="Refuse unless the exception is this tenant's.", callback=known_tenant),
    actor: str | None = ActorOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Replace a parked message by an edited copy that keeps its place in its key's order."""
    if (payload_file is None) == (payload is None):
        err.print("give exactly one of --payload-file or --payload")
        raise typer.Exit(2)
    text = payload if payload is not None else payload_file.read_text()
    try:
        with writing() as conn:
            result = desk.resubmit(
                conn, exception_id, text, actor or os_user(), time.time(), reason, tenant_id=tenant
            )
    except desk.DeskError as exc:
        err.print(f"error: {exc.detail}", markup=False)
        raise typer.Exit(2) from None
    _report(result, as_json)


@app.command()
def resolve(
    ids: list[int] | None = typer.Argument(None, help="Exception ids."),
    reason: str = typer.Option(..., "--reason", help="Why nothing more will happen (required)."),
    tenant: list[str] | None = TenantOpt,
    category: str | None = CategoryOpt,
    kind: str | None = KindOpt,
    connection: str | None = ConnectionOpt,
    all_open: bool = typer.Option(
        False, "--all-open", help="Every open exception (within --tenant if given)."
    ),
    yes: bool = YesOpt,
    actor: str | None = ActorOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Close exceptions without handling their messages; their ordering keys move on."""
    if not reason.strip():
        err.print("--reason must not be empty")
        raise typer.Exit(2)
    flt = _filter(ids, tenant, category, kind, connection)
    _bulk_guard("Resolve", ids, flt, all_open, yes)
    with writing() as conn:
        result = desk.resolve(conn, flt, reason, actor or os_user(), time.time())
    _report(result, as_json, ids)
