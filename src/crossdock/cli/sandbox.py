"""`crossdock sandbox`: run the simulated external systems (Shopify, Amazon, ERP, WMS)."""

from __future__ import annotations

import typer


def register(root: typer.Typer) -> None:
    root.command("sandbox")(sandbox)


def sandbox(
    port: int = typer.Option(8090, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    hub: str = typer.Option(
        "http://127.0.0.1:8000", "--hub", help="Base URL of the hub; webhooks go to {hub}/hooks/..."
    ),
    seed: int = typer.Option(0, help="Seed for catalog, orders and warehouse behaviour."),
    speed: float = typer.Option(
        1.0, help="Multiply Amazon's documented rate limits (and shrink its 2-minute lag)."
    ),
    retry_factor: float = typer.Option(1.0, help="Multiply Shopify's 4-hour webhook retry schedule."),
    wms_delay: float = typer.Option(2.0, help="Seconds between a release's warehouse events."),
    short_picks: float = typer.Option(0.0, help="Probability that a release line is picked short."),
    partial_shipments: float = typer.Option(0.0, help="Probability that a release ships in two parcels."),
    shopify_per_minute: float = typer.Option(0.0, help="Generate Shopify orders at this rate."),
    amazon_per_minute: float = typer.Option(0.0, help="Generate Amazon orders at this rate."),
    tenant: list[str] = typer.Option(
        [], "--tenant", help="Also serve this tenant's own systems under /t/{tenant} (repeatable)."
    ),
    wms_stock: bool = typer.Option(
        False, "--wms-stock", help="The WMS keeps stock per item and location and sends inventory events."
    ),
    shopify_plan: str = typer.Option(
        "standard", help="The Shopify store's plan, for its GraphQL cost limit: standard (100 points/s), "
        "advanced (200), plus (1000) or enterprise (2000).",
    ),
) -> None:
    """Serve the sandbox until interrupted; `GET /_sandbox/state` shows what each system holds."""
    from aiohttp import web
    from rich.console import Console
    from rich.table import Table

    from crossdock.sandbox.app import SANDBOX, create_sandbox_app
    from crossdock.sandbox.state import SHOPIFY_PLANS, SandboxConfig, ShopifyStoreConfig, WmsConfig

    if shopify_plan not in SHOPIFY_PLANS:
        raise typer.BadParameter(f"one of {', '.join(SHOPIFY_PLANS)}", param_hint="--shopify-plan")
    config = SandboxConfig(
        shopify=ShopifyStoreConfig.on_plan(shopify_plan),
        hub_url=hub,
        seed=seed,
        speed=speed,
        webhook_retry_factor=retry_factor,
        wms=WmsConfig(
            event_delay_s=wms_delay,
            short_pick_probability=short_picks,
            partial_shipment_probability=partial_shipments,
            stock=wms_stock,
        ),
    )
    try:
        app = create_sandbox_app(config, tenants=tuple(tenant))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tenant") from None
    rates = {k: v for k, v in (("shopify", shopify_per_minute), ("amazon", amazon_per_minute)) if v > 0}

    async def start_traffic(app: web.Application) -> None:
        app[SANDBOX].traffic.set_rates(rates)

    if rates:
        app.on_startup.append(start_traffic)

    base = f"http://{host}:{port}"
    table = Table(title=f"Crossdock sandbox on {base} → hub {hub} (seed {seed})")
    table.add_column("system")
    table.add_column("endpoint and credentials")
    for system, wiring in app[SANDBOX].wiring(base).items():
        if isinstance(wiring, dict):
            table.add_row(system, "\n".join(f"{k}: {v}" for k, v in wiring.items()))
    table.add_row(
        "control", f"{base}/_sandbox/state · /_sandbox/faults · /_sandbox/reset · /_sandbox/traffic"
    )
    Console().print(table)
    web.run_app(app, host=host, port=port, print=None, shutdown_timeout=2.0)
