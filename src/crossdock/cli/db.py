"""`crossdock db`: schema migrations."""

from __future__ import annotations

import typer
from rich.console import Console

from crossdock.config import Settings
from crossdock.store import migrate

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
console = Console()


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or migrate the schema (SQLite by default, or CROSSDOCK_DATABASE_URL)."""
    settings = Settings.from_env()
    migrate.upgrade(settings.database_url, revision)
    console.print(f"schema at [bold]{migrate.current(settings.database_url)}[/]")


@app.command()
def current() -> None:
    """Print the schema revision of the database."""
    settings = Settings.from_env()
    console.print(migrate.current(settings.database_url) or "(empty database)")
