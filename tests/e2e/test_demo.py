"""`crossdock demo` end to end: the README's main command, run as the user runs it.

`crossdock demo --duration 60 --no-browser --summary-json out.json` (on free ports, in a
temporary directory) exits 0, and its summary, counted from the sandbox's own state, shows
orders captured, posted, shipped, confirmed and invoiced, no duplicate sales orders or
confirmations, and the injected exceptions (the SKU left unmapped parks its orders)."""

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


def test_demo_runs_and_summarises(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSDOCK_")}
    args = [CROSSDOCK, "demo", "--duration", "60", "--no-browser", "--summary-json", str(out),
            "--port", str(free_port()), "--sandbox-port", str(free_port())]  # fmt: skip
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    logs = "".join(
        f"\n===== {p.name} =====\n{p.read_text(errors='replace')[-6000:]}"
        for p in sorted((tmp_path / "var" / "demo").glob("*.log"))
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}{logs}"
    summary = json.loads(out.read_text())
    why = f"summary: {json.dumps(summary, indent=1)}\n{done.stdout[-4000:]}"
    assert summary["channel_orders"] > 0, why
    assert summary["erp_sales_orders"] > 0, why
    assert summary["shipments"] > 0, why
    assert summary["shipment_confirmations"] > 0, why
    assert summary["invoices"] > 0, why
    assert summary["duplicate_sales_orders"] == 0, why
    assert summary["duplicate_confirmations"] == 0, why
    assert summary["oversold_units"] == 0, why
    assert summary["exceptions_open"].get("mapping.sku_unknown", 0) > 0, why
    assert summary["unposted_channel_orders"]["with_unmapped_sku"] > 0, why
    assert set(summary["faults_injected"]) >= {"erp"}, why  # the 429s and the outage reached the ERP
