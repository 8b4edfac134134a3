"""The demo's live terminal view (Rich): order counts, throughput, open exceptions.

`Dashboard.update(counts, exceptions_open, events)` records one sample; `render()` is the
Rich renderable `runner` hands to `rich.live.Live`. Counts come from the sandbox's state
(`summary.counts`), exceptions from the hub's exception desk."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

BLOCKS = " ▁▂▃▄▅▆▇█"
STAGES = (
    ("channel_orders", "orders on the channels", "Shopify + Amazon"),
    ("captured", "captured by the hub", "hub's orders table"),
    ("erp_sales_orders", "posted to the ERP", "ERP sales orders"),
    ("shipments", "shipped by the WMS", "WMS parcels"),
    ("shipment_confirmations", "confirmed to the channel", "fulfillments + confirmShipment"),
    ("invoices", "invoiced", "ERP invoices"),
    ("availability_published", "availability published", "stock updates the channels got"),
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
    started: float = field(default_factory=time.monotonic)
    counts: dict[str, int] = field(default_factory=dict)
    exceptions: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    phase: str = "starting"
    history: dict[str, deque] = field(default_factory=dict)
    _last: dict[str, int] = field(default_factory=dict)

    def update(self, counts: dict[str, int], exceptions: dict[str, int], phase: str) -> None:
        for key, value in counts.items():
            delta = value - self._last.get(key, value)
            self.history.setdefault(key, deque(maxlen=40)).append(max(0, delta))
            self._last[key] = value
        self.counts, self.exceptions, self.phase = counts, exceptions, phase

    def event(self, text: str) -> None:
        self.events.append(f"{time.monotonic() - self.started:5.0f}s  {text}")

    def line(self) -> str:
        """One plain line, for output that is not a terminal."""
        c = self.counts
        exc = ", ".join(f"{k}={v}" for k, v in sorted(self.exceptions.items())) or "none"
        return (
            f"[{time.monotonic() - self.started:4.0f}s {self.phase}] orders {c.get('channel_orders', 0)}"
            f" · captured {c.get('captured', 0)} · posted {c.get('erp_sales_orders', 0)}"
            f" · shipped {c.get('shipments', 0)} · confirmed {c.get('shipment_confirmations', 0)}"
            f" · invoiced {c.get('invoices', 0)} · exceptions open: {exc}"
        )

    def render(self) -> Panel:
        elapsed = time.monotonic() - self.started
        flow = Table(expand=True, box=None, padding=(0, 1))
        flow.add_column("stage")
        flow.add_column("count", justify="right")
        flow.add_column("throughput (per refresh, last 40)")
        flow.add_column("counted from", style="dim")
        for key, label, source in STAGES:
            spark = sparkline(list(self.history.get(key, [])))
            flow.add_row(label, str(self.counts.get(key, 0)), Text(spark, style="green"), source)
        exc = Table(expand=True, box=None, padding=(0, 1))
        exc.add_column("open exceptions (hub)", style="yellow")
        exc.add_column("", justify="right")
        for category, n in sorted(self.exceptions.items(), key=lambda kv: -kv[1]):
            exc.add_row(category, str(n))
        if not self.exceptions:
            exc.add_row(Text("none", style="dim"), "")
        events = Text("\n".join(self.events[-6:]) or "—", style="cyan")
        head = Text.assemble(
            (f"{self.phase}", "bold"),
            f"  {elapsed:.0f}s of {self.duration:.0f}s  ·  console {self.console_url}  ·  login {self.login}",
        )
        return Panel(
            Group(head, flow, exc, Panel(events, title="timeline", border_style="dim")), title=self.title
        )
