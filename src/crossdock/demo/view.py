"""The demo's live terminal view (Rich): the order flow's stages with their throughput,
one row per tenant, open exceptions and a timeline.

`Dashboard.update(per_tenant_counts, per_tenant_exceptions, phase)` records one sample
(about one a second); `render()` is the Rich renderable `runner` hands to
`rich.live.Live`, `line()` one plain line for output that is not a terminal. Counts come
from the sandbox's state (`summary.counts`, per tenant), except `captured` and the
exceptions, which are the hub's own records."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

BLOCKS = " ▁▂▃▄▅▆▇█"
HISTORY = 40  # samples kept for the sparklines (one per refresh, about a second apart)
STAGES = (
    ("channel_orders", "orders on the channels", "Shopify + Amazon"),
    ("captured", "captured by the hub", "hub's orders table"),
    ("erp_sales_orders", "posted to the ERP", "ERP sales orders"),
    ("shipments", "shipped by the WMS", "WMS parcels"),
    ("shipment_confirmations", "confirmed to the channel", "fulfillments + confirmShipment"),
    ("invoices", "invoiced", "ERP invoices"),
    ("stock_events", "stock changes sent to the hub", "WMS inventory events"),
    ("availability_published", "availability published", "stock updates the channels got"),
    ("erp_price_changes", "ERP list price changes", "ERP price list"),
)
TENANT_COLUMNS = (
    ("channel_orders", "orders"),
    ("captured", "captured"),
    ("erp_sales_orders", "posted"),
    ("shipments", "shipped"),
    ("shipment_confirmations", "confirmed"),
    ("invoices", "invoiced"),
    ("availability_published", "avail."),
)


def sparkline(values: list[float]) -> str:
    top = max(values, default=0) or 1
    return "".join(BLOCKS[min(len(BLOCKS) - 1, round(v / top * (len(BLOCKS) - 1)))] for v in values)


@dataclass
class Dashboard:
    title: str
    duration: float
    console_url: str
    login: str
    tenants: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    counts: dict[str, int] = field(default_factory=dict)  # over all tenants
    per_tenant: dict[str, dict[str, int]] = field(default_factory=dict)
    exceptions: dict[str, dict[str, int]] = field(default_factory=dict)  # tenant → category → n
    events: list[str] = field(default_factory=list)
    phase: str = "starting"
    history: dict[str, deque] = field(default_factory=dict)
    _last: dict[str, int] = field(default_factory=dict)

    def update(
        self, per_tenant: dict[str, dict[str, int]], exceptions: dict[str, dict[str, int]], phase: str
    ) -> None:
        totals: dict[str, int] = {}
        for counts in per_tenant.values():
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
        for key, value in totals.items():
            delta = value - self._last.get(key, value)
            self.history.setdefault(key, deque(maxlen=HISTORY)).append(max(0, delta))
            self._last[key] = value
        self.counts, self.per_tenant, self.exceptions, self.phase = totals, per_tenant, exceptions, phase

    def event(self, text: str) -> None:
        self.events.append(f"{time.monotonic() - self.started:5.0f}s  {text}")

    def exceptions_total(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for by_category in self.exceptions.values():
            for category, n in by_category.items():
                out[category] = out.get(category, 0) + n
        return out

    def line(self) -> str:
        """One plain line, for output that is not a terminal."""
        c = self.counts
        exc = ", ".join(f"{k}={v}" for k, v in sorted(self.exceptions_total().items())) or "none"
        text = (
            f"[{time.monotonic() - self.started:4.0f}s {self.phase}] orders {c.get('channel_orders', 0)}"
            f" · captured {c.get('captured', 0)} · posted {c.get('erp_sales_orders', 0)}"
            f" · shipped {c.get('shipments', 0)} · confirmed {c.get('shipment_confirmations', 0)}"
            f" · invoiced {c.get('invoices', 0)} · stock events {c.get('stock_events', 0)}"
            f" · availability published {c.get('availability_published', 0)} · exceptions open: {exc}"
        )
        if len(self.per_tenant) > 1:
            text += " | " + " · ".join(
                f"{t}: {n.get('channel_orders', 0)} orders, {n.get('shipment_confirmations', 0)} confirmed"
                for t, n in self.per_tenant.items()
            )
        return text

    def _flow(self) -> Table:
        flow = Table(expand=True, box=None, padding=(0, 1), title_justify="left")
        flow.add_column("stage (all tenants)")
        flow.add_column("count", justify="right")
        flow.add_column("last 10 s", justify="right")
        flow.add_column("throughput (a bar ≈ 1 s)", width=HISTORY, no_wrap=True)
        flow.add_column("counted from", style="dim")
        for key, label, source in STAGES:
            recent = list(self.history.get(key, []))
            flow.add_row(
                label,
                str(self.counts.get(key, 0)),
                f"+{sum(recent[-10:])}",
                Text(sparkline(recent), style="green"),
                source,
            )
        return flow

    def _tenants(self) -> Table:
        table = Table(expand=True, box=None, padding=(0, 1))
        table.add_column("tenant", style="bold")
        for _, label in TENANT_COLUMNS:
            table.add_column(label, justify="right")
        table.add_column("exceptions open", justify="right", style="yellow")
        for tenant in self.tenants or list(self.per_tenant):
            counts = self.per_tenant.get(tenant, {})
            open_n = sum(self.exceptions.get(tenant, {}).values())
            table.add_row(tenant, *(str(counts.get(key, 0)) for key, _ in TENANT_COLUMNS), str(open_n))
        return table

    def _exceptions(self) -> Table:
        exc = Table(expand=True, box=None, padding=(0, 1))
        exc.add_column("open exceptions (hub)", style="yellow")
        exc.add_column("", justify="right")
        multi = len(self.exceptions) > 1
        if multi:
            exc.add_column("by tenant", style="dim")
        for category, n in sorted(self.exceptions_total().items(), key=lambda kv: (-kv[1], kv[0])):
            row = [category, str(n)]
            if multi:
                row.append(
                    " · ".join(f"{t} {e[category]}" for t, e in self.exceptions.items() if e.get(category))
                )
            exc.add_row(*row)
        if not self.exceptions_total():
            exc.add_row(Text("none", style="dim"), "", *([""] if multi else []))
        return exc

    def render(self) -> Panel:
        elapsed = time.monotonic() - self.started
        head = Text.assemble(
            (f"{self.phase}", "bold"),
            f"  {elapsed:.0f}s of {self.duration:.0f}s  ·  console {self.console_url}  ·  login {self.login}",
        )
        parts: list = [head, self._flow()]
        if len(self.tenants) > 1:
            parts.append(Panel(self._tenants(), title="per tenant", border_style="dim"))
        parts.append(self._exceptions())
        parts.append(
            Panel(
                Text("\n".join(self.events[-6:]) or "—", style="cyan"), title="timeline", border_style="dim"
            )
        )
        return Panel(Group(*parts), title=self.title)
