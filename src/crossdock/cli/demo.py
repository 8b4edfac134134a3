"""`crossdock demo`: the hub, the sandbox systems and a traffic generator, with a live view
and a summary counted from the sandbox's own state (see `crossdock.demo`)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)


def demo(
    duration: float = typer.Option(120.0, "--duration", min=1, help="Seconds of traffic."),
    rate: float = typer.Option(
        30.0,
        "--rate",
        min=0.1,
        help="Orders per minute, per channel (Shopify, Amazon), spread over the tenants.",
    ),
    tenants: int = typer.Option(
        1, "--tenants", min=1, max=99, help="Tenants, each with its own Shopify, Amazon, ERP and WMS."
    ),
    seed: int = typer.Option(
        7, "--seed", help="Seed of the catalog, orders, stock and price changes and the warehouse."
    ),
    port: int = typer.Option(8080, "--port", help="The hub's port (the console is at /console)."),
    sandbox_port: int = typer.Option(8090, "--sandbox-port", help="The sandbox systems' port."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open the console in a browser."),
    summary_json: Path | None = typer.Option(None, "--summary-json", help="Write the summary as JSON here."),
    directory: Path = typer.Option(Path("var/demo"), "--dir", help="Database, logs and generated config."),
    keep: bool = typer.Option(
        False, "--keep", help="Keep the previous run's database instead of starting fresh."
    ),
    settle: float = typer.Option(
        90.0, "--settle", min=0, help="At most this many seconds to let work in flight finish."
    ),
) -> None:
    """Run the demo: sandbox Shopify/Amazon/ERP/WMS, the hub on SQLite, orders and faults, then a summary."""
    from rich.console import Console

    from crossdock.demo.runner import DemoError, DemoOptions, run

    console = Console()
    opts = DemoOptions(
        duration=duration, rate=rate, tenants=tenants, seed=seed, port=port, sandbox_port=sandbox_port,
        open_browser=not no_browser, summary_json=summary_json, directory=directory, keep=keep, settle=settle,
    )  # fmt: skip
    try:
        run(opts, console)
    except DemoError as exc:
        console.print(f"[red]demo failed:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
