"""`crossdock serve`: the HTTP intake and API, with workers in the same process by default."""

from __future__ import annotations

import asyncio
import logging
import signal

import typer

from crossdock import bootstrap
from crossdock.config import Settings


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    no_workers: bool = typer.Option(
        False, "--no-workers", help="Intake and API only; run `crossdock worker` apart."
    ),
    workers: int = typer.Option(1, "--workers", min=0, help="Worker loops in this process."),
    log_level: str = typer.Option("info", "--log-level", help="Log level of the server."),
) -> None:
    """Run the HTTP server. Migrates the database first. SIGTERM drains, then exits 0."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    hub = bootstrap.build(settings, migrate=True)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(_serve(hub, host, port, 0 if no_workers else workers, log_level))


async def _serve(hub: bootstrap.Hub, host: str, port: int, workers: int, log_level: str) -> None:
    import uvicorn

    from crossdock.api.app import create_app

    app = create_app(hub, run_workers=workers > 0, workers=workers)
    config = uvicorn.Config(
        app, host=host, port=port, http="httptools", lifespan="on", access_log=False, log_level=log_level
    )
    keep_calm()
    try:
        await uvicorn.Server(config).serve()
    finally:
        await hub.aclose()


def keep_calm() -> None:
    """uvicorn stops gracefully on SIGTERM/SIGINT, then raises the signal again for the
    handler it found: make that handler a no-op so the process exits 0 after draining."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)


def loop_factory():
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
