"""Crossdock's Tryton client against a REAL Tryton 8.2 server (separate process and venv).

Opt-in: CROSSDOCK_TEST_TRYTON=1. The first run installs Tryton into var/tryton-venv
(or $CROSSDOCK_TRYTON_VENV) and builds the database template; later runs reuse both.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal

import pytest

from crossdock.connectors.tryton import TrytonClient
from crossdock.errors import PermanentError, TransientError

pytestmark = [
    pytest.mark.tryton,
    pytest.mark.skipif(os.environ.get("CROSSDOCK_TEST_TRYTON") != "1",
                       reason="real Tryton ERP tests: set CROSSDOCK_TEST_TRYTON=1 to run them"),
]


@pytest.fixture(scope="session")
def tryton(tmp_path_factory):
    from crossdock.sandbox.tryton_harness import start_tryton

    server = start_tryton(tmp_path_factory.mktemp("tryton"))
    print(f"\nTryton up at {server.url}: {server.info.get('timings')}")
    yield server
    server.stop()


@pytest.fixture
async def client(tryton):
    async with TrytonClient(tryton.url, tryton.database, tryton.admin_user, tryton.admin_password) as c:
        yield c


async def test_login_loads_company_context(client):
    assert client.context["company"]
    assert client.context["language"] == "en"


async def test_wrong_password_is_an_auth_error(tryton):
    bad = TrytonClient(tryton.url, tryton.database, tryton.admin_user, "not-the-password")
    with pytest.raises(PermanentError) as caught:
        await bad.login()
    await bad.close()
    assert caught.value.category == "auth.invalid_credentials"


async def test_expired_session_logs_in_again(client):
    client._auth = "Session " + "YWRtaW46MTpleHBpcmVk"  # admin:1:expired
    assert await client.find_party_by_code_or_name(name="nobody-with-this-name") is None
    assert client._auth != "Session YWRtaW46MTpleHBpcmVk"


async def test_user_error_is_remote_rejected(client):
    with pytest.raises(PermanentError) as caught:
        await client.call("sale.sale", "quote", [987654])
    assert caught.value.category == "remote.rejected"
    assert "quote" in caught.value.detail


async def test_party_and_products(client):
    party = await client.create_party("Acme Retail", {"street": "1 Main St", "city": "Springfield",
                                                      "postal_code": "12345", "country": "US"})
    assert await client.find_party_by_code_or_name(name="Acme Retail") == party
    (row,) = await client.read("party.party", [party], ["code"])
    assert await client.find_party_by_code_or_name(code=row["code"]) == party

    products = await client.find_products_by_code(["SKU-1", "SKU-3", "NOPE-9"])
    assert set(products) == {"SKU-1", "SKU-3"}
    assert products["SKU-1"]["list_price"] == Decimal("10.00")

    with pytest.raises(PermanentError) as caught:
        await client.create_party("Nowhere Ltd", {"city": "X", "country": "ZZ"})
    assert caught.value.category == "mapping.country_unknown"


async def test_sale_end_to_end(client):
    party = await client.create_party("Shopify Customer 1001", {"street": "2 Elm", "city": "Ottawa",
                                                                "country": "CA"})
    products = await client.find_products_by_code(["SKU-1", "SKU-2"])
    lines = [{"product": products["SKU-1"]["id"], "quantity": 2, "unit_price": "9.99"},
             {"product": products["SKU-2"]["id"], "quantity": 1, "unit_price": Decimal("25.50")}]

    started = time.monotonic()
    sale_id = await client.create_sale(party, lines, reference="shopify:1001", currency="USD")
    assert await client.quote_and_confirm(sale_id) == "processing"
    elapsed = time.monotonic() - started
    print(f"\nsale create+quote+confirm: {elapsed:.3f}s")
    assert await client.quote_and_confirm(sale_id) == "processing"  # repeat-safe

    # After an ambiguous timeout, the order flow finds the sale by the channel's reference.
    found = await client.find_sale_by_reference("shopify:1001")
    assert found["id"] == sale_id and found["state"] == "processing"
    assert await client.find_sale_by_reference("shopify:does-not-exist") is None

    (shipment,) = await client.read_shipments(sale_id)
    assert shipment["state"] == "waiting"
    assert sorted(m["quantity"] for m in shipment["moves"]) == [1.0, 2.0]

    assert await client.complete_shipment(shipment["id"]) == "done"
    await client.set_shipment_reference(shipment["id"], "1Z999AA10123456784")
    (shipment,) = await client.read_shipments(sale_id)
    assert shipment["state"] == "done"
    assert shipment["reference"] == "1Z999AA10123456784"
    assert shipment["effective_date"] is not None
    assert all(m["state"] == "done" for m in shipment["moves"])

    (invoice,) = await client.read_invoices(sale_id)
    assert invoice["type"] == "out" and invoice["state"] == "draft"
    assert invoice["total_amount"] == Decimal("45.48")
    await client.post_invoice(invoice["id"])
    (invoice,) = await client.read_invoices(sale_id)
    assert invoice["state"] == "posted" and invoice["number"]


async def test_unknown_currency_is_a_mapping_error(client):
    party = await client.find_party_by_code_or_name(name="Acme Retail") or await client.create_party(
        "Acme Retail", {"city": "Springfield"})
    products = await client.find_products_by_code(["SKU-5"])
    with pytest.raises(PermanentError) as caught:
        await client.create_sale(party, [{"product": products["SKU-5"]["id"], "quantity": 1,
                                          "unit_price": "1.20"}], reference="shopify:1002", currency="XXX")
    assert caught.value.category == "mapping.currency_unknown"


async def test_stopped_server_is_transient(tryton):
    # A port nothing listens on: connection refused, before anything was sent.
    from crossdock.sandbox.tryton_harness import _free_port

    dead = TrytonClient(f"http://127.0.0.1:{_free_port()}/", tryton.database, "admin", "whatever-pw")
    with pytest.raises(TransientError) as caught:
        await dead.login()
    await dead.close()
    assert caught.value.ambiguous is False
