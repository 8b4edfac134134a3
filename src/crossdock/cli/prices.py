"""`crossdock prices`: channel prices with their explanation, the changes waiting for approval,
approving or rejecting one (recorded in the audit log with `--by`), and effective-dated prices.

    crossdock prices approvals --tenant acme
    crossdock prices approve 17 --by maria@acme --reason "new season"
    crossdock prices schedule CD-1001 89.00 --tenant acme --from 2026-12-01T00:00Z --until 2026-12-08T00:00Z
"""

from __future__ import annotations

import time

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from crossdock.cli.exceptions import os_user, writing
from crossdock.cli.messages import cells, echo_json, known_tenant, reading, when
from crossdock.configuration.pricing import PriceEntryInput
from crossdock.domain.price_approval import ApprovalStatus
from crossdock.flows import pricing as flow
from crossdock.store import channel_prices as prices_store
from crossdock.store import messages as message_store
from crossdock.store import price_approvals as approvals
from crossdock.store import pricing as store

app = typer.Typer(help="Channel prices and price approvals.", no_args_is_help=True)
err = Console(stderr=True)

JsonOpt = typer.Option(False, "--json", help="Print JSON.")
ByOpt = typer.Option(None, "--by", help="Who decides (recorded in the audit log); default: the OS user.")
ReasonOpt = typer.Option(None, "--reason", help="Why (kept with the decision).")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="prices")


@app.command("list")
def list_(
    tenant: str = typer.Option(..., "--tenant", help="The tenant.", callback=known_tenant),
    item: str | None = typer.Option(None, "--item", help="Only this item, with each step of its price."),
    limit: int = typer.Option(100, "--limit", min=1),
    as_json: bool = JsonOpt,
) -> None:
    """Each channel's price per item: computed, published, confirmed."""
    with reading() as conn:
        rows = prices_store.list_channel_prices(conn, tenant, item=item, limit=limit)
    if as_json:
        echo_json([r.to_dict() for r in rows])
        return
    table = Table("item", "channel", "computed", "published", "confirmed", "state", "entry")
    for r in rows:
        table.add_row(*cells(r.item, r.connection_id, f"{r.computed} {r.currency}", r.published, r.confirmed,
                             r.publish_state, r.explanation.get("entry")))  # fmt: skip
    console = Console()
    console.print(table)
    for r in rows if item else ():
        steps = Table("step", "value", "total", "rule", title=f"{r.connection_id}: {r.computed} {r.currency}")
        for s in r.explanation["explanation"]:
            steps.add_row(*cells(s["step"], s["value"], s["total"], s["rule"]))
        console.print(steps)


@app.command("approvals")
def list_approvals(
    tenant: list[str] | None = typer.Option(None, "--tenant", help="Only this tenant (repeatable).", callback=known_tenant),
    status: str = typer.Option("pending", "--status", help="pending, approved, rejected, superseded or any."),
    limit: int = typer.Option(100, "--limit", min=1),
    as_json: bool = JsonOpt,
) -> None:
    """Price changes over a channel's threshold, newest first."""
    if status != "any" and status not in {s.value for s in ApprovalStatus}:
        err.print(f"unknown status {status!r}", markup=False)
        raise typer.Exit(2)
    with reading() as conn:
        found = approvals.list_approvals(
            conn, tuple(tenant) if tenant else None, status=None if status == "any" else status, limit=limit
        )
    if as_json:
        echo_json([a.to_dict() for a in found])
        return
    table = Table(
        "id", "tenant", "item", "channel", "now", "new", "change %", "status", "asked", "decided by"
    )
    for a in found:
        table.add_row(*cells(a.id, a.tenant_id, a.item, a.connection_id, a.old_price, f"{a.new_price} {a.currency}",
                             a.change_percent, a.status.value, when(a.requested_at), a.decided_by))  # fmt: skip
    Console().print(table)


def _decide(approval_id: int, approve: bool, by: str | None, reason: str | None, tenant: str | None) -> None:
    act = flow.approve if approve else flow.reject
    try:
        with writing() as conn:
            done = act(conn, approval_id, by or os_user(), time.time(), reason, (tenant,) if tenant else None)
    except approvals.ApprovalNotFound as exc:
        err.print(exc.detail, markup=False)
        raise typer.Exit(1) from None
    except approvals.NotPending as exc:
        err.print(exc.detail, markup=False)
        raise typer.Exit(3) from None
    verb = "approved: the price goes to the channel" if approve else "rejected: the channel keeps its price"
    typer.echo(f"price approval {done.id} ({done.item} on {done.connection_id}: {done.new_price} {done.currency}) "
               f"{verb}; decided by {done.decided_by}")  # fmt: skip


@app.command()
def approve(
    approval_id: int = typer.Argument(..., help="The approval's id (`crossdock prices approvals`)."),
    by: str | None = ByOpt,
    reason: str | None = ReasonOpt,
    tenant: str | None = typer.Option(None, "--tenant", help="Refuse unless the approval is this tenant's.", callback=known_tenant),
) -> None:
    """Approve a pending price change: it is published to the channel."""
    _decide(approval_id, True, by, reason, tenant)


@app.command()
def reject(
    approval_id: int = typer.Argument(..., help="The approval's id (`crossdock prices approvals`)."),
    by: str | None = ByOpt,
    reason: str | None = ReasonOpt,
    tenant: str | None = typer.Option(None, "--tenant", help="Refuse unless the approval is this tenant's.", callback=known_tenant),
) -> None:
    """Reject a pending price change: the channel keeps its price."""
    _decide(approval_id, False, by, reason, tenant)


@app.command()
def schedule(
    item: str = typer.Argument(..., help="The item."),
    price: str = typer.Argument(..., help="The price in the base currency, replacing the base price."),
    tenant: str = typer.Option(..., "--tenant", callback=known_tenant),
    starts: str = typer.Option(..., "--from", help="ISO 8601 (UTC without an offset)."),
    ends: str | None = typer.Option(None, "--until", help="ISO 8601; absent: open-ended."),
    channel: str | None = typer.Option(None, "--channel", help="Only this channel connection."),
    ref: str | None = typer.Option(None, "--ref", help="Its name (the same ref replaces it)."),
    by: str | None = typer.Option(None, "--by", help="Who sets it; default: the OS user."),
) -> None:
    """Set an effective-dated price: it publishes at its start and reverts at its end."""
    given = {"item": item, "price": price, "starts_at": starts, "ends_at": ends, "connection_id": channel}
    try:
        entry = PriceEntryInput.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        err.print(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()), markup=False
        )
        raise typer.Exit(2) from None
    # The default ref names the channel too: a channel's entry must not replace the same
    # item's entry for every channel starting at the same time.
    name = ref or "-".join(["e", item, *([channel] if channel else []), str(int(entry.starts_at.timestamp()))])
    plain = {**entry.model_dump(mode="json"), "ref": name}
    _queue(flow.entries_message(tenant, by or os_user(), set_=[plain]), channel=channel)
    typer.echo(f"price entry {name}: {item} at {price} from {entry.starts_at.isoformat()}"
               f"{' until ' + entry.ends_at.isoformat() if entry.ends_at else ''}")  # fmt: skip


@app.command()
def cancel(
    ref: str = typer.Argument(..., help="The entry's ref."),
    tenant: str = typer.Option(..., "--tenant", callback=known_tenant),
    by: str | None = typer.Option(None, "--by", help="Who cancels it; default: the OS user."),
) -> None:
    """Cancel an effective-dated price: its items revert at once."""
    _queue(flow.entries_message(tenant, by or os_user(), cancel=[ref]), live_ref=ref)
    typer.echo(f"price entry {ref} cancelled")


def _queue(new, channel: str | None = None, live_ref: str | None = None) -> None:
    """Queue a change after the checks the API makes too: the tenant, the channel it names,
    the entry it cancels."""
    with writing() as conn:
        connections = store.tenant_connections(conn, new.tenant_id)
        if connections is None:
            err.print(f"no tenant {new.tenant_id!r}", markup=False)
            raise typer.Exit(1)
        if channel is not None and channel not in connections:
            known = ", ".join(sorted(connections)) or "none"
            err.print(f"tenant {new.tenant_id} has no connection {channel!r} (it has: {known})", markup=False)
            raise typer.Exit(1)
        if live_ref is not None and not store.live_entries(conn, new.tenant_id, [live_ref]):
            err.print(f"tenant {new.tenant_id} has no price entry {live_ref!r} (or it is cancelled)", markup=False)
            raise typer.Exit(1)
        message_store.insert(conn, [new], time.time())
