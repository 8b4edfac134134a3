"""`crossdock demo` end to end: the README's main command, run as the user runs it.

`crossdock demo --tenants 2 --duration 45 --no-browser --summary-json out.json` (on free
ports, in a temporary directory) exits 0, and its summary, counted from the sandbox's own
state, shows for each tenant orders captured, posted, shipped, confirmed and invoiced, no
duplicate sales orders or confirmations, nothing oversold, stock sent to the hub, and the
injected exceptions (the SKU left unmapped parks its orders); the totals add the tenants up."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CROSSDOCK = str(Path(sys.executable).with_name("crossdock"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_runs_and_summarises_per_tenant(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSDOCK_")}
    args = [CROSSDOCK, "demo", "--tenants", "2", "--duration", "45", "--no-browser", "--summary-json", str(out),
            "--port", str(free_port()), "--sandbox-port", str(free_port())]  # fmt: skip
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    logs = "".join(
        f"\n===== {p.name} =====\n{p.read_text(errors='replace')[-6000:]}"
        for p in sorted((tmp_path / "var" / "demo").glob("*.log"))
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}{logs}"
    summary = json.loads(out.read_text())
    why = f"summary: {json.dumps(summary, indent=1)}\n{done.stdout[-4000:]}"
    assert summary["tenant_ids"] == ["northwind", "contoso"] and set(summary["tenants"]) == {
        "northwind",
        "contoso",
    }, why
    for tenant, one in summary["tenants"].items():
        why_t = f"tenant {tenant}: {why}"
        assert one["channel_orders"] > 0, why_t
        assert one["erp_sales_orders"] > 0, why_t
        assert one["shipments"] > 0, why_t
        assert one["shipment_confirmations"] > 0, why_t
        assert one["invoices"] > 0, why_t
        assert one["duplicate_sales_orders"] == 0, why_t
        assert one["duplicate_confirmations"] == 0, why_t
        assert one["oversold_units"] == 0, why_t
        assert one["stock_events"] > 0, why_t  # the snapshot, shipments, receipts
        assert one["exceptions_open"].get("mapping.sku_unknown", 0) > 0, why_t
        assert one["unposted_channel_orders"]["with_unmapped_sku"] > 0, why_t
    for key in ("channel_orders", "erp_sales_orders", "shipments", "shipment_confirmations", "invoices"):
        assert summary[key] == sum(one[key] for one in summary["tenants"].values()), why
    assert summary["duplicate_sales_orders"] == 0 and summary["oversold_units"] == 0, why
    assert set(summary["tenants"]["northwind"]["faults_injected"]) >= {"erp"}, why  # 429s and the outage
    assert summary["tenants"]["northwind"]["faults_injected"]["erp"].get("downtime", 0) > 0, why
