"""`crossdock orders`: orders, and one order's full timeline — every message, attempt,
outcome, lineage record (inbound bodies, outbound requests and responses), exception
and operator action, oldest first."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from crossdock.cli.messages import cells, echo_json, known_tenant, one_of, reading, when
from crossdock.flows.orders.stages import Stage
from crossdock.store import read_models, timeline

app = typer.Typer(help="Orders and their timelines.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="orders")


@app.command("list")
def list_(
    tenant: list[str] | None = typer.Option(None, "--tenant", help="Only this tenant (repeatable).", callback=known_tenant),
    stage: str | None = typer.Option(
        None, "--stage", help="Only orders at this stage.", callback=one_of([s.value for s in Stage])
    ),
    channel: str | None = typer.Option(None, "--channel", help="Only orders of this channel."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List orders, newest first."""
    scope = tuple(tenant) if tenant else None
    with reading() as conn:
        rows, _next = read_models.list_orders(conn, scope, stage=stage, channel=channel, limit=limit)
    if as_json:
        echo_json(rows)
        return
    table = Table("tenant", "order", "channel", "stage", "status", "erp", "created", "updated", "problem")
    for r in rows:
        table.add_row(
            *cells(
                r["tenant_id"],
                r["order_ref"],
                r["channel"],
                r["stage"],
                r["status"],
                r["erp_number"] or r["erp_id"] or "",
                when(r["created_at"]),
                when(r["updated_at"]),
                (r["problem"] or "")[:50],
            )
        )
    Console().print(table)


@app.command()
def show(
    order_ref: str = typer.Argument(..., help="The order ref, e.g. shopify:1001."),
    tenant: str = typer.Option(..., "--tenant", help="The order's tenant.", callback=known_tenant),
    as_json: bool = typer.Option(False, "--json", help="Print JSON, with request and response bodies."),
) -> None:
    """One order: its stage and status, then its timeline."""
    with reading() as conn:
        detail = read_models.order_detail(conn, tenant, order_ref)
        events = timeline.order_timeline(conn, tenant, order_ref)
    if events is None:
        Console(stderr=True).print(f"order {order_ref} of tenant {tenant} not found", markup=False)
        raise typer.Exit(1)
    if as_json:
        echo_json({"order": detail, "timeline": events})
        return
    console = Console()
    if detail:
        head = f"{detail['order_ref']} ({detail['tenant_id']}): stage {detail['stage']}, status {detail['status']}"
        console.print(head, markup=False)
    console.print(_timeline_table(events))


SUMMARY_CHARS = 100


def _timeline_table(events: list[dict]) -> Table:
    cut = any(len(e.get("summary") or "") > SUMMARY_CHARS for e in events)
    caption = f"summaries cut at {SUMMARY_CHARS} characters (…): --json gives them whole" if cut else None
    table = Table("time", "kind / direction", "status / attempt", "summary", title="timeline", caption=caption)
    for e in events:
        summary = e.get("summary") or ""
        shown = summary if len(summary) <= SUMMARY_CHARS else summary[: SUMMARY_CHARS - 1] + "…"
        table.add_row(*cells(when(e["at"]), _what(e), _state(e), shown))
    return table


def _what(e: dict) -> str:
    if e["type"] == "lineage":
        return f"{'← in' if e['direction'] == 'in' else '→ out'} {e.get('connection_id') or ''}".strip()
    if e["type"] in ("message", "outcome"):
        return e["kind"]
    return e["type"]


def _state(e: dict) -> str:
    if e["type"] == "lineage":
        code = e.get("status_code") or e.get("error") or ""
        return f"attempt {e['attempt']} {code}".strip() if e.get("attempt") is not None else str(code)
    if e["type"] in ("message", "outcome"):
        status = e.get("status") or "created"
        return f"{status} ({e['attempts']} attempts)" if e.get("attempts") else status
    return e.get("status") or e.get("action") or ""
