"""The generic REST ERP connector against the real sandbox ERP, in process, over real HTTP."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from crossdock.connectors.capabilities import (
    Erp,
    ErpLineCancellation,
    InvoiceRequest,
    SalesOrderLine,
    SalesOrderRequest,
)
from crossdock.connectors.erp_rest.config import ErpRestConfig
from crossdock.connectors.erp_rest.connector import KIND, RestErp
from crossdock.connectors.registry import ConnectorContext
from crossdock.domain.parties import Address
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord
from crossdock.sandbox.app import SANDBOX, Sandbox, create_sandbox_app
from crossdock.sandbox.state import ErpConfig, SandboxConfig

KEY = "erp-sandbox-key"
SHIP_TO = Address(
    name="Ada Archer", line1="12 Chen Street", city="Austin", region="TX", postal_code="78701", country="US"
)


def order(ref: str = "shopify:1001", customer_code: str | None = None, **changes) -> SalesOrderRequest:
    lines = (
        SalesOrderLine("L1", "CD-1001", Decimal("2"), "EA", Decimal("19.99")),
        SalesOrderLine("L2", "CD-1002", Decimal("1"), "EA", Decimal("10.00"), discount=Decimal("1.50")),
    )
    values = dict(
        external_reference=ref,
        currency="USD",
        lines=lines,
        customer_code=customer_code,
        customer_name="Ada Archer",
        customer_email="Ada@Example.com",
        ship_to=SHIP_TO,
        channel="shopify",
    )
    return SalesOrderRequest(**{**values, **changes})


class Harness:
    def __init__(self, server: TestServer, session: aiohttp.ClientSession) -> None:
        self.server, self.session = server, session
        self.sandbox: Sandbox = server.app[SANDBOX]
        self.lineage: list[LineageRecord] = []

    def erp(
        self, *, api_key: str = KEY, timeout: float = 1.0, base_url: str | None = None, permit=None
    ) -> RestErp:
        config = {
            "base_url": base_url or str(self.server.make_url("/erp")),
            "api_key": api_key,
            "timeout_seconds": timeout,
        }
        ctx = ConnectorContext("erp-main", "tenant-1", self.session, self.lineage.append)
        if permit is not None:
            ctx.permit = permit
        assert KIND.build is not None
        return KIND.build(ErpRestConfig.model_validate(config), ctx)

    async def faults(self, erp_faults: dict) -> None:
        async with self.session.post(
            self.server.make_url("/_sandbox/faults"), json={"erp": erp_faults}
        ) as resp:
            assert resp.status == 200

    async def customer(self) -> str:
        url = self.server.make_url("/erp/customers")
        async with self.session.post(
            url, json={"name": "Known Ltd"}, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            return (await resp.json())["id"]

    def state(self) -> dict:
        return self.sandbox.erp.snapshot()


@pytest.fixture
async def hx():
    server = TestServer(create_sandbox_app(SandboxConfig()))
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield Harness(server, session)
    await server.close()


async def test_sales_order_is_created_once_and_found_by_external_reference(hx):
    erp = hx.erp()
    assert isinstance(erp, Erp)
    assert await erp.find_sales_order("shopify:1001") is None

    created = await erp.create_sales_order(order())
    assert created.external_reference == "shopify:1001" and created.state == "open"
    assert await erp.find_sales_order("shopify:1001") == created

    so = hx.state()["sales_orders"][created.id]
    assert so["ship_to"]["postal_code"] == "78701"
    assert [
        (ln["item"], ln["quantity"], ln["unit_price"], ln["external_line_reference"]) for ln in so["lines"]
    ] == [
        ("CD-1001", "2", "19.99", "L1"),
        ("CD-1002", "1", "8.5", "L2"),  # the line's discount folded into its unit price
    ]
    # The customer is created once and found again by e-mail for the next order.
    second = await erp.create_sales_order(order("shopify:1002"))
    customers = hx.state()["customers"]
    assert len(customers) == 1 and hx.state()["sales_orders"][second.id]["customer_id"] == so["customer_id"]


async def test_every_request_leaves_lineage_with_the_key_redacted(hx):
    await hx.erp().find_sales_order("shopify:1")
    (record,) = hx.lineage
    assert record.direction == "out" and record.connection_id == "erp-main" and record.status_code == 200
    assert record.request_headers["Authorization"] == "***"
    assert KEY not in repr(record)
    assert "external_reference=shopify:1" in record.url


async def test_every_request_passes_the_connection_throttle_once(hx):
    """A create that needs several requests (customer look-up and creation, the order)
    takes one throttle permit per request, so the ERP's rate limit holds per request."""
    taken: list[str] = []

    @contextlib.asynccontextmanager
    async def permit():
        taken.append("permit")
        yield

    await hx.erp(permit=permit).create_sales_order(order())
    assert len(taken) == len(hx.lineage) >= 2


@pytest.mark.parametrize("mode", ["hang", "drop"])
async def test_commit_then_timeout_is_ambiguous_and_the_order_is_found_after(hx, mode):
    erp = hx.erp(timeout=0.5)
    request = order(customer_code=await hx.customer())
    await hx.faults({"commit_then_timeout": {"next": 1, "hang_seconds": 30, "mode": mode}})
    with pytest.raises(TransientError) as caught:
        await erp.create_sales_order(request)
    assert caught.value.ambiguous is True
    assert hx.lineage[-1].error is not None and hx.lineage[-1].status_code is None

    # What the flow does next: look before creating again. It finds the order; one exists.
    # (The look-up runs with the usual timeout: 0.5 s was for the create that hangs.)
    found = await hx.erp().find_sales_order("shopify:1001")
    assert found is not None and found.state == "open"
    assert hx.state()["sales_orders_by_reference"] == {"shopify:1001": 1}


async def test_unreadable_answer_to_a_create_is_ambiguous(hx):
    erp = hx.erp()
    request = order(customer_code=await hx.customer())
    await hx.faults({"malformed": {"next": 1, "kind": "truncated"}})
    with pytest.raises(TransientError) as caught:
        await erp.create_sales_order(request)
    assert caught.value.ambiguous is True
    assert await erp.find_sales_order("shopify:1001") is not None


async def test_429_is_throttled_with_the_erps_retry_after(hx):
    await hx.faults({"throttle": {"next": 1, "retry_after": 7}})
    with pytest.raises(ThrottledError) as caught:
        await hx.erp().find_sales_order("shopify:1001")
    assert caught.value.retry_after == 7.0


async def test_rate_limited_erp_answers_429_with_retry_after():
    server = TestServer(create_sandbox_app(SandboxConfig(erp=ErpConfig(rate_limit_per_s=1.0))))
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            erp = Harness(server, session).erp()
            with pytest.raises(ThrottledError) as caught:
                for _ in range(5):
                    await erp.prices(["CD-1001"], "USD")
            assert caught.value.retry_after >= 1.0
    finally:
        await server.close()


async def test_server_errors_are_transient_ambiguous_only_for_writes(hx):
    erp = hx.erp()
    await hx.faults({"errors": {"next": 2, "status": 500}})
    with pytest.raises(TransientError) as read:
        await erp.find_sales_order("shopify:1001")
    with pytest.raises(TransientError) as write:
        await erp.post_invoice(InvoiceRequest("SO-000001", "R-1-S1", (("CD-1001", Decimal(1)),)))
    assert (read.value.ambiguous, write.value.ambiguous) == (False, True)

    await hx.faults({"errors": {"next": 1, "status": 503}})  # 503 without Retry-After: not taken
    with pytest.raises(TransientError) as down:
        await erp.create_sales_order(order(customer_code="C-1"))
    assert down.value.ambiguous is False


async def test_503_with_retry_after_is_throttled_so_an_outage_pauses_instead_of_using_attempts(hx):
    await hx.faults({"downtime": {"seconds": 30}})  # the sandbox announces what is left of it
    with pytest.raises(ThrottledError) as down:
        await hx.erp().create_sales_order(order(customer_code="C-1"))
    assert 29.0 <= down.value.retry_after <= 30.0 and down.value.local is False


async def test_unreachable_erp_is_transient_and_not_ambiguous(hx):
    erp = hx.erp(base_url="http://127.0.0.1:9/erp")
    with pytest.raises(TransientError) as caught:
        await erp.create_sales_order(order(customer_code="C-1"))
    assert caught.value.ambiguous is False


async def test_wrong_api_key_is_an_auth_error(hx):
    with pytest.raises(PermanentError) as caught:
        await hx.erp(api_key="wrong").find_sales_order("shopify:1001")
    assert caught.value.category == "auth.invalid_credentials"


async def test_unknown_item_is_rejected_with_the_erps_code(hx):
    bad = order(lines=(SalesOrderLine("L1", "NOPE-1", Decimal(1), "EA", Decimal(1)),))
    with pytest.raises(PermanentError) as caught:
        await hx.erp().create_sales_order(bad)
    error = caught.value
    assert error.category == "remote.rejected" and error.context == {"status": 422, "code": "unknown_item"}
    assert "NOPE-1" in error.detail and "item mapping" in error.hint


async def test_prices_and_stock(hx):
    erp = hx.erp()
    prices = await erp.prices(["CD-1001", "CD-1002", "NOPE-1"], "USD")
    expected = {sku: Decimal(rows[0]["unit_price"]) for sku, rows in hx.sandbox.erp.prices.items()}
    assert prices == {"CD-1001": expected["CD-1001"], "CD-1002": expected["CD-1002"]}
    assert await erp.prices(["CD-1001"], "EUR") == {}
    assert await erp.stock(["CD-1001", "NOPE-1"]) == {("MAIN", "CD-1001"): Decimal(250)}


async def test_invoice_is_posted_and_found_by_shipment_reference(hx):
    erp = hx.erp()
    so = await erp.create_sales_order(order())
    assert await erp.find_invoice("R-1-S1") is None

    shipped = (("CD-1001", Decimal(2)),)
    invoice_id = await erp.post_invoice(InvoiceRequest(so.id, "R-1-S1", shipped))
    assert await erp.find_invoice("R-1-S1") == invoice_id
    assert await erp.find_invoice("R-1-S2") is None
    assert hx.state()["invoices_by_shipment"] == {"R-1-S1": 1}
    assert await erp.stock(["CD-1001"]) == {("MAIN", "CD-1001"): Decimal(248)}

    with pytest.raises(PermanentError) as caught:  # more than ordered
        await erp.post_invoice(InvoiceRequest(so.id, "R-1-S2", shipped))
    assert caught.value.context["code"] == "over_invoiced"


async def test_cancel_before_invoicing_and_refused_after(hx):
    erp = hx.erp()
    open_order = await erp.create_sales_order(order("shopify:1"))
    await erp.cancel_sales_order(open_order.id)
    assert (await erp.find_sales_order("shopify:1")).state == "cancelled"

    invoiced = await erp.create_sales_order(order("shopify:2"))
    await erp.post_invoice(InvoiceRequest(invoiced.id, "R-2-S1", (("CD-1001", Decimal(1)),)))
    with pytest.raises(PermanentError) as caught:
        await erp.cancel_sales_order(invoiced.id)
    assert caught.value.context["code"] == "already_invoiced"


async def test_units_that_will_not_ship_come_off_the_sales_order_once_and_it_closes(hx):
    """After a short pick cancelled by policy: the sales order's open quantity (and what the ERP
    counts as allocated) ends with what ships, and invoicing what shipped closes it."""
    erp = hx.erp()
    assert isinstance(erp, ErpLineCancellation)
    so = await erp.create_sales_order(order())  # 2 × CD-1001, 1 × CD-1002
    short = (("CD-1001", Decimal(1)),)
    await erp.cancel_sales_order_lines(so.id, "R-1#short", short)
    await erp.cancel_sales_order_lines(so.id, "R-1#short", short)  # a retry changes nothing
    held = hx.state()["sales_orders"][so.id]
    assert [ln["cancelled"] for ln in held["lines"]] == ["1", "0"] and held["status"] == "open"
    with pytest.raises(PermanentError):  # more than is open
        await erp.cancel_sales_order_lines(so.id, "R-2#short", (("CD-1001", Decimal(2)),))
    await erp.post_invoice(InvoiceRequest(so.id, "R-1#S1", (("CD-1001", Decimal(1)), ("CD-1002", Decimal(1)))))
    assert hx.state()["sales_orders"][so.id]["status"] == "invoiced"
