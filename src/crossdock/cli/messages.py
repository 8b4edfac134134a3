"""`crossdock messages`: look at messages, one at a time with their lineage and exception."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError, NoSuchModuleError

from crossdock.config import Settings
from crossdock.records import Status
from crossdock.store import queries, read_models
from crossdock.store.db import make_engine

app = typer.Typer(help="Messages: every step of every flow.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="messages")


def configured_engine() -> Engine:
    """The engine of `CROSSDOCK_DATABASE_URL`; a URL it cannot use exits 2, saying so."""
    url = Settings.from_env().database_url
    try:
        return make_engine(url)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        Console(stderr=True).print(
            f"CROSSDOCK_DATABASE_URL is not a database URL Crossdock can use ({exc}); "
            "give sqlite:///PATH or postgresql://USER@HOST:PORT/DB",
            markup=False,
        )
        raise typer.Exit(2) from None


def known_tenant(value: str | list[str] | None) -> str | list[str] | None:
    """A `--tenant` option's check: a tenant no one applied is an error, not an empty answer
    (a misspelt tenant listed nothing, as if it had nothing)."""
    given = [value] if isinstance(value, str) else list(value or [])
    if not given:
        return value
    engine = configured_engine()
    try:
        with database_errors("read the database"), engine.connect() as conn:
            unknown = read_models.unknown_tenants(conn, given)
    finally:
        engine.dispose()
    if unknown:
        raise typer.BadParameter(f"no tenant {', '.join(map(repr, unknown))} (see `crossdock apply`)")
    return value


@contextlib.contextmanager
def database_errors(doing: str) -> Iterator[None]:
    """Database failures as one line and an exit status, not a traceback: a value no column
    can hold (an id beyond 64 bits, a text with NUL) exits 2; anything else the database
    refuses (no schema, no server) exits 1."""
    try:
        yield
    except (OverflowError, DataError) as exc:
        Console(stderr=True).print(
            f"cannot {doing}: a value the database cannot hold (an id beyond 64 bits, a text with NUL)"
            f" [{type(exc).__name__}]",
            markup=False,
        )
        raise typer.Exit(2) from None
    except DBAPIError as exc:
        Console(stderr=True).print(
            f"cannot {doing} ({str(exc.orig).strip()}); is the schema there? (crossdock db upgrade)", markup=False
        )
        raise typer.Exit(1) from None


@contextlib.contextmanager
def reading() -> Iterator[Connection]:
    """A read-only transaction on the configured database; failures are clear errors."""
    engine = configured_engine()
    try:
        with (
            database_errors("read the database"),
            engine.connect().execution_options(readonly=True) as conn,
            conn.begin(),
        ):
            yield conn
    finally:
        engine.dispose()


def when(ts: float | None) -> str:
    return "" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def cells(*values) -> list[Text]:
    """Table cells shown as written: stored text is never read as Rich markup."""
    return [Text("" if v is None else str(v)) for v in values]


def echo_json(value) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def one_of(values: list[str]):
    """An option's callback refusing a value outside `values` (a misspelt filter would list nothing)."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in values:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(values)}")
        return value

    return check


@app.command("list")
def list_(
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant.", callback=known_tenant),
    stream: str | None = typer.Option(None, "--stream", help="Only this stream (order, inventory, ...)."),
    kind: str | None = typer.Option(None, "--kind", help="Only this message kind."),
    status: str | None = typer.Option(
        None, "--status", help="Only messages in this status.", callback=one_of([s.value for s in Status])
    ),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List messages, newest first."""
    with reading() as conn:
        rows = queries.list_messages(
            conn, tenant_id=tenant, stream=stream, kind=kind, status=status, limit=limit
        )
    if as_json:
        echo_json(rows)
        return
    table = Table("id", "tenant", "kind", "status", "attempts", "ordering key", "created", "last error")
    for r in rows:
        table.add_row(
            *cells(
                r["id"],
                r["tenant_id"],
                r["kind"],
                r["status"],
                str(r["attempts"]),
                r["ordering_key"] or "",
                when(r["created_at"]),
                (r["last_error"] or "")[:60],
            )
        )
    Console().print(table)


@app.command()
def show(
    message_id: int = typer.Argument(..., help="The message id."),
    tenant: str | None = typer.Option(None, "--tenant", help="Only if it belongs to this tenant.", callback=known_tenant),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One message: its fields, payload, lineage and exception with the actions taken."""
    with reading() as conn:
        detail = queries.message_detail(conn, message_id, tenant)
    if detail is None:
        Console(stderr=True).print(f"message {message_id} not found")
        raise typer.Exit(1)
    if as_json:
        echo_json(detail)
        return
    _print_detail(Console(), detail)


def _print_detail(console: Console, d: dict) -> None:
    fields = Table.grid(padding=(0, 2))
    for name in (
        "id",
        "tenant_id",
        "stream",
        "kind",
        "status",
        "idempotency_key",
        "ordering_key",
        "correlation_id",
        "causation_id",
        "attempts",
        "resubmitted_from",
        "resubmitted_as",
        "last_error",
    ):
        fields.add_row(f"[bold]{name}[/]", *cells(d[name]))
    fields.add_row("[bold]created[/]", when(d["created_at"]))
    console.print(fields)
    console.print_json(json.dumps(d["payload"], default=str))
    if d["lineage"]:
        trail = Table("at", "dir", "method", "url", "status", "ms", "error", title="lineage")
        for r in d["lineage"]:
            trail.add_row(
                *cells(
                    when(r["created_at"]),
                    r["direction"],
                    r["method"] or "",
                    r["url"] or "",
                    str(r["status_code"] or ""),
                    f"{r['duration_ms'] or 0:.0f}",
                    r["error"] or "",
                )
            )
        console.print(trail)
    for e in d["exceptions"]:
        head = escape(f"[{e['status']}] {e['category']}: {e['summary']}")
        console.print(f"[red]exception {e['id']}[/] {head}")
        if e["hint"]:
            console.print(f"  hint: {escape(e['hint'])}")
        for a in e["actions"]:
            console.print(escape(f"  {when(a['at'])} {a['action']} by {a['actor']}: {a['reason'] or ''}"))
