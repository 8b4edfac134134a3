"""Orchestration of `crossdock demo`.

1. A fresh demo directory (`var/demo/` unless `--keep`): SQLite database, secret key, logs.
2. `crossdock sandbox` as a child process, pointed at the hub's port.
3. The marketplace account for Amazon orders created in the sandbox ERP; the tenant
   configuration (`config.py`) written to `var/demo/crossdock.yaml`; `crossdock db upgrade`,
   `crossdock apply -f` and `crossdock users create demo` run as the operator would.
4. `crossdock serve` as a child process (its workers in it); waits for `/readyz`.
5. Traffic through `POST /_sandbox/traffic` at `--rate` orders per minute per channel for
   `--duration` seconds, with a scheduled script of faults through `POST /_sandbox/faults`
   (429 bursts on Shopify and the ERP, an ERP outage in the middle) and one order of the
   SKU left unmapped; the live view (`view.py`) meanwhile.
6. Traffic stopped, faults cleared, a bounded wait for in-flight work to settle, then the
   summary (`summary.py`) printed and written to `--summary-json`; children stopped.

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
    faults_seen: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
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

    async def state(self) -> dict[str, Any]:
        answer = await self.http.get(f"{self.sandbox}/_sandbox/state", timeout=30)
        answer.raise_for_status()
        return answer.json()

    def engine(self) -> Any:
        if self._engine is None:
            from crossdock.store.db import make_engine

            self._engine = make_engine(self.env["CROSSDOCK_DATABASE_URL"], pool_size=1)
        return self._engine

    def hub_counts(self) -> tuple[int, dict[str, int]]:
        """(orders the hub captured, open exceptions by category): the hub's own records."""
        from sqlalchemy import func, select

        from crossdock.store import tables

        ex = tables.exceptions
        with self.engine().connect() as conn:
            captured = conn.execute(select(func.count()).select_from(tables.orders)).scalar_one()
            rows = conn.execute(
                select(ex.c.category, func.count()).where(ex.c.status == "open").group_by(ex.c.category)
            ).all()
        return int(captured), {str(cat): int(n) for cat, n in rows}

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
        self.console.print(f"[bold]Crossdock demo[/] in {self.dir} (seed {o.seed})")
        sandbox = self.spawn("sandbox", [
            "sandbox", "--host", o.host, "--port", str(o.sandbox_port), "--hub", self.hub, "--seed", str(o.seed),
            "--speed", str(SPEED), "--retry-factor", str(RETRY_FACTOR), "--wms-delay", str(WMS_DELAY),
        ])  # fmt: skip
        await self.ready(sandbox, f"{self.sandbox}/_sandbox/config")
        self.console.print(f"  sandbox systems on {self.sandbox} (Shopify, Amazon, ERP, WMS)")
        customer = await self._marketplace_customer()
        doc = democonfig.tenant_config(
            self.sandbox, amazon_customer=customer, unmapped=self.unmapped, speed=SPEED
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

    async def _marketplace_customer(self) -> str:
        """Amazon orders book to one ERP account (policy default_account): create it."""
        answer = await self.http.post(
            f"{self.sandbox}/erp/customers",
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
        return [
            (1.0, f"one Shopify order of {self.unmapped[0]} (not in the mapping)",
             "/shopify/_sandbox/orders", {"count": 1, "lines": [{"sku": self.unmapped[0], "quantity": 1}]}),
            (d * 0.2, "burst of 429s: Shopify (next 6 calls) and the ERP (next 6 calls)", "/_sandbox/faults",
             {"shopify": {"throttle": {"next": 6, "retry_after": 1}}, "erp": {"throttle": {"next": 6, "retry_after": 1}}}),
            (d * 0.4, f"ERP outage: 503 for {outage:.0f}s", "/_sandbox/faults",
             {"erp": {"downtime": {"seconds": outage, "starts_in": 0}}}),
        ]  # fmt: skip

    async def drive(self, view: Dashboard, refresh) -> None:
        o = self.opts
        await self.sandbox_post("/_sandbox/traffic", {"shopify": o.rate, "amazon": o.rate})
        view.event(f"traffic on: {o.rate:g} orders/min on Shopify and on Amazon")
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
        await self.sandbox_post("/_sandbox/traffic", {"shopify": 0, "amazon": 0})
        self.faults_seen = (await self.http.get(f"{self.sandbox}/_sandbox/faults")).json()
        await self.http.delete(f"{self.sandbox}/_sandbox/faults")
        view.event("traffic off, faults cleared" + (" (interrupted)" if self.stop_event.is_set() else ""))

    def unsettled(self, state: dict[str, Any], exceptions: dict[str, int]) -> int:
        """Work still on its way: open channel orders neither posted nor parked, releases not
        finished, parcels not yet confirmed or invoiced."""
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
            state = await self.state()
            _, exceptions = self.hub_counts()
            left = self.unsettled(state, exceptions)
            snapshot = (demosummary.counts(state), exceptions)
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
            view = Dashboard(
                title=f"Crossdock demo · tenant {democonfig.TENANT}",
                duration=o.duration,
                console_url=f"{self.hub}/console",
                login=f"{DEMO_USER} / {self.password}",
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
                counts = demosummary.counts(await self.state())
                captured, exceptions = self.hub_counts()
                view.update({**counts, "captured": captured}, exceptions, phase)
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
            state = await self.state()
            if self.faults_seen:  # cleared at the end of the traffic: report what was injected
                state["faults"] = self.faults_seen
            _, exceptions = self.hub_counts()
            return demosummary.build(
                state,
                exceptions,
                unmapped=self.unmapped,
                extra={
                    "tenants": 1,
                    "seed": o.seed,
                    "duration_seconds": o.duration,
                    "rate_per_minute_per_channel": o.rate,
                    "runtime_seconds": round(time.monotonic() - started, 1),
                    "interrupted": self.stop_requested > 0,
                    "stock_and_price_traffic": "not generated: the hub has no stock or price feed from the "
                    "sandbox ERP/WMS yet (nothing emits inventory.snapshot / price changes from it)",
                },
            )
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self.http.aclose()
            if self._engine is not None:
                self._engine.dispose()
            self.stop_children()


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    table = Table(title="Demo summary (counted from the sandbox's own state)")
    table.add_column("key")
    table.add_column("value", justify="right")
    for key in demosummary.KEYS:
        value = summary[key]
        if isinstance(value, dict):
            value = "\n".join(f"{k}: {v}" for k, v in value.items()) or "none"
        table.add_row(key, str(value))
    for key in ("channel_orders_by_channel", "unposted_channel_orders", "faults_injected", "runtime_seconds"):
        table.add_row(Text(key, style="dim"), json.dumps(summary.get(key)))
    console.print(table)
    console.print(
        "exceptions_open is the hub's exception desk (parked orders); everything else is sandbox state."
    )


def run(opts: DemoOptions, console: Console | None = None) -> dict[str, Any]:
    """Runs the demo; the summary, also written to `opts.summary_json` when given."""
    if opts.tenants != 1:
        raise DemoError(
            "--tenants above 1 is not supported yet: the sandbox serves one Shopify store, one Amazon "
            "account, one ERP and one WMS per process, and their webhook connection ids (`shopify`, `wms`) "
            "are fixed in SandboxConfig with no `crossdock sandbox` option to change them, so a second "
            "tenant's connections (ids are unique hub-wide) could not receive its webhooks"
        )
    demo = Demo(opts, console=console or Console())
    summary = asyncio.run(demo.main())
    print_summary(demo.console, summary)
    if opts.summary_json:
        opts.summary_json.parent.mkdir(parents=True, exist_ok=True)
        opts.summary_json.write_text(json.dumps(summary, indent=2, default=str) + "\n")
        demo.console.print(f"summary written to {opts.summary_json}")
    return summary
