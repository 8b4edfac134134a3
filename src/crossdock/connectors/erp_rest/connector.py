"""`RestErp`: the Erp capability over the generic REST ERP contract.

The ERP does not deduplicate sales orders or invoices; the hub does. Every create carries
its reference (`external_reference`, `shipment_reference`, also as `Idempotency-Key` for
ERPs that honour it), and after an ambiguous failure the flow calls `find_sales_order` /
`find_invoice` before creating again. An ERP that refuses a duplicate reference with
409 `duplicate_reference` is answered with the existing sales order.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from crossdock.connectors.capabilities import ErpSalesOrder, InvoiceRequest, SalesOrderRequest
from crossdock.connectors.catalog import ItemPage
from crossdock.connectors.erp_rest import codec, items
from crossdock.connectors.erp_rest.client import RestClient, refusal
from crossdock.connectors.erp_rest.config import ErpRestConfig
from crossdock.connectors.registry import ConnectorContext, ConnectorKind
from crossdock.domain.pricing import BasePrice

ITEMS_PER_CALL = 50  # item codes per price or stock lookup, to keep URLs short


class RestErp:
    def __init__(self, config: ErpRestConfig, client: RestClient) -> None:
        self.config, self.client = config, client

    # -- sales orders -----------------------------------------------------------------------

    async def find_sales_order(self, external_reference: str) -> ErpSalesOrder | None:
        answer = await self.client.get("/sales-orders", {"external_reference": external_reference})
        return codec.pick_sales_order(answer.body)

    async def create_sales_order(self, order: SalesOrderRequest) -> ErpSalesOrder:
        customer = order.customer_code or await self._customer(order)
        answer = await self.client.post(
            "/sales-orders",
            codec.sales_order_body(order, customer),
            expect=(409,),
            idempotency_key=order.external_reference,
        )
        if answer.status == 409:
            if answer.error_code == "duplicate_reference":
                found = await self.find_sales_order(order.external_reference)
                if found is not None:
                    return found
            raise refusal("erp POST /sales-orders", True, answer)
        return codec.sales_order(answer.body)

    async def _customer(self, order: SalesOrderRequest) -> str:
        """The ERP customer for an order without a customer code: found by reference, or created."""
        listing = await self.client.get("/customers", {"external_ref": codec.customer_ref(order)})
        found = codec.customer_id(listing.body)
        if found is not None:
            return found
        created = await self.client.post("/customers", codec.customer_body(order))
        return codec.created_id(created.body)

    async def cancel_sales_order(self, sales_order_id: str) -> None:
        await self.client.post(f"/sales-orders/{_segment(sales_order_id)}/cancel", {})

    async def cancel_sales_order_lines(
        self, sales_order_id: str, reference: str, lines: tuple[tuple[str, Decimal], ...]
    ) -> None:
        body = {"reference": reference, "lines": [{"item": item, "quantity": codec.text(q)} for item, q in lines]}
        await self.client.post(
            f"/sales-orders/{_segment(sales_order_id)}/cancel-lines", body, idempotency_key=reference
        )

    # -- master data ------------------------------------------------------------------------

    async def prices(self, item_codes: list[str], currency: str) -> dict[str, Decimal]:
        found: dict[str, Decimal] = {}
        for chunk in _chunks(item_codes):
            answer = await self.client.get("/prices", {"item": ",".join(chunk)})
            found.update(codec.prices(answer.body, currency))
        return found

    async def price_list(self, item_codes: list[str] | None, currency: str) -> list[BasePrice]:
        """The base price list (pricing): every item when `item_codes` is None."""
        if item_codes is None:
            return codec.price_list((await self.client.get("/prices")).body, currency)
        found: list[BasePrice] = []
        for chunk in _chunks(item_codes):
            answer = await self.client.get("/prices", {"item": ",".join(chunk)})
            found += codec.price_list(answer.body, currency)
        return found

    async def stock(self, item_codes: list[str]) -> dict[tuple[str, str], Decimal]:
        found: dict[tuple[str, str], Decimal] = {}
        for chunk in _chunks(item_codes):
            answer = await self.client.get("/stock", {"items": ",".join(chunk)})
            found.update(codec.stock(answer.body, self.config.warehouse))
        return found

    async def item_master(self, after: str | None, limit: int) -> ItemPage:
        """One page of the item master, by item code (`ItemMasterSource`)."""
        params = {"limit": str(limit), **({"after": after} if after else {})}
        answer = await self.client.get("/items", params)
        return items.item_page(answer.body)

    # -- invoices ---------------------------------------------------------------------------

    async def find_invoice(self, shipment_reference: str) -> str | None:
        # The contract lists invoices per sales order only; the reference is also sent as a
        # filter an ERP may honour, and the listing is filtered here either way.
        answer = await self.client.get("/invoices", {"shipment_reference": shipment_reference})
        return codec.invoice_for_shipment(answer.body, shipment_reference)

    async def post_invoice(self, invoice: InvoiceRequest) -> str:
        answer = await self.client.post(
            "/invoices", codec.invoice_body(invoice), idempotency_key=invoice.shipment_reference
        )
        return codec.created_id(answer.body)


def _segment(value: str) -> str:
    return quote(value, safe="")


def _chunks(codes: list[str]) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(c for c in codes if c))
    for start in range(0, len(unique), ITEMS_PER_CALL):
        yield unique[start : start + ITEMS_PER_CALL]


def build(config: Any, ctx: ConnectorContext) -> RestErp:
    """The connector for one handler call; `config` is the connection's opened config."""
    opened = config if isinstance(config, ErpRestConfig) else ErpRestConfig.model_validate(config)
    client = RestClient(
        ctx.session,
        base_url=opened.base_url,
        api_key=opened.api_key,
        timeout_seconds=opened.timeout_seconds,
        connection_id=ctx.connection_id,
        record=ctx.record,
        system="erp",
        permit=ctx.permit,
    )
    return RestErp(opened, client)


KIND = ConnectorKind("erp-rest", build=build)
