"""`crossdock secrets rotate`: a new secret key, and every sealed secret re-encrypted with it.

With the key file (`<var_dir>/secret.key`, the embedded default) one command does both.
With `CROSSDOCK_SECRET_KEY` this process cannot change the environment of the others:
re-encrypting right away would leave every running process unable to open its secrets.
So rotation takes two steps there: `rotate` prints the new ring to set everywhere, then
`rotate --reencrypt` (once every process runs with it) re-encrypts with its newest key.
"""

from __future__ import annotations

import typer
from rich.console import Console

from crossdock.cli.apply import os_user
from crossdock.config import Settings
from crossdock.configuration.secrets import SecretBox, SecretError, new_key, prepend_key
from crossdock.store import audit, migrate
from crossdock.store.configuration import rotate_secrets
from crossdock.store.db import make_engine

app = typer.Typer(help="Secrets sealed in the database (Fernet key ring).", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="secrets")


@app.command()
def rotate(
    reencrypt: bool = typer.Option(
        False, "--reencrypt", help="No new key: re-encrypt everything with the ring's newest key."
    ),
    actor: str | None = typer.Option(None, "--actor", help="Who rotates (audit log); default: OS user."),
) -> None:
    """Add a new key (newest first) and re-encrypt every sealed secret with it."""
    console = Console()
    settings = Settings.from_env()
    box = SecretBox.from_settings(settings)
    actor = actor or os_user()
    if box.source == "env" and not reencrypt:
        _print_new_env_ring(console, box)
        raise typer.Exit(0)
    if not reencrypt and box.key_file is not None:
        box = SecretBox(prepend_key(box.key_file, new_key()), key_file=box.key_file, source="file")
        console.print(f"new key added to {box.key_file} ({len(box.keys)} key(s) in the ring)")
    migrate.upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        counts = rotate_secrets(engine, box)
        details = {"key_source": box.source, "new_key": not reencrypt, "keys": len(box.keys), "rows": counts}
        with engine.begin() as conn:
            audit.append(conn, actor, "secrets.rotate", details=details)
    except SecretError as exc:
        Console(stderr=True).print(f"error: {exc.detail}. {exc.hint}", markup=False)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    console.print(f"re-encrypted with the newest key: {counts}")


def _print_new_env_ring(console: Console, box: SecretBox) -> None:
    ring = ",".join([new_key(), *box.keys])
    console.print("The key ring comes from CROSSDOCK_SECRET_KEY. Set it, for every Crossdock process, to:")
    typer.echo(f"CROSSDOCK_SECRET_KEY={ring}")
    console.print("then run `crossdock secrets rotate --reencrypt`. Older keys can be dropped after that.")
