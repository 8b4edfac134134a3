"""The `crossdock` command. Each command group lives in its own module and only translates:
parse options → call the composition root → print (Rich) or `--json`."""

from __future__ import annotations

import typer

from crossdock.cli import db as _db

app = typer.Typer(
    name="crossdock",
    help="Crossdock integration hub: orders, stock, prices, catalog, shipments and returns kept in step.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(_db.app, name="db")


def _register() -> None:
    """Command groups register themselves here; imports stay inside so a missing optional
    dependency of one group never breaks the others."""
    from crossdock.cli import commands

    commands.register(app)


_register()
