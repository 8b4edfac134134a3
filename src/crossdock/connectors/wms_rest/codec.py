"""The generic REST WMS's JSON ⇄ Crossdock's releases, warehouse events and shipments. Pure.

An event body is `{"type": "release.<topic>", "timestamp", "data": {release_reference,
warehouse, order_reference, status, ...}}`; `picked`/`short_picked` add per-line
`{line_reference, item, quantity, picked, short}`, `packed` adds `packages` (a count) and
`shipped` adds one `shipment` with carrier, service, tracking number and per-line
quantities. Line references are the hub's order line ids, echoed from the release.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from crossdock.connectors.capabilities import ReleaseRequest
from crossdock.connectors.codec_errors import Field, build
from crossdock.connectors.erp_rest.codec import address
from crossdock.domain.shipments import (
    Package,
    Shipment,
    ShipmentLine,
    WarehouseEvent,
    WarehouseEventKind,
)
from crossdock.errors import PermanentError

SYSTEM = "wms"
TOPICS = ("picked", "short_picked", "packed", "shipped")


@dataclass(frozen=True, slots=True)
class WmsEvent:
    """One warehouse event about one release."""

    topic: str  # picked | short_picked | packed | shipped
    release_reference: str
    warehouse: str
    order_reference: str  # the hub's order reference, carried by the release
    status: str  # the release's status after the event
    occurred_at: datetime | None
    lines: tuple[WarehouseEvent, ...] = ()  # per order line; none for `packed`
    shipment: Shipment | None = None  # `shipped` only
    final: bool = False  # `shipped`: the release's last shipment
    packages: int | None = None  # `packed` only


# --------------------------------------------------------------------------- outbound


def whole(quantity: Decimal, where: str) -> int:
    """The warehouse takes whole units only."""
    if quantity <= 0 or quantity != quantity.to_integral_value():
        raise PermanentError(
            "validation.fractional_quantity",
            f"{where}: the warehouse takes positive whole quantities, got {quantity}",
            "Release whole units: check the unit of measure mapping of the item.",
        )
    return int(quantity)


def release_body(release: ReleaseRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "release_reference": release.release_reference,
        "warehouse": release.warehouse,
        "order_reference": release.order_reference,
        "lines": [
            {
                "line_reference": line.line_ref,
                "item": line.item_code,
                "quantity": whole(line.quantity, f"line {line.line_ref}"),
            }
            for line in release.lines
        ],
    }
    if (ship_to := address(release.ship_to)) is not None:
        body["ship_to"] = ship_to
    # Not in the contract's example: requested carrier and service, for WMSs that route on them.
    body.update({k: v for k, v in (("carrier", release.carrier), ("service", release.service)) if v})
    return body


def release_reference(payload: Any) -> str:
    return Field(payload, "", SYSTEM).required()["release_reference"].text()


def existing_release_reference(payload: Any) -> str:
    """The reference of the release a 409 `duplicate_release` answer carries."""
    return Field(payload, "", SYSTEM).required()["release"].required()["release_reference"].text()


# --------------------------------------------------------------------------- events


def parse(body: bytes | str | dict) -> Any:
    if isinstance(body, dict):
        return body
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Field(None, "", SYSTEM).fail("the event body is not JSON") from None


def decode_event(body: bytes | str | dict) -> WmsEvent:
    event = Field(parse(body), "", SYSTEM).required()
    kind = event["type"].text()
    topic = kind.removeprefix("release.")
    if topic not in TOPICS:
        raise event["type"].fail(f"unknown event type {kind!r}; known: release.{{{','.join(TOPICS)}}}")
    data = event["data"].required()
    occurred = event["timestamp"].opt_timestamp()
    order_ref = data["order_reference"].text()
    common = {
        "topic": topic,
        "release_reference": data["release_reference"].text(),
        "warehouse": data["warehouse"].text(),
        "order_reference": order_ref,
        "status": data["status"].text(),
        "occurred_at": occurred,
    }
    if topic in ("picked", "short_picked"):
        return WmsEvent(
            **common, lines=tuple(_picked(line, order_ref, occurred) for line in data["lines"].items())
        )
    if topic == "packed":
        return WmsEvent(**common, packages=int(data["packages"].count()))
    shipment = _shipment(data["shipment"].required(), order_ref, occurred)
    shipped = tuple(
        WarehouseEvent(
            WarehouseEventKind.SHIPPED,
            order_ref,
            line.line_id,
            line.quantity,
            package_reference=shipment.shipment_id,
            occurred_at=shipment.shipped_at,
        )
        for line in shipment.lines
    )
    return WmsEvent(**common, lines=shipped, shipment=shipment, final=data["shipment"]["final"].flag())


def _picked(line: Field, order_ref: str, occurred: datetime | None) -> WarehouseEvent:
    requested, picked = line["quantity"].count(), line["picked"].count()
    short = picked < requested
    return build(
        line,
        WarehouseEvent,
        WarehouseEventKind.SHORT_PICKED if short else WarehouseEventKind.PICKED,
        order_ref,
        line["line_reference"].ident(),
        picked,
        requested=requested if short else None,
        occurred_at=occurred,
    )


def _shipment(data: Field, order_ref: str, occurred: datetime | None) -> Shipment:
    reference = data["shipment_reference"].text()
    lines = tuple(
        build(
            line,
            ShipmentLine,
            line["line_reference"].ident(),
            line["quantity"].count(),
            line["item"].opt_text(),
        )
        for line in data["lines"].items()
    )
    tracking = data["tracking_number"].opt_text()
    return build(
        data,
        Shipment,
        shipment_id=reference,
        order_ref=order_ref,
        lines=lines,
        carrier=data["carrier"].opt_text(),
        service=data["service"].opt_text(),
        tracking_number=tracking,
        shipped_at=data["shipped_at"].opt_timestamp() or occurred,
        packages=(Package(reference, tracking_number=tracking, lines=lines),),
        location_ref=data["warehouse"].opt_text(),
    )
