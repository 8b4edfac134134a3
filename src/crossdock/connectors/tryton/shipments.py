"""A Tryton sale's customer shipments (`stock.shipment.out`) as `ErpShipment`s.

Warehouse staff complete the shipment in Tryton and write the carrier's tracking number
into its `reference`; Tryton itself may leave the sale's reference there, which is no
tracking number. The carrier is read when the database has carriers (module `carrier`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from crossdock.connectors.erp_fulfilment import ErpShipment
from crossdock.connectors.tryton.client import TrytonClient


async def shipments_of(client: TrytonClient, sale_id: int) -> list[ErpShipment]:
    (sale,) = await client.read("sale.sale", [sale_id], ["reference"])
    rows = sorted(await client.read_shipments(sale_id), key=lambda r: r["id"])
    products = {m["product"] for r in rows for m in r["moves"]}
    codes = {p["id"]: p["code"] for p in await client.read("product.product", sorted(products), ["code"])}
    carriers = await _carriers(client, [r["id"] for r in rows])
    found = []
    for row in rows:
        lines: dict[str, Decimal] = {}
        for move in row["moves"]:
            if move["state"] == "cancelled":
                continue
            code = codes.get(move["product"]) or str(move["product"])
            lines[code] = lines.get(code, Decimal(0)) + Decimal(str(move["quantity"]))
        reference = row.get("reference") or None
        found.append(
            ErpShipment(
                reference=row["number"] or str(row["id"]),
                state=row["state"],
                carrier=carriers.get(row["id"]),
                tracking_number=None if reference == sale["reference"] else reference,
                lines=tuple(lines.items()),
                shipped_at=_moment(row.get("effective_date")),
            )
        )
    return found


async def _carriers(client: Any, shipment_ids: list[int]) -> dict[int, str]:
    """Carrier names per shipment; none when Tryton has no carriers installed."""
    fields = getattr(client, "_shipment_fields", None)
    if fields is None:
        fields = client._shipment_fields = set(
            await client.call("stock.shipment.out", "fields_get", ["carrier"])
        )
    if "carrier" not in fields or not shipment_ids:
        return {}
    rows = await client.read("stock.shipment.out", shipment_ids, ["carrier"])
    carrier_ids = sorted({r["carrier"] for r in rows if r["carrier"]})
    names = {c["id"]: c["rec_name"] for c in await client.read("carrier", carrier_ids, ["rec_name"])}
    return {r["id"]: names[r["carrier"]] for r in rows if r["carrier"] in names}


def _moment(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return None
