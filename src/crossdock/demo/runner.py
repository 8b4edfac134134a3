"""Orchestration of `crossdock demo`.

1. A fresh demo directory (`var/demo/` unless `--keep`): SQLite database, secret key, logs.
2. `crossdock sandbox --wms-stock` as a child process, pointed at the hub's port, serving
   one Shopify store, Amazon account, ERP and WMS per tenant (`--tenants`; the first
   tenant's at the root, the others' under `/t/{tenant}`).
3. Per tenant, the marketplace account for Amazon orders created in its sandbox ERP; the
   tenants' configuration (`config.py`) written to `var/demo/crossdock.yaml`;
   `crossdock db upgrade`, `crossdock apply -f` and `crossdock users create demo` run as
   the operator would.
4. `crossdock serve` as a child process (its workers in it); waits for `/readyz`. Each
   tenant's WMS sends its stock (`inventory.snapshot`), and the demo waits until the hub
   holds it, so the first orders find stock to reserve.
5. Traffic through `POST /_sandbox/traffic` for `--duration` seconds: `--rate` orders per
   minute per channel, stock changes (receipts, write-offs) and ERP price changes, every
   event given to a tenant drawn from the seed; a scheduled script of faults through each
   tenant's `/_sandbox/faults` (429 bursts on Shopify and the ERP of every tenant, an ERP
   outage at the first tenant only) and one order of the SKU left unmapped per tenant;
   the live view (`view.py`) meanwhile.
6. Traffic stopped, faults cleared, a bounded wait for in-flight work to settle, then the
   summary (`summary.py`, per tenant and in total) printed and written to
   `--summary-json`; children stopped.

`--seed` and `--rate` reproduce a run's orders (lines, quantities, customers), which
tenant gets each, the stock changes, the price changes and the warehouse's decisions;
what the hub's timing decides (ids, the interleaving with faults) may differ.

The children run in their own session so Ctrl-C reaches the demo only: the first Ctrl-C
ends the traffic and goes to the summary, a second one skips the settling wait. They get
SIGTERM if the demo process dies (Linux `PR_SET_PDEATHSIG`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from crossdock.demo import config as democonfig
from crossdock.demo import summary as demosummary
from crossdock.demo.view import Dashboard

# The sandbox's speed-ups: Amazon's rates ×100 (its 2-minute listing lag → 1.2 s), Shopify's
# 4-hour webhook retry schedule → ~7 s, and a warehouse that moves a release every 0.5 s.
SPEED = 100.0
RETRY_FACTOR = 0.0005
WMS_DELAY = 0.5
DEMO_USER = "demo"
STOCK_CHANGES_PER_MINUTE = 12.0  # warehouse receipts and write-offs, spread over the tenants
PRICE_CHANGES_PER_MINUTE = 6.0  # ERP list price changes, spread over the tenants


class DemoError(Exception):
    """The demo could not start (a child exited, a port is taken, a step failed)."""


@dataclass
class DemoOptions:
    duration: float = 120.0
    rate: float = 30.0
    tenants: int = 1
    seed: int = 7
    port: int = 8080
    sandbox_port: int = 8090
    host: str = "127.0.0.1"
    open_browser: bool = True
    summary_json: Path | None = None
    directory: Path = Path("var/demo")
    keep: bool = False
    settle: float = 90.0
    live: bool | None = None  # None: when the output is a terminal


def crossdock_command() -> list[str]:
    """The `crossdock` of this interpreter's environment."""
    script = Path(sys.executable).with_name("crossdock")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from crossdock.cli import app; app()"]


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class Demo:
    opts: DemoOptions
    console: Console = field(default_factory=Console)
    children: list[Child] = field(default_factory=list)
    stop_requested: int = 0
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(9))
    unmapped: tuple[str, ...] = (democonfig.UNMAPPED_SKU,)
    faults_seen: dict[str, dict[str, Any]] = field(default_factory=dict)  # tenant → faults

    def __post_init__(self) -> None:
        self.tenants = democonfig.demo_tenants(self.opts.tenants)
        self.dir = self.opts.directory.resolve()
        self.hub = f"http://{self.opts.host}:{self.opts.port}"
        self.sandbox = f"http://{self.opts.host}:{self.opts.sandbox_port}"
        self.env = {
            **os.environ,
            "CROSSDOCK_DATABASE_URL": f"sqlite:///{self.dir / 'crossdock.db'}",
            "CROSSDOCK_VAR_DIR": str(self.dir),
            "CROSSDOCK_LEASE_SECONDS": os.environ.get("CROSSDOCK_LEASE_SECONDS", "10"),
        }
        self.env.pop("CROSSDOCK_CRASH_POINT", None)
        self.http = httpx.AsyncClient(timeout=30)
        self._engine: Any = None

    # -- children -------------------------------------------------------------------------------

    def spawn(self, name: str, args: list[str]) -> Child:
        log = self.dir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [*crossdock_command(), *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads yet that matter
            )
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def run_cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*crossdock_command(), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if done.returncode != 0:
            raise DemoError(
                f"crossdock {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    async def ready(self, child: Child, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await self.http.get(url, timeout=2)).status_code == 200:
                    return
            if not child.alive():
                raise DemoError(
                    f"{child.name} exited during start ({child.proc.returncode}):\n{child.tail()}"
                )
            await asyncio.sleep(0.1)
        raise DemoError(f"{child.name} did not answer {url} within {timeout:.0f}s; log: {child.log}")

    def stop_children(self) -> None:
        for child in reversed(self.children):
            child.stop()

    # -- the sandbox and the hub ---------------------------------------------------------------------

    async def sandbox_post(self, path: str, body: Any) -> Any:
        answer = await self.http.post(f"{self.sandbox}{path}", json=body)
        if answer.status_code >= 300:
            raise DemoError(f"POST {path} → {answer.status_code}: {answer.text[:300]}")
        return answer.json() if answer.content else None

    async def state(self, tenant: democonfig.DemoTenant) -> dict[str, Any]:
        answer = await self.http.get(f"{self.sandbox}{tenant.prefix}/_sandbox/state", timeout=30)
        answer.raise_for_status()
        return answer.json()

    async def states(self) -> dict[str, dict[str, Any]]:
        """Every tenant's sandbox state, by tenant id."""
        found = await asyncio.gather(*(self.state(t) for t in self.tenants))
        return {t.id: state for t, state in zip(self.tenants, found, strict=True)}

    def engine(self) -> Any:
        if self._engine is None:
            from crossdock.store.db import make_engine

            self._engine = make_engine(self.env["CROSSDOCK_DATABASE_URL"], pool_size=1)
        return self._engine

    def hub_counts(self) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        """Per tenant: (orders the hub captured, open exceptions by category), the hub's own records."""
        from sqlalchemy import func, select

        from crossdock.store import tables

        ex, orders = tables.exceptions, tables.orders
        with self.engine().connect() as conn:
            captured = conn.execute(
                select(orders.c.tenant_id, func.count()).group_by(orders.c.tenant_id)
            ).all()
            rows = conn.execute(
                select(ex.c.tenant_id, ex.c.category, func.count())
                .where(ex.c.status == "open")
                .group_by(ex.c.tenant_id, ex.c.category)
            ).all()
        exceptions: dict[str, dict[str, int]] = {t.id: {} for t in self.tenants}
        for tenant, category, n in rows:
            exceptions.setdefault(str(tenant), {})[str(category)] = int(n)
        return {str(t): int(n) for t, n in captured}, exceptions

    def hub_positions(self) -> dict[str, int]:
        """Stock positions the hub holds, per tenant."""
        from sqlalchemy import func, select

        from crossdock.store import tables

        t = tables.inventory_positions
        with self.engine().connect() as conn:
            rows = conn.execute(select(t.c.tenant_id, func.count()).group_by(t.c.tenant_id)).all()
        return {str(tenant): int(n) for tenant, n in rows}

    async def setup(self) -> None:
        o = self.opts
        if not o.keep and self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        for name, port in (("hub", o.port), ("sandbox", o.sandbox_port)):
            if not port_free(o.host, port):
                raise DemoError(
                    f"port {port} ({name}) is in use; pick another with --{'port' if name == 'hub' else 'sandbox-port'}"
                )
        names = ", ".join(t.id for t in self.tenants)
        self.console.print(f"[bold]Crossdock demo[/] in {self.dir} (seed {o.seed}; tenants {names})")
        extra = [arg for t in self.tenants[1:] for arg in ("--tenant", t.id)]
        sandbox = self.spawn("sandbox", [
            "sandbox", "--host", o.host, "--port", str(o.sandbox_port), "--hub", self.hub, "--seed", str(o.seed),
            "--speed", str(SPEED), "--retry-factor", str(RETRY_FACTOR), "--wms-delay", str(WMS_DELAY),
            "--wms-stock", *extra,
        ])  # fmt: skip
        await self.ready(sandbox, f"{self.sandbox}/_sandbox/config")
        self.console.print(
            f"  sandbox systems on {self.sandbox} (Shopify, Amazon, ERP, WMS"
            + (f"; per tenant under {self.sandbox}/t/<tenant>)" if len(self.tenants) > 1 else ")")
        )
        customers = {t.id: await self._marketplace_customer(t) for t in self.tenants}
        doc = democonfig.demo_config(
            self.sandbox, self.tenants, customers, unmapped=self.unmapped, speed=SPEED
        )
        path = democonfig.write(
            self.dir / "crossdock.yaml", doc, sandbox_url=self.sandbox, unmapped=self.unmapped
        )
        await asyncio.to_thread(self.run_cli, "db", "upgrade")
        await asyncio.to_thread(self.run_cli, "apply", "-f", str(path), "--actor", "crossdock-demo")
        self.console.print(
            f"  configuration applied: {path} (SKU {', '.join(self.unmapped)} left unmapped on purpose)"
        )
        await asyncio.to_thread(
            self.run_cli, "users", "create", DEMO_USER, "--role", "partner_operator", "--all-tenants",
            "--password-stdin", "--actor", "crossdock-demo", stdin=self.password + "\n",
        )  # fmt: skip
        hub = self.spawn("hub", ["serve", "--host", o.host, "--port", str(o.port), "--log-level", "warning"])
        await self.ready(hub, f"{self.hub}/readyz")
        self.console.print(
            f"  hub on {self.hub} · console [bold]{self.hub}/console[/] · login [bold]{DEMO_USER}[/] / [bold]{self.password}[/]"
        )
        await self.send_stock(hub)

    async def send_stock(self, hub: Child, timeout: float = 60.0) -> None:
        """Each tenant's WMS sends its stock; wait until the hub holds every tenant's, so the
        first orders find stock to reserve."""
        sent = 0
        for t in self.tenants:
            sent += (await self.sandbox_post(f"{t.prefix}/wms/_sandbox/stock/snapshot", {}))["snapshots"]
        await self.http.post(
            f"{self.sandbox}/_sandbox/drain", params={"timeout": timeout}, timeout=timeout + 5
        )
        deadline = time.monotonic() + timeout
        while True:
            held = await asyncio.to_thread(self.hub_positions)
            missing = [t.id for t in self.tenants if not held.get(t.id)]
            if not missing:
                break
            if not hub.alive():
                raise DemoError(f"hub exited ({hub.proc.returncode}):\n{hub.tail()}")
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the hub holds no stock for {', '.join(missing)} {timeout:.0f}s after the WMS sent it; "
                    f"logs: {self.dir / 'hub.log'}, {self.dir / 'sandbox.log'}"
                )
            await asyncio.sleep(0.2)
        self.console.print(
            f"  stock: {sent} warehouse snapshot(s) sent by the WMS and held by the hub "
            f"({', '.join(f'{t}: {n} positions' for t, n in sorted(held.items()))})"
        )

    async def _marketplace_customer(self, tenant: democonfig.DemoTenant) -> str:
        """Amazon orders book to one ERP account (policy default_account): create it."""
        answer = await self.http.post(
            f"{self.sandbox}{tenant.prefix}/erp/customers",
            json={"name": "Amazon Marketplace", "external_ref": "amazon-marketplace"},
            headers={"Authorization": f"Bearer {democonfig.SANDBOX.erp.api_key}"},
        )
        if answer.status_code >= 300:
            raise DemoError(
                f"creating the marketplace customer in the sandbox ERP: {answer.status_code} {answer.text[:300]}"
            )
        return str(answer.json()["id"])

    # -- the script -------------------------------------------------------------------------------

    def script(self) -> list[tuple[float, str, str, Any]]:
        """(seconds after the start, description, sandbox path, body), by time."""
        d = self.opts.duration
        outage = max(5.0, round(d * 0.15))
        first, many = self.tenants[0], len(self.tenants) > 1
        unmapped = {"count": 1, "lines": [{"sku": self.unmapped[0], "quantity": 1}]}
        burst = {
            "shopify": {"throttle": {"next": 6, "retry_after": 1}},
            "erp": {"throttle": {"next": 6, "retry_after": 1}},
        }
        steps = [
            *((1.0, f"{t.id}: one Shopify order of {self.unmapped[0]} (not in the mapping)",
               f"{t.prefix}/shopify/_sandbox/orders", unmapped) for t in self.tenants),
            *((d * 0.2, f"{t.id}: burst of 429s, Shopify (next 6 calls) and the ERP (next 6 calls)",
               f"{t.prefix}/_sandbox/faults", burst) for t in self.tenants),
            (d * 0.4, f"{first.id}: ERP outage, 503 for {outage:.0f}s"
             + (" (the other tenants' ERPs stay up)" if many else ""),
             f"{first.prefix}/_sandbox/faults", {"erp": {"downtime": {"seconds": outage, "starts_in": 0}}}),
        ]  # fmt: skip
        return sorted(steps, key=lambda step: step[0])

    def traffic_rates(self, on: bool) -> dict[str, float]:
        o = self.opts
        rates = {
            "shopify": o.rate,
            "amazon": o.rate,
            "stock": STOCK_CHANGES_PER_MINUTE,
            "prices": PRICE_CHANGES_PER_MINUTE,
        }
        return {k: v if on else 0.0 for k, v in rates.items()}

    async def drive(self, view: Dashboard, refresh) -> None:
        o = self.opts
        await self.sandbox_post("/_sandbox/traffic", self.traffic_rates(on=True))
        spread = f", spread over {len(self.tenants)} tenants" if len(self.tenants) > 1 else ""
        view.event(
            f"traffic on: {o.rate:g} orders/min on Shopify and on Amazon, {STOCK_CHANGES_PER_MINUTE:g} stock "
            f"changes/min, {PRICE_CHANGES_PER_MINUTE:g} ERP price changes/min{spread}"
        )
        start = time.monotonic()
        pending = list(self.script())
        while not self.stop_event.is_set():
            elapsed = time.monotonic() - start
            while pending and pending[0][0] <= elapsed:
                _, text, path, body = pending.pop(0)
                await self.sandbox_post(path, body)
                view.event(text)
            if elapsed >= o.duration:
                break
            await refresh("traffic")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), 1.0)
        await self.sandbox_post("/_sandbox/traffic", self.traffic_rates(on=False))
        for t in self.tenants:
            self.faults_seen[t.id] = (await self.http.get(f"{self.sandbox}{t.prefix}/_sandbox/faults")).json()
            await self.http.delete(f"{self.sandbox}{t.prefix}/_sandbox/faults")
        view.event("traffic off, faults cleared" + (" (interrupted)" if self.stop_event.is_set() else ""))

    @staticmethod
    def unsettled(state: dict[str, Any], exceptions: dict[str, int]) -> int:
        """One tenant's work still on its way: open channel orders neither posted nor parked,
        releases not finished, parcels not yet confirmed or invoiced."""
        orders = demosummary.channel_orders(state)
        posted = {so["external_reference"] for so in state["erp"]["sales_orders"].values()}
        unposted = sum(1 for ref, o in orders.items() if not o["cancelled"] and ref not in posted)
        parked = sum(exceptions.values())
        releases = sum(
            1
            for r in state["wms"]["releases"].values()
            if r["status"] not in ("shipped", "closed_short", "cancelled")
        )
        c = demosummary.counts(state)
        return (
            max(0, unposted - parked)
            + releases
            + max(0, c["shipments"] - c["shipment_confirmations"])
            + max(0, c["shipments"] - c["invoices"])
        )

    async def settle(self, view: Dashboard, refresh) -> None:
        deadline = time.monotonic() + self.opts.settle
        quiet_since, last = time.monotonic(), None
        while time.monotonic() < deadline and self.stop_requested < 2:
            states = await self.states()
            _, exceptions = self.hub_counts()
            left = sum(self.unsettled(s, exceptions.get(t, {})) for t, s in states.items())
            snapshot = ({t: demosummary.counts(s) for t, s in states.items()}, exceptions)
            if snapshot != last:
                quiet_since, last = time.monotonic(), snapshot
            if left == 0:
                view.event("settled: everything in flight arrived")
                return
            if time.monotonic() - quiet_since > 20:
                view.event(f"settled: nothing moved for 20s ({left} still open)")
                return
            await refresh(f"settling ({left} in flight)")
            await asyncio.sleep(1.0)
        view.event(
            "stopped waiting: --settle limit reached" if self.stop_requested < 2 else "settling skipped"
        )

    async def main(self) -> dict[str, Any]:
        o = self.opts
        loop = asyncio.get_running_loop()

        def interrupt() -> None:
            self.stop_requested += 1
            self.stop_event.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, interrupt)
        started = time.monotonic()
        try:
            await self.setup()
            ids = [t.id for t in self.tenants]
            view = Dashboard(
                title=f"Crossdock demo · {'tenant' if len(ids) == 1 else 'tenants'} {', '.join(ids)}",
                duration=o.duration,
                console_url=f"{self.hub}/console",
                login=f"{DEMO_USER} / {self.password}",
                tenants=ids,
            )
            if o.open_browser:
                with contextlib.suppress(Exception):
                    import webbrowser

                    webbrowser.open(f"{self.hub}/console")
            live_wanted = self.console.is_terminal if o.live is None else o.live
            last_line = [0.0]

            async def refresh(phase: str) -> None:
                for child in self.children:
                    if not child.alive():
                        raise DemoError(f"{child.name} exited ({child.proc.returncode}):\n{child.tail()}")
                states = await self.states()
                captured, exceptions = self.hub_counts()
                view.update(
                    {t: {**demosummary.counts(s), "captured": captured.get(t, 0)} for t, s in states.items()},
                    exceptions,
                    phase,
                )
                if live is not None:
                    live.update(view.render())
                elif time.monotonic() - last_line[0] >= 10:
                    last_line[0] = time.monotonic()
                    self.console.print(view.line(), markup=False, highlight=False)

            live = Live(view.render(), console=self.console, refresh_per_second=4) if live_wanted else None
            with live if live is not None else contextlib.nullcontext():
                if not self.stop_event.is_set():
                    await self.drive(view, refresh)
                await self.settle(view, refresh)
                await refresh("done")
            if live is None:
                for text in view.events:
                    self.console.print(f"  {text}", markup=False, highlight=False)
            states = await self.states()
            for (
                tenant,
                faults,
            ) in self.faults_seen.items():  # cleared after the traffic: report what was injected
                states[tenant]["faults"] = faults
            _, exceptions = self.hub_counts()
            return demosummary.build_all(
                states,
                exceptions,
                unmapped=self.unmapped,
                extra={
                    "tenant_ids": [t.id for t in self.tenants],
                    "seed": o.seed,
                    "duration_seconds": o.duration,
                    "rate_per_minute_per_channel": o.rate,
                    "stock_changes_per_minute": STOCK_CHANGES_PER_MINUTE,
                    "price_changes_per_minute": PRICE_CHANGES_PER_MINUTE,
                    "runtime_seconds": round(time.monotonic() - started, 1),
                    "interrupted": self.stop_requested > 0,
                },
            )
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self.http.aclose()
            if self._engine is not None:
                self._engine.dispose()
            self.stop_children()


# The summary table's rows: (key in the summary, label); indented labels are oversold_detail's.
ROWS = (
    ("channel_orders", "channel_orders"),
    ("erp_sales_orders", "erp_sales_orders"),
    ("duplicate_sales_orders", "duplicate_sales_orders"),
    ("shipments", "shipments"),
    ("shipment_confirmations", "shipment_confirmations"),
    ("duplicate_confirmations", "duplicate_confirmations"),
    ("invoices", "invoices"),
    ("oversold_units", "oversold_units"),
    ("oversold_detail.sold_beyond_stock", "  sold beyond stock"),
    ("oversold_detail.shipped_or_confirmed_beyond_ordered", "  shipped beyond ordered"),
    ("oversold_detail.erp_stock_below_zero", "  ERP stock below zero"),
    ("oversold_detail.out_of_stock_at_release", "  (out of stock at release)"),
    ("stock_events", "stock_events"),
    ("availability_published", "availability_published"),
    ("erp_price_changes", "erp_price_changes"),
)


def _value(summary: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        summary = summary.get(part) if isinstance(summary, dict) else None  # type: ignore[assignment]
    return summary


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    """The counts per tenant and in total, then the hub's open exceptions by category."""
    tenants: dict[str, dict[str, Any]] = summary.get("tenants") or {}
    columns = list(tenants.items()) if len(tenants) > 1 else []
    table = Table(title="Demo summary, counted from the sandbox's own state")
    table.add_column("", no_wrap=True)
    for tenant, _ in columns:
        table.add_column(tenant, justify="right")
    table.add_column("total" if columns else "", justify="right", style="bold")
    for key, label in ROWS:
        style = "" if key in demosummary.KEYS else "dim"
        values = [_value(one, key) for _, one in columns] + [_value(summary, key)]
        table.add_row(Text(label, style=style), *(str(v) for v in values))
    console.print(table)

    exceptions = Table(title="Exceptions open, from the hub's exception desk")
    exceptions.add_column("category", no_wrap=True)
    for tenant, _ in columns:
        exceptions.add_column(tenant, justify="right")
    exceptions.add_column("total" if columns else "", justify="right", style="bold")
    for category, n in summary["exceptions_open"].items():
        per = [str(one["exceptions_open"].get(category, 0)) for _, one in columns]
        exceptions.add_row(category, *per, str(n))
    if not summary["exceptions_open"]:
        exceptions.add_row(Text("none", style="dim"), *("" for _ in columns), "")
    console.print(exceptions)
    for key in ("channel_orders_by_channel", "unposted_channel_orders", "faults_injected", "runtime_seconds"):
        console.print(f"  {key}: {json.dumps(summary.get(key))}", style="dim", highlight=False)


def run(opts: DemoOptions, console: Console | None = None) -> dict[str, Any]:
    """Runs the demo; the summary, also written to `opts.summary_json` when given."""
    if not 1 <= opts.tenants <= 99:
        raise DemoError(f"--tenants must be between 1 and 99, not {opts.tenants}")
    demo = Demo(opts, console=console or Console())
    summary = asyncio.run(demo.main())
    print_summary(demo.console, summary)
    if opts.summary_json:
        opts.summary_json.parent.mkdir(parents=True, exist_ok=True)
        opts.summary_json.write_text(json.dumps(summary, indent=2, default=str) + "\n")
        demo.console.print(f"summary written to {opts.summary_json}")
    return summary
