"""`crossdock worker`: workers only (no HTTP), for scaling out beside `crossdock serve --no-workers`."""

from __future__ import annotations

import asyncio
import logging
import signal

import typer

from crossdock import bootstrap
from crossdock.cli.serve import loop_factory
from crossdock.config import Settings

log = logging.getLogger("crossdock.worker")


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)


def worker(
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, help="Handlers in flight at once."),
    batch: int | None = typer.Option(None, "--batch", min=1, help="Messages claimed per round trip."),
) -> None:
    """Claim and handle messages until SIGTERM/SIGINT: then stop claiming, finish or release, exit 0."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    hub = bootstrap.build(settings, migrate=True)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(_work(hub, concurrency, batch))


async def _work(hub: bootstrap.Hub, concurrency: int | None, batch: int | None) -> None:
    options = {k: v for k, v in (("concurrency", concurrency), ("batch", batch)) if v is not None}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    w = hub.worker(**options)
    log.info("worker %s started", w.owner)
    scheduler = asyncio.create_task(hub.run_scheduler(stop), name="crossdock-scheduler")
    try:
        await w.run(stop)
        await scheduler
    finally:
        await hub.aclose()
    log.info("worker %s stopped: %s", w.owner, w.stats)
