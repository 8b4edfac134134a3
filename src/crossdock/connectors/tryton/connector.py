"""`TrytonErp`: the Erp capability over a real Tryton ERP (JSON-RPC).

A sales order is a `sale.sale` whose `reference` is the hub's external reference; the
customer is a party found by code (which must exist) or by name (created when absent);
the ship-to becomes (or finds) one of its addresses; lines find products by code. Tryton
creates a sale in several calls, so `create_sales_order` looks for the reference first:
a confirmed sale is returned (never a second one), a draft or quotation left by an
interrupted attempt is confirmed, and `find_sales_order` does not report those.

Tryton creates the customer invoice itself (invoice method "order": at confirmation, for
the whole sale). Posting the invoice of a shipment writes the shipment reference into the
draft invoice's `reference` (editable until a report is printed) and posts it;
`find_invoice` searches posted invoices by it. A later shipment of a sale invoiced as a
whole answers that invoice. The logged-in client is kept per connection in `ctx.cache`;
its requests go to the calling connector's recorder, credentials and session redacted.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from contextvars import ContextVar
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from crossdock.connectors.capabilities import ErpSalesOrder, InvoiceRequest, Recorder, SalesOrderRequest
from crossdock.connectors.erp_fulfilment import ErpShipment
from crossdock.connectors.erp_rest.client import excerpt
from crossdock.connectors.http.client import redact_headers
from crossdock.connectors.registry import ConnectorContext, ConnectorKind
from crossdock.connectors.tryton import rpc
from crossdock.connectors.tryton.client import TrytonClient
from crossdock.connectors.tryton.config import TrytonConfig
from crossdock.connectors.tryton.shipments import shipments_of as erp_shipments
from crossdock.domain.parties import Address
from crossdock.errors import PermanentError
from crossdock.records import LineageRecord

UNCONFIRMED = ("draft", "quotation")  # an interrupted create; `create_sales_order` resumes it
POSTED = ("posted", "paid")
SALE_FIELDS = ["number", "state", "reference"]
_RECORDER: ContextVar[tuple[str, Recorder] | None] = ContextVar("tryton_recorder", default=None)
# The calling handler's throttle permit (one per request); the cached client is shared.
_PERMIT: ContextVar[Callable[[], AbstractAsyncContextManager[None]]] = ContextVar(
    "tryton_permit", default=nullcontext
)


class RecordedClient(TrytonClient):
    """The Tryton client, handing every request to the calling connector's recorder."""

    company_currency: str | None = None

    async def _post(self, method: str, params: list, auth: str | None) -> tuple[int, Any, Any]:
        login = method == "common.db.login"
        shown = ["***", "***"] if login else params
        lineage = {
            "direction": "out",
            "method": "POST",
            "url": self.rpc_url,
            "request_headers": redact_headers({"Authorization": auth}) if auth else {},
            "request_body": excerpt(rpc.dumps({"method": method, "params": shown})),
        }
        started = time.perf_counter()
        try:
            async with _PERMIT.get()():
                status, raw, headers = await super()._post(method, params, auth)
        except Exception as exc:
            _record(lineage, started, error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        _record(lineage, started, status_code=status, response_body="***" if login else excerpt(raw))
        return status, raw, headers

    async def ensure_login(self) -> None:
        async with self._login_lock:
            if not self.context:
                await self.login()

    async def call_in(self, context: dict, model: str, method: str, *args: Any) -> Any:
        """`call` with extra context keys (stock locations, dates)."""
        return await self._authed(f"model.{model}.{method}", [*args, {**self.context, **context}])


def _record(lineage: dict, started: float, **fields: Any) -> None:
    target = _RECORDER.get()
    if target is not None:
        connection_id, record = target
        duration = (time.perf_counter() - started) * 1000
        record(LineageRecord(connection_id=connection_id, duration_ms=duration, **lineage, **fields))


class TrytonErp:
    def __init__(self, config: TrytonConfig, ctx: ConnectorContext) -> None:
        self.config, self.ctx = config, ctx

    async def _client(self) -> RecordedClient:
        _RECORDER.set((self.ctx.connection_id, self.ctx.record))
        _PERMIT.set(self.ctx.permit)
        c = self.config
        key = hashlib.sha256(f"{c.url}\0{c.database}\0{c.username}\0{c.password}".encode()).hexdigest()
        cached = self.ctx.cache.get("tryton.client")
        if cached is None or cached[0] != key:  # first use, or the settings changed
            timeouts = {"connect_timeout": c.connect_timeout_seconds, "read_timeout": c.read_timeout_seconds}
            client = RecordedClient(
                c.url, c.database, c.username, c.password, session=self.ctx.session, **timeouts
            )
            cached = self.ctx.cache["tryton.client"] = (key, client)
        client = cached[1]
        await client.ensure_login()
        return client

    # -- sales orders -----------------------------------------------------------------------

    async def _sales(self, client: RecordedClient, reference: str) -> list[dict]:
        domain = [("reference", "=", reference)]
        return await client.search_read("sale.sale", domain, SALE_FIELDS, order=[("id", "ASC")])

    async def find_sales_order(self, external_reference: str) -> ErpSalesOrder | None:
        sales = await self._sales(await self._client(), external_reference)
        if live := _live(sales):
            return _sales_order(live[0])
        if any(s["state"] in UNCONFIRMED for s in sales):
            return None  # an interrupted create: creating again confirms it
        return _sales_order(sales[0]) if sales else None

    async def create_sales_order(self, order: SalesOrderRequest) -> ErpSalesOrder:
        client = await self._client()
        sales = await self._sales(client, order.external_reference)
        if live := _live(sales):
            return _sales_order(live[0])
        pending = [s["id"] for s in sales if s["state"] in UNCONFIRMED]
        sale_id = pending[0] if pending else await self._create_sale(client, order)
        await client.quote_and_confirm(sale_id)
        (row,) = await client.read("sale.sale", [sale_id], SALE_FIELDS)
        return _sales_order(row)

    async def _create_sale(self, client: RecordedClient, order: SalesOrderRequest) -> int:
        party = await self._party(client, order)
        address = await self._address(client, party, order.ship_to) if order.ship_to else None
        products = await client.find_products_by_code([line.item_code for line in order.lines])
        if missing := sorted({line.item_code for line in order.lines} - set(products)):
            raise PermanentError(
                "mapping.sku_unknown",
                f"no Tryton product has the code(s) {', '.join(missing)}",
                "Create the products in Tryton or map the items to codes that exist, then retry.",
            )
        lines = [
            {"product": products[ln.item_code]["id"], "quantity": ln.quantity, "unit_price": _net(ln)}
            for ln in order.lines
        ]
        return await client.create_sale(
            party, lines, reference=order.external_reference, currency=order.currency, address=address
        )

    async def _party(self, client: RecordedClient, order: SalesOrderRequest) -> int:
        if order.customer_code:
            party = await client.find_party_by_code_or_name(code=order.customer_code)
            if party is None:
                raise PermanentError(
                    "mapping.customer_unknown",
                    f"no Tryton party has the code {order.customer_code!r}",
                    "Fix the customer mapping, or leave the code empty to create the customer.",
                )
            return party
        party = await client.find_party_by_code_or_name(name=order.customer_name)
        if party is not None:
            return party
        where = order.bill_to or order.ship_to
        return await client.create_party(order.customer_name, _street(where) if where else None)

    async def _address(self, client: RecordedClient, party: int, ship_to: Address) -> int:
        """The party's address equal to `ship_to`, created when it has none."""
        values: dict[str, Any] = {k: v for k, v in _street(ship_to).items() if k != "country"}
        if ship_to.name:
            values["party_name"] = ship_to.name
        if ship_to.country:  # unknown: `mapping.country_unknown`
            values["country"] = await client._lookup_code(
                "country.country", ship_to.country, "mapping.country_unknown"
            )
        domain = [("party", "=", party), *((k, "=", v) for k, v in values.items())]
        found = await client.call("party.address", "search", domain, 0, 1, None)
        if found:
            return found[0]
        (address,) = await client.call("party.address", "create", [{"party": party, **values}])
        return address

    async def cancel_sales_order(self, sales_order_id: str) -> None:
        client, sale_id = await self._client(), _id(sales_order_id)
        (sale,) = await client.read("sale.sale", [sale_id], ["number", "state", "shipments", "invoices"])
        state = sale["state"]
        if state == "cancelled":
            return
        if state == "confirmed":
            await client.call("sale.sale", "draft", [sale_id])
        if state in ("draft", "quotation", "confirmed"):
            await client.call("sale.sale", "cancel", [sale_id])
            return
        # Processing: Tryton cannot cancel the sale itself; cancelling what it would ship and
        # bill stops it, and leaves the sale as an exception for Tryton's sales desk.
        shipments = await client.read("stock.shipment.out", sale["shipments"], ["state"])
        invoices = await client.read("account.invoice", sale["invoices"], ["state"])
        if state == "done" or any(s["state"] in ("shipped", "done") for s in shipments):
            raise _too_late(sale, "has shipped", "Handle it as a return in Tryton.")
        if any(i["state"] in POSTED for i in invoices):
            raise _too_late(sale, "is invoiced", "Issue a credit note in Tryton.")
        open_shipments = [s["id"] for s in shipments if s["state"] != "cancelled"]
        drafts = [i["id"] for i in invoices if i["state"] != "cancelled"]
        if open_shipments:
            await client.call("stock.shipment.out", "cancel", open_shipments)
        if drafts:
            await client.call("account.invoice", "cancel", drafts)

    async def shipments_of(self, sales_order_id: str) -> list[ErpShipment]:
        """The sale's customer shipments (ErpFulfilment), completed by warehouse staff in Tryton."""
        return await erp_shipments(await self._client(), _id(sales_order_id))

    # -- master data ------------------------------------------------------------------------

    async def prices(self, item_codes: list[str], currency: str) -> dict[str, Decimal]:
        """List prices, which Tryton keeps in the company's currency (none in any other)."""
        client = await self._client()
        if currency.upper() != await self._company_currency(client):
            return {}
        products = await client.find_products_by_code(list(dict.fromkeys(item_codes)))
        return {code: Decimal(p["list_price"]) for code, p in products.items() if p["list_price"] is not None}

    async def _company_currency(self, client: RecordedClient) -> str:
        if client.company_currency is None:
            (company,) = await client.read("company.company", [client.context["company"]], ["currency"])
            (currency,) = await client.read("currency.currency", [company["currency"]], ["code"])
            client.company_currency = currency["code"]
        return client.company_currency

    async def stock(self, item_codes: list[str]) -> dict[tuple[str, str], Decimal]:
        """On hand per warehouse: the products' `quantity` with each warehouse as location."""
        client = await self._client()
        products = await client.find_products_by_code(list(dict.fromkeys(item_codes)))
        ids = [p["id"] for p in products.values()]
        warehouses = await client.search_read(
            "stock.location", [("type", "=", "warehouse")], ["code", "name"]
        )
        found: dict[tuple[str, str], Decimal] = {}
        for warehouse in warehouses if ids else []:
            context = {"locations": [warehouse["id"]], "with_childs": True}
            rows = await client.call_in(context, "product.product", "read", ids, ["code", "quantity"])
            code = warehouse["code"] or warehouse["name"]
            found.update({(code, r["code"]): Decimal(str(r["quantity"])) for r in rows})
        return found

    # -- invoices ---------------------------------------------------------------------------

    async def _invoices_of(self, client: RecordedClient, shipment_reference: str) -> list[dict]:
        domain = [("reference", "=", shipment_reference), ("type", "=", "out"), ("state", "!=", "cancelled")]
        return await client.search_read("account.invoice", domain, ["state"], order=[("id", "ASC")])

    async def find_invoice(self, shipment_reference: str) -> str | None:
        found = await self._invoices_of(await self._client(), shipment_reference)
        posted = [i for i in found if i["state"] in POSTED]
        return str(posted[0]["id"]) if posted else None

    async def post_invoice(self, invoice: InvoiceRequest) -> str:
        client = await self._client()
        # An earlier attempt may have written the reference and stopped before posting.
        marked = await self._invoices_of(client, invoice.shipment_reference)
        if not marked:
            invoices = await client.read_invoices(_id(invoice.sales_order_id))
            drafts = [i for i in invoices if i["type"] == "out" and i["state"] in ("draft", "validated")]
            if not drafts:
                posted = [i for i in invoices if i["type"] == "out" and i["state"] in POSTED]
                if posted:  # invoiced as a whole at an earlier shipment
                    return str(posted[-1]["id"])
                raise PermanentError(
                    "business.nothing_to_invoice",
                    f"Tryton sale {invoice.sales_order_id} has no customer invoice to post",
                    "Check the sale's invoice method in Tryton (the hub expects 'On Order Processed').",
                )
            marked = drafts[:1]
            await client.call(
                "account.invoice", "write", [marked[0]["id"]], {"reference": invoice.shipment_reference}
            )
        if marked[0]["state"] not in POSTED:
            await client.post_invoice(marked[0]["id"])
        return str(marked[0]["id"])


def _live(sales: list[dict]) -> list[dict]:
    return [s for s in sales if s["state"] not in (*UNCONFIRMED, "cancelled")]


def _sales_order(row: dict) -> ErpSalesOrder:
    return ErpSalesOrder(str(row["id"]), row.get("number"), row["reference"], row["state"])


def _id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise PermanentError("validation.erp_id", f"{value!r} is not a Tryton record id") from None


def _net(line: Any) -> Decimal:
    """The unit price after the line's discount (a money amount for the whole line)."""
    if not line.discount:
        return line.unit_price
    net = (line.unit_price * line.quantity - line.discount) / line.quantity
    return net.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def _street(address: Address) -> dict[str, Any]:
    street = "\n".join(x for x in (address.line1, address.line2, address.line3) if x)
    values = {
        "street": street,
        "postal_code": address.postal_code,
        "city": address.city,
        "country": address.country,
    }
    return {k: v for k, v in values.items() if v}


def _too_late(sale: dict, what: str, hint: str) -> PermanentError:
    return PermanentError(
        "business.cannot_cancel", f"Tryton sale {sale['number'] or sale['id']} {what}", hint
    )


def build(config: Any, ctx: ConnectorContext) -> TrytonErp:
    """The connector for one handler call; `config` is the connection's opened config."""
    opened = config if isinstance(config, TrytonConfig) else TrytonConfig.model_validate(config)
    return TrytonErp(opened, ctx)


KIND = ConnectorKind("tryton", build=build)
