"""The Tryton connector (the Erp capability) against a REAL Tryton 8.2 server."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest

from crossdock.connectors.capabilities import Erp, InvoiceRequest, SalesOrderLine, SalesOrderRequest
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.tryton.config import TrytonConfig
from crossdock.connectors.tryton.connector import KIND, TrytonErp
from crossdock.domain.parties import Address
from crossdock.errors import PermanentError
from tests.support.tryton import needs_tryton, tryton  # noqa: F401 - the server fixture

pytestmark = needs_tryton

SHIP_TO = Address(name="Ada Archer", line1="12 Chen Street", city="Austin", postal_code="78701", country="US")


def order(ref: str, *lines: tuple[str, int], customer: str = "Ada Archer") -> SalesOrderRequest:
    return SalesOrderRequest(
        external_reference=ref,
        currency="USD",
        lines=tuple(
            SalesOrderLine(f"L{n}", sku, Decimal(qty), "EA", Decimal("9.99"))
            for n, (sku, qty) in enumerate(lines, 1)
        ),
        customer_code=None,
        customer_name=customer,
        customer_email="ada@example.com",
        ship_to=SHIP_TO,
        channel="shopify",
    )


@pytest.fixture
async def lineage():
    return []


@pytest.fixture
async def erp(tryton, lineage):  # noqa: F811 - the fixture imported above
    config = TrytonConfig(
        url=tryton.url, database=tryton.database, username=tryton.admin_user, password=tryton.admin_password
    )
    async with aiohttp.ClientSession() as session:
        ctx = ConnectorContext("tryton-main", "tenant-1", session, lineage.append, cache={})
        assert KIND.build is not None
        yield KIND.build(config, ctx)


async def _sales(erp: TrytonErp, reference: str) -> list[dict]:
    client = await erp._client()
    return await client.search_read("sale.sale", [("reference", "=", reference)], ["state"])


async def test_sales_order_is_created_once_and_found_by_reference(erp, lineage):
    assert isinstance(erp, Erp)
    assert await erp.find_sales_order("shopify:2001") is None
    created = await erp.create_sales_order(order("shopify:2001", ("SKU-1", 2), ("SKU-2", 1)))
    assert created.state == "processing" and created.number and created.external_reference == "shopify:2001"
    assert await erp.find_sales_order("shopify:2001") == created
    # Asked again (after an ambiguous failure the flow could not see through): the same sale.
    assert await erp.create_sales_order(order("shopify:2001", ("SKU-1", 2))) == created
    assert len(await _sales(erp, "shopify:2001")) == 1

    client = await erp._client()
    (sale,) = await client.read("sale.sale", [int(created.id)], ["party", "shipment_address"])
    (address,) = await client.read(
        "party.address", [sale["shipment_address"]], ["party", "city", "postal_code"]
    )
    assert (address["party"], address["city"], address["postal_code"]) == (sale["party"], "Austin", "78701")
    # The next order of the customer to the same address reuses the party and the address.
    again = await erp.create_sales_order(order("shopify:2001-b", ("SKU-1", 1)))
    (other,) = await client.read("sale.sale", [int(again.id)], ["party", "shipment_address"])
    assert (other["party"], other["shipment_address"]) == (sale["party"], sale["shipment_address"])
    assert lineage and all(r.connection_id == "tryton-main" for r in lineage)
    assert not any("Crossdock-Tryton-8" in repr(r) for r in lineage)  # the password never
    assert not any("Session " in str(r.request_headers) for r in lineage)


async def test_an_interrupted_create_is_confirmed_not_repeated(erp):
    client = await erp._client()
    party = await client.create_party(
        "Half Done Ltd", {"street": "1 Main", "city": "Ottawa", "country": "CA"}
    )
    products = await client.find_products_by_code(["SKU-3"])
    draft = await client.create_sale(
        party,
        [{"product": products["SKU-3"]["id"], "quantity": 1, "unit_price": "4.75"}],
        reference="shopify:2002",
        currency="USD",
    )
    assert await erp.find_sales_order("shopify:2002") is None  # a draft is not a created order
    created = await erp.create_sales_order(order("shopify:2002", ("SKU-3", 1)))
    assert created.id == str(draft) and created.state == "processing"
    assert len(await _sales(erp, "shopify:2002")) == 1


async def test_invoice_is_posted_for_a_shipment_and_found_by_its_reference(erp):
    so = await erp.create_sales_order(order("shopify:2003", ("SKU-1", 1), ("SKU-2", 2)))
    client = await erp._client()
    (shipment,) = await client.read_shipments(int(so.id))
    assert await client.complete_shipment(shipment["id"]) == "done"
    assert await erp.find_invoice("R-2003-S1") is None

    request = InvoiceRequest(so.id, "R-2003-S1", (("SKU-1", Decimal(1)), ("SKU-2", Decimal(2))))
    invoice_id = await erp.post_invoice(request)
    assert await erp.find_invoice("R-2003-S1") == invoice_id
    (invoice,) = await client.read("account.invoice", [int(invoice_id)], ["state", "reference", "number"])
    assert invoice["state"] == "posted" and invoice["reference"] == "R-2003-S1" and invoice["number"]
    assert await erp.post_invoice(request) == invoice_id  # repeat-safe
    assert await erp.find_invoice("R-2003-S9") is None


async def test_prices_and_stock(erp):
    assert await erp.prices(["SKU-1", "SKU-4", "NOPE-1"], "USD") == {
        "SKU-1": Decimal("10.00"),
        "SKU-4": Decimal("99.00"),
    }
    assert await erp.prices(["SKU-1"], "EUR") == {}
    stock = await erp.stock(["SKU-4", "NOPE-1"])
    assert list(stock.values()) == [Decimal("1000.0")] and [item for _, item in stock] == ["SKU-4"]


async def test_cancel_before_shipping_and_refused_after(erp):
    so = await erp.create_sales_order(order("shopify:2004", ("SKU-5", 1)))
    await erp.cancel_sales_order(so.id)
    client = await erp._client()
    (shipment,) = await client.read_shipments(int(so.id))
    invoices = await client.read_invoices(int(so.id))
    assert shipment["state"] == "cancelled" and {i["state"] for i in invoices} == {"cancelled"}

    shipped = await erp.create_sales_order(order("shopify:2005", ("SKU-5", 1)))
    (shipment,) = await client.read_shipments(int(shipped.id))
    await client.complete_shipment(shipment["id"])
    with pytest.raises(PermanentError) as caught:
        await erp.cancel_sales_order(shipped.id)
    assert caught.value.category == "business.cannot_cancel"


async def test_unknown_product_is_a_mapping_error(erp):
    with pytest.raises(PermanentError) as caught:
        await erp.create_sales_order(order("shopify:2006", ("NOPE-1", 1)))
    assert caught.value.category == "mapping.sku_unknown" and "NOPE-1" in caught.value.detail
