"""The web console in a real browser (Playwright driving Debian's Chromium) against
`crossdock serve` as a process: an operator clears parked exceptions from the desk,
a tenant's viewer cannot reach another tenant's order. Screenshots go to
artifacts/screenshots/ for a person to look at."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, select

from crossdock import bootstrap
from crossdock.access import Role
from crossdock.errors import PermanentError
from crossdock.records import NewMessage
from crossdock.store import messages as store
from crossdock.store import users as accounts
from crossdock.store.tables import (
    catalog_listings,
    connections,
    lineage,
    messages,
    orders,
    tenants,
    throttles,
)

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CROSSDOCK = str(Path(sys.executable).with_name("crossdock"))
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PASSWORD = "console e2e password"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _unmapped(registry):
    @registry.handler("order.line")
    async def line(msg, ctx):
        raise PermanentError(
            "mapping.sku_unknown", f"SKU {ctx.payload['sku']} is not mapped", "Add it to the SKU map."
        )

    @registry.handler("order.note")
    async def note(msg, ctx):
        return None

    @registry.handler("order.address_check")
    async def address_check(msg, ctx):
        raise PermanentError(
            "validation.address", "ship-to postcode is missing", "Fix the address and resubmit."
        )


def _seed(settings) -> dict[str, list[int]]:
    """Two tenants, two users, and parked messages made by the real worker."""
    hub = bootstrap.build(settings, hooks=[_unmapped])
    now = time.time()
    try:
        with hub.engine.begin() as c:
            for tid, name in (("acme", "ACME Distribution"), ("globex", "Globex Supply")):
                c.execute(
                    insert(tenants).values(id=tid, name=name, settings="{}", created_at=now, updated_at=now)
                )
            c.execute(
                insert(orders).values(
                    tenant_id="globex",
                    order_ref="shopify:9001",
                    channel="shopify",
                    channel_order_id="9001",
                    connection_id="globex-shop",
                    stage="received",
                    status="open",
                    document="{}",
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            _scenery(c, now)
            for name, role, scope in (
                ("olga", Role.PARTNER_OPERATOR, ["*"]),
                ("vic", Role.TENANT_VIEWER, ["acme"]),
            ):
                accounts.create_user(c, name, accounts.hash_password(PASSWORD), role, scope, "test", now)
        new = [
            NewMessage(
                "acme",
                "order.line",
                f"l-{i}",
                json.dumps({"sku": f"X-{i}"}),
                correlation_id=f"shopify:100{i}",
            )
            for i in range(4)
        ]
        new.append(
            NewMessage(
                "acme",
                "order.address_check",
                "v-1",
                json.dumps({"order_ref": "shopify:1009"}),
                correlation_id="shopify:1009",
            )
        )
        new += [
            NewMessage("acme", "order.note", f"n-{i}", "{}", correlation_id="shopify:1009") for i in range(6)
        ]
        new.append(
            NewMessage("globex", "order.line", "g-1", json.dumps({"sku": "G"}), correlation_id="shopify:9001")
        )
        ids = [w.message_id for w in hub.database.transaction(store.insert, new, now)]
        asyncio.run(hub.worker().run_until_idle(timeout=20))
    finally:
        hub.close()
    return {"unmapped": ids[:4], "invalid": ids[4:5]}


def _scenery(c, now: float) -> None:
    """What makes the pages worth looking at: connections (one paused), a failed call, late orders."""
    for cid, kind in (("acme-shop", "shopify"), ("acme-erp", "erp_rest"), ("acme-walmart", "walmart")):
        c.execute(
            insert(connections).values(
                tenant_id="acme", id=cid, kind=kind, config="{}", enabled=True, created_at=now, updated_at=now
            )
        )
    c.execute(
        insert(throttles).values(
            tenant_id="acme",
            connection_id="acme-walmart",
            rate=0.0,
            burst=1,
            max_concurrency=0,
            tat=0.0,
            paused_until=now + 600,
            waits=0,
        )
    )
    c.execute(
        insert(lineage).values(
            tenant_id="acme",
            correlation_id="shopify:1009",
            direction="out",
            connection_id="acme-erp",
            method="POST",
            url="http://erp.local/api/sales-orders",
            request_headers='{"content-type": "application/json"}',
            request_body='{"customer": "C-100", "lines": [{"item": "X-1", "qty": 2}]}',
            status_code=422,
            response_body='{"error": "ship-to postcode is missing"}',
            duration_ms=84.0,
            attempt=1,
            created_at=now,
        )
    )
    for ref, channel, stage, hours in (
        ("shopify:1009", "shopify", "validated", 3),
        ("walmart:55", "walmart", "received", 5),
    ):
        c.execute(
            insert(orders).values(
                tenant_id="acme",
                order_ref=ref,
                channel=channel,
                channel_order_id=ref.split(":")[1],
                connection_id="acme-shop",
                stage=stage,
                status="open",
                document='{"lines": [{"sku": "X-1", "qty": 2}]}',
                version=1,
                created_at=now - hours * 3600,
                updated_at=now,
            )
        )


    # The catalog: Walmart lists 6 items, one blocked for want of a brand, one refused.
    for n, status in enumerate(["published"] * 4 + ["blocked", "rejected"]):
        detail = {"blocked": {"category": "validation.attribute_missing", "missing": ["brand"],
                              "detail": "brand is required by walmart", "hint": "Add brand to the item."},
                  "rejected": {"category": "remote.listing_rejected", "attributes": ["item_name"],
                               "detail": "item_name is too long"}}.get(status)  # fmt: skip
        c.execute(
            insert(catalog_listings).values(
                tenant_id="acme", connection_id="acme-walmart", item_code=f"X-{n}", sku=f"X-{n}",
                status=status, digest=f"d{n}", published_digest=f"d{n}" if status == "published" else None,
                detail=json.dumps(detail) if detail else None, updated_at=now - n,
            )
        )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(settings):
    seeded = _seed(settings)
    port = _free_port()
    env = {
        **os.environ,
        "CROSSDOCK_DATABASE_URL": settings.database_url,
        "CROSSDOCK_VAR_DIR": str(settings.var_dir),
        "CROSSDOCK_PARTNER_NAME": "Northwind Integrations",
        "CROSSDOCK_PARTNER_COLOR": "#22577a",
        "CROSSDOCK_PARTNER_ACCENT": "#f2a541",
        "CROSSDOCK_PARTNER_SUPPORT": "support@northwind.example",
    }
    # No workers: a retried message must stay READY for the test to see it leave the desk.
    proc = subprocess.Popen(
        [CROSSDOCK, "serve", "--port", str(port), "--no-workers", "--log-level", "warning"], env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "crossdock serve exited during start"
            time.sleep(0.05)
        yield url, seeded
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _sign_in(page, url: str, username: str) -> None:
    page.goto(f"{url}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _shot(page, name: str, db: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{db}.png"), full_page=True)


def test_operator_clears_parked_exceptions_from_the_desk(server, browser, settings, db_url):
    url, seeded = server
    db = "postgres" if db_url.startswith("postgresql") else "sqlite"
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(page, url, "olga")
    _shot(page, "01-tenants", db)
    page.click("text=acme")
    _shot(page, "02-overview", db)
    page.click("nav.tabs >> text=Exceptions")
    groups = page.locator(".group")
    assert groups.filter(has_text="mapping.sku_unknown").locator(".group-count").inner_text() == "4"
    assert groups.filter(has_text="validation.address").locator(".group-count").inner_text() == "1"
    _shot(page, "03-desk", db)

    page.click(".group:has-text('mapping.sku_unknown')")
    page.wait_for_selector("input[name=category][value='mapping.sku_unknown']", state="attached")
    assert page.locator("table.desk tbody tr").count() == 4
    page.click("button[value=retry_all]")
    page.wait_for_selector(".flash.ok")
    assert "Sent back to the queue: 4" in page.inner_text(".flash.ok")
    assert page.locator("table.desk tbody tr").count() == 0
    _shot(page, "04-desk-after-retry", db)

    page.goto(f"{url}/console/exceptions?tenant=acme")
    assert page.locator("table.desk tbody tr").count() == 1  # only the address problem is left open
    page.click("table.desk tbody tr >> a")
    page.fill("textarea[name=payload]", '{"order_ref": "shopify:1009",')
    page.click("button:has-text('Resubmit')")
    page.wait_for_selector(".field-error")
    assert "not valid JSON" in page.inner_text(".field-error")
    _shot(page, "05-resubmit-invalid-json", db)
    page.goto(f"{url}/console/tenants/acme/orders/shopify:1009")
    _shot(page, "06-timeline", db)
    page.goto(f"{url}/console/tenants/acme/connections")
    _shot(page, "07-connections", db)
    page.click("nav >> text=Catalog")
    assert "missing brand" in page.inner_text("body") and "refused item_name" in page.inner_text("body")
    _shot(page, "08-catalog", db)

    from crossdock.store.db import make_engine

    engine = make_engine(settings.database_url)
    with engine.connect() as c:
        statuses = {
            r.status
            for r in c.execute(select(messages.c.status).where(messages.c.id.in_(seeded["unmapped"])))
        }
    engine.dispose()
    assert statuses == {"ready"}


def test_a_tenant_viewer_cannot_reach_another_tenants_order(server, browser, db_url):
    url, _seeded = server
    db = "postgres" if db_url.startswith("postgresql") else "sqlite"
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    _sign_in(page, url, "vic")
    assert page.url.endswith("/console/tenants/acme")  # one tenant: straight to its overview
    assert "Northwind Integrations" in page.inner_text("header")
    page.goto(f"{url}/console/exceptions")
    assert page.locator("button[value=retry_all]").count() == 0
    _shot(page, "08-viewer-desk", db)
    answer = page.goto(f"{url}/console/tenants/globex/orders/shopify:9001")
    assert answer.status == 404 and "Not found" in page.inner_text("main")
    assert "9001" not in page.inner_text("main")
    _shot(page, "09-viewer-other-tenant-404", db)
