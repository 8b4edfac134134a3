"""Order-to-cash harness: the real `crossdock sandbox` and `crossdock serve` as processes.

    async with O2C.start(db_url, tmp_path, unmapped={"CD-1020"}) as o2c:
        await o2c.shopify_orders(20)
        await o2c.wait_until(lambda s: ..., timeout=60, what="...")

`O2C.start` writes a hub configuration for one tenant (`northwind`) wired to the sandbox
(connections `shopify`, `amazon`, `erp`, `wms`; identity SKU mappings for the catalog,
except the SKUs in `unmapped`), starts the sandbox on a free port pointed at the hub,
applies the configuration with `crossdock apply -f`, and starts `crossdock serve`.
On failure inside the block, the processes' logs, the hub's open exceptions and a
summary of the sandbox state are printed; both processes are stopped either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from crossdock.demo.config import CATALOG, SANDBOX, TENANT, tenant_config
from crossdock.demo.runner import Child
from tests.support.o2c_ledger import exception_summary, summary
from tests.support.o2c_walmart import with_walmart

CROSSDOCK = [str(Path(sys.executable).with_name("crossdock"))]
if os.environ.get("CROSSDOCK_O2C_ISOLATED_CLI"):  # see tests/support/o2c_cli.py
    CROSSDOCK = [sys.executable, "-m", "tests.support.o2c_cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hub_config(
    sandbox_port: int, customer: str, *, unmapped: set[str] = frozenset(), short_pick: str = "cancel",
    walmart: bool = False, availability: dict[str, Any] | None = None,
) -> str:  # fmt: skip
    """The hub's configuration file (JSON is YAML): the demo's tenant `northwind`, wired to
    the sandbox on `sandbox_port` at the harness's speed (with `walmart`, also its Walmart seller)."""
    url = f"http://127.0.0.1:{sandbox_port}"
    doc = tenant_config(
        url,
        amazon_customer=customer,
        unmapped=tuple(sorted(unmapped)),
        speed=SandboxSettings.speed,
        short_pick=short_pick,
        availability=availability is not None,
    )
    if walmart:
        doc = with_walmart(doc, url, SandboxSettings.speed, [s for s in CATALOG if s not in unmapped])
    if availability:  # the test's own channel rules
        doc["tenants"][0]["availability"] = availability
    return json.dumps(doc, indent=1)


class SandboxSettings:
    speed = 100.0  # Amazon's rates ×100, its 2-minute listing lag → 1.2 s
    retry_factor = 0.0005  # Shopify's webhook retries: 5 ms ... 4 s
    wms_delay = 0.3
    # A Plus store (1,000 points/s): on Standard, ~15 points per confirmed shipment cap the
    # tests at ~6.5 confirmations a second, which is Shopify's limit at work, not the hub's.
    shopify_plan = "plus"


@dataclass
class O2C:
    tmp: Path
    env: dict[str, str]
    sandbox_port: int
    hub_port: int
    customer: str = ""
    unmapped: set[str] = field(default_factory=set)
    short_pick: str = "cancel"
    walmart: bool = False  # the tenant also sells on the sandbox's Walmart seller
    availability: dict[str, Any] | None = None  # the tenant's `availability:` section ({}: the demo's)
    procs: list[Child] = field(default_factory=list)
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=60))

    @property
    def sandbox(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def hub(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}"

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        db_url: str,
        tmp: Path,
        *,
        unmapped: set[str] = frozenset(),
        short_picks: float = 0.0,
        partial_shipments: float = 0.0,
        short_pick: str = "cancel",
        workers: int = 1,
        walmart: bool = False,
        availability: dict[str, Any] | None = None,
        wms_stock: bool = False,
    ):
        env = {
            **os.environ,
            "CROSSDOCK_DATABASE_URL": db_url,
            "CROSSDOCK_VAR_DIR": str(tmp / "var"),
            "CROSSDOCK_LEASE_SECONDS": "10",
        }
        env.pop("CROSSDOCK_CRASH_POINT", None)
        self = cls(tmp, env, free_port(), free_port(), unmapped=set(unmapped), short_pick=short_pick, walmart=walmart,
                   availability=availability)  # fmt: skip
        failed = False
        try:
            await self._start_sandbox(short_picks, partial_shipments, wms_stock)
            self.customer = await self._marketplace_customer()
            self.apply()
            await self._start_hub(workers)
            yield self
        except BaseException:
            failed = True
            raise
        finally:
            if failed:
                await self._dump_diagnostics()
            for p in reversed(self.procs):
                p.stop()
            await self.http.aclose()
            if failed:
                for p in self.procs:
                    print(f"\n===== {p.name} log (tail) =====\n{p.tail(20_000)}", file=sys.stderr)

    def _spawn(self, name: str, args: list[str]) -> Child:
        log = self.tmp / f"{name}.log"
        out = log.open("wb")
        proc = subprocess.Popen([*CROSSDOCK, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        p = Child(name, proc, log)
        self.procs.append(p)
        return p

    async def _ready(self, p: Child, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await self.http.get(url, timeout=2)).status_code == 200:
                    return
            if not p.alive():
                raise AssertionError(f"{p.name} exited during start:\n{p.tail(20_000)}")
            await asyncio.sleep(0.1)
        raise AssertionError(f"{p.name} did not become ready at {url}")

    async def _start_sandbox(self, short_picks: float, partial_shipments: float, wms_stock: bool = False) -> None:
        s = SandboxSettings
        args = ["sandbox", "--port", str(self.sandbox_port), "--hub", self.hub, "--seed", "7",
                "--speed", str(s.speed), "--retry-factor", str(s.retry_factor), "--wms-delay", str(s.wms_delay),
                "--short-picks", str(short_picks), "--partial-shipments", str(partial_shipments),
                "--shopify-plan", s.shopify_plan]  # fmt: skip
        if wms_stock:
            args.append("--wms-stock")
        p = self._spawn("sandbox", args)
        await self._ready(p, f"{self.sandbox}/_sandbox/config")

    async def _start_hub(self, workers: int) -> None:
        p = self._spawn("hub", ["serve", "--port", str(self.hub_port), "--log-level", "warning",
                                "--workers", str(workers)])  # fmt: skip
        await self._ready(p, f"{self.hub}/readyz")

    async def _marketplace_customer(self) -> str:
        """Amazon orders book to one ERP account (default_account): create it in the ERP."""
        answer = await self.http.post(
            f"{self.sandbox}/erp/customers",
            json={"name": "Amazon Marketplace", "external_ref": "amazon-marketplace"},
            headers={"Authorization": f"Bearer {SANDBOX.erp.api_key}"},
        )
        answer.raise_for_status()
        return answer.json()["id"]

    # -- the hub's command line --------------------------------------------------------------------

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([*CROSSDOCK, *args], env=self.env, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise AssertionError(f"crossdock {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def apply(self) -> None:
        path = self.tmp / "crossdock.yaml"
        path.write_text(
            hub_config(self.sandbox_port, self.customer, unmapped=self.unmapped, short_pick=self.short_pick,
                       walmart=self.walmart, availability=self.availability)
        )  # fmt: skip
        self.cli("apply", "-f", str(path), "--actor", "o2c-test")

    def add_mappings(self, skus: set[str]) -> None:
        """The operator's fix: map the SKUs that were left out, by applying the file again."""
        self.unmapped -= skus
        self.apply()

    def stages(self) -> dict[str, int]:
        """How many of the tenant's orders the hub holds in each stage."""
        from sqlalchemy import func, select

        from crossdock.store.db import make_engine
        from crossdock.store.tables import orders

        engine = make_engine(self.env["CROSSDOCK_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                q = select(orders.c.stage, func.count()).where(orders.c.tenant_id == TENANT).group_by(orders.c.stage)
                return {stage: n for stage, n in conn.execute(q)}
        finally:
            engine.dispose()

    def exceptions(self, status: str = "open") -> list[dict[str, Any]]:
        """The hub's exceptions of the tenant, read from its database (as `exceptions list`)."""
        from crossdock.store import exceptions as desk
        from crossdock.store.db import make_engine

        engine = make_engine(self.env["CROSSDOCK_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                flt = desk.ExceptionFilter(tenant_ids=(TENANT,), status=status)
                return [e.to_dict() for e in desk.list_exceptions(conn, flt, 10_000, 0)]
        finally:
            engine.dispose()

    def retry_category(self, category: str) -> str:
        return self.cli("exceptions", "retry", "--category", category, "--tenant", TENANT, "--yes").stdout

    # -- the sandbox -----------------------------------------------------------------------------

    async def _post(self, path: str, body: Any) -> Any:
        answer = await self.http.post(f"{self.sandbox}{path}", json=body)
        if answer.status_code >= 300:
            raise AssertionError(f"POST {path} → {answer.status_code}: {answer.text[:500]}")
        return answer.json() if answer.content else None

    async def shopify_orders(
        self, count: int = 1, lines: list[dict] | None = None, financial_status: str = "paid"
    ) -> list[dict]:
        body: dict[str, Any] = {"count": count, "financial_status": financial_status}
        if lines:
            body["lines"] = lines
        return (await self._post("/shopify/_sandbox/orders", body))["orders"]

    async def amazon_orders(self, count: int = 1, lines: list[dict] | None = None) -> list[dict]:
        body: dict[str, Any] = {"count": count}
        if lines:
            body["lines"] = lines
        return [o["order"] for o in (await self._post("/amazon/_sandbox/orders", body))["orders"]]

    async def walmart_orders(self, count: int = 1, lines: list[dict] | None = None) -> list[dict]:
        body: dict[str, Any] = {"count": count}
        if lines:
            body["lines"] = lines
        return (await self._post("/walmart/_sandbox/orders", body))["orders"]

    async def cancel_shopify(self, order_id: int | str) -> None:
        await self._post(f"/shopify/_sandbox/orders/{order_id}/cancel", {"reason": "customer"})

    async def cancel_amazon(self, order_id: str) -> None:
        await self._post(f"/amazon/_sandbox/orders/{order_id}/cancel", {})

    async def faults(self, spec: dict[str, Any]) -> dict[str, Any]:
        return await self._post("/_sandbox/faults", spec)

    async def clear_faults(self) -> None:
        await self.http.delete(f"{self.sandbox}/_sandbox/faults")

    async def state(self) -> dict[str, Any]:
        answer = await self.http.get(f"{self.sandbox}/_sandbox/state")
        answer.raise_for_status()
        return answer.json()

    # -- waiting ---------------------------------------------------------------------------------

    async def wait_until(
        self, predicate: Callable[[dict[str, Any]], Any], *, timeout: float, what: str, every: float = 0.5
    ) -> dict[str, Any]:
        """Poll the sandbox state until `predicate(state)` is truthy; a falsy answer that is a
        string or list says what is still missing and ends up in the failure message."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            for p in self.procs:
                if not p.alive():
                    raise AssertionError(f"{p.name} exited ({p.proc.returncode}) while waiting for {what}")
            state = await self.state()
            last = predicate(state)
            if last is True or (last and not isinstance(last, str | list | dict)):
                return state
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(every)
        open_exc = self.exceptions()
        raise AssertionError(
            f"not reached within {timeout:.0f}s: {what}\n"
            f"still missing: {str(last)[:3000]}\n"
            f"open exceptions ({len(open_exc)}): {exception_summary(open_exc)}\n"
            f"retrying messages: {self.retrying()}\n"
            f"open work: {self.open_work()}\n"
            f"sandbox: {json.dumps(summary(state), indent=1)[:4000]}"
        )

    async def _dump_diagnostics(self) -> None:
        with contextlib.suppress(Exception):
            print(f"\nopen exceptions: {exception_summary(self.exceptions())}", file=sys.stderr)
        with contextlib.suppress(Exception):
            print(f"sandbox summary: {json.dumps(summary(await self.state()), indent=1)}", file=sys.stderr)
        with contextlib.suppress(Exception):
            print(f"retrying messages: {self.retrying()}", file=sys.stderr)

    def open_work(self) -> str:
        """Messages neither done nor parked, by kind and status, with when the next one is due
        (diagnostics: work given back without an error, such as a throttled call, shows here)."""
        from sqlalchemy import func, select

        from crossdock.store.db import make_engine
        from crossdock.store.tables import messages as m

        engine = make_engine(self.env["CROSSDOCK_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                q = (
                    select(m.c.kind, m.c.status, func.count(), func.min(m.c.next_attempt_at), func.max(m.c.attempts))
                    .where(m.c.tenant_id == TENANT, m.c.status.not_in(("done", "parked")))
                    .group_by(m.c.kind, m.c.status)
                )
                rows = conn.execute(q).all()
        finally:
            engine.dispose()
        now = time.time()
        return json.dumps(
            [f"{kind} {status}: {n}, next due in {due - now:.1f} s, attempts ≤ {attempts}"
             for kind, status, n, due, attempts in rows], indent=1
        )  # fmt: skip

    def retrying(self, limit: int = 500) -> str:
        """Messages waiting for another attempt, counted by kind and error (diagnostics)."""
        from crossdock.store import queries
        from crossdock.store.db import make_engine

        engine = make_engine(self.env["CROSSDOCK_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                listed = queries.list_messages(conn, tenant_id=TENANT, status="ready", limit=limit)
        finally:
            engine.dispose()
        rows = [r for r in listed if r.get("last_error")]
        by_error = Counter(f"{r['kind']}: {r['last_error'][:200]}" for r in rows)
        return json.dumps(by_error.most_common(15), indent=1)
