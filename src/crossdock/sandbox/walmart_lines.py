"""Walmart orders as the sandbox seller holds them: the payload of a new order, and the
statuses of its lines (`Created` → `Acknowledged` → `Shipped` with tracking, or
`Cancelled` with a reason), with the checks Walmart makes on shipping updates and
cancellations before it applies any of their lines."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import orjson

from crossdock.sandbox.traffic import CENT, TAX_RATE, CatalogItem, person

METHOD_CODES = frozenset({"Standard", "Express", "OneDay", "Freight", "WhiteGlove", "Value"})
CANCEL_REASONS = frozenset({"CUSTOMER_REQUESTED_SELLER_TO_CANCEL", "SELLER_CANCEL_PRICING_ERROR",
                            "SELLER_CANCEL_OUT_OF_STOCK", "SELLER_CANCEL_FRAUD_STOP_SHIPMENT",
                            "SELLER_CANCEL_ADDRESS_NOT_SERVICEABLE"})  # fmt: skip
OPEN = ("Created", "Acknowledged")
WORDS = ("Created", "Acknowledged", "Shipped", "Cancelled")


class Refused(Exception):
    """A request Walmart answers 400 (or 404) with an error body."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.description, self.status = description, status


def ms(ts: float) -> int:
    return int(ts * 1000)


def quantity(amount: int) -> dict[str, str]:
    return {"unitOfMeasurement": "EACH", "amount": str(amount)}


def walmart_order(rng: random.Random, *, lines: list[tuple[CatalogItem, int]], now: float) -> dict[str, Any]:
    """A seller-fulfilled order as getAnOrder returns it, every line `Created`. `ItemPrice`
    is the unit price."""
    who = person(rng)
    order_lines = []
    for number, (item, qty) in enumerate(lines, start=1):
        tax = (item.price * qty * TAX_RATE).quantize(CENT)
        order_lines.append({
            "lineNumber": str(number), "item": {"productName": item.title, "sku": item.sku},
            "charges": {"charge": [{
                "chargeType": "PRODUCT", "chargeName": "ItemPrice",
                "chargeAmount": {"currency": "USD", "amount": float(item.price)},
                "tax": {"taxName": "Tax1", "taxAmount": {"currency": "USD", "amount": float(tax)}},
            }]},
            "orderLineQuantity": quantity(qty), "statusDate": ms(now),
            "orderLineStatuses": {"orderLineStatus": [{"status": "Created", "statusQuantity": quantity(qty)}]},
            "fulfillment": {"fulfillmentOption": "S2H", "shipMethod": "STANDARD"},
        })  # fmt: skip
    return {
        "purchaseOrderId": str(rng.randrange(10**12, 10**13)),
        "customerOrderId": str(rng.randrange(10**12, 10**13)),
        "customerEmailId": f"{rng.getrandbits(128):032X}@relay.walmart.com",
        "orderType": "REGULAR", "orderDate": ms(now),
        "shippingInfo": {
            "phone": who["phone"].replace("-", ""), "estimatedDeliveryDate": ms(now + 5 * 86_400),
            "estimatedShipDate": ms(now + 2 * 86_400), "methodCode": "Standard",
            "postalAddress": {"name": who["name"], "address1": who["address1"], "address2": None,
                              "city": who["city"], "state": who["province_code"], "postalCode": who["zip"],
                              "country": "USA", "addressType": "RESIDENTIAL"},
        },
        "orderLines": {"orderLine": order_lines},
    }  # fmt: skip


# -- line statuses ---------------------------------------------------------------------------------


def lines_of(order: dict[str, Any]) -> list[dict[str, Any]]:
    return order["orderLines"]["orderLine"]


def amount(line: dict[str, Any], word: str) -> int:
    statuses = line["orderLineStatuses"]["orderLineStatus"]
    return sum(int(s["statusQuantity"]["amount"]) for s in statuses if s["status"] == word)


def move(line: dict[str, Any], sources: tuple[str, ...], units: int, status: dict[str, Any], now: float) -> None:
    """`units` of `line` from the `sources` statuses (in order) to `status`, at `now`."""
    statuses = line["orderLineStatuses"]["orderLineStatus"]
    left = units
    for s in statuses:
        if s["status"] in sources and left:
            moved = min(left, int(s["statusQuantity"]["amount"]))
            s["statusQuantity"] = quantity(int(s["statusQuantity"]["amount"]) - moved)
            left -= moved
    kept = [s for s in statuses if int(s["statusQuantity"]["amount"]) > 0]
    line["orderLineStatuses"]["orderLineStatus"] = [*kept, {**status, "statusQuantity": quantity(units)}]
    line["statusDate"] = ms(now)


def sources(word: str) -> tuple[str, ...]:
    """What a shipping update (acknowledged units only) or a cancellation (any open unit) takes."""
    return ("Acknowledged",) if word == "Shipped" else OPEN


# -- shipping updates and cancellations ----------------------------------------------------------


def changes(order: dict[str, Any], raw: bytes, root: str, word: str) -> list[tuple[dict, int, dict]]:
    """Every (line, units, status) an `orderShipment` or `orderCancellation` asks for; all
    checked before any is applied. Raises Refused."""
    try:
        wanted = orjson.loads(raw)[root]["orderLines"]["orderLine"]
        asked = [(str(li["lineNumber"]), s) for li in wanted for s in li["orderLineStatuses"]["orderLineStatus"]]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise Refused(f"the body is not an {root[0].upper()}{root[1:]}") from None
    lines = {li["lineNumber"]: li for li in lines_of(order)}
    taken: Counter[str] = Counter()
    found = []
    for number, status in asked:
        line = lines.get(number)
        if line is None:
            raise Refused(f"purchase order {order['purchaseOrderId']} has no line {number}")
        units = (status.get("statusQuantity") or {}).get("amount")
        units = int(units) if str(units).isdigit() else 0
        if status.get("status") != word or units <= 0:
            raise Refused(f"line {number}: status must be {word} with a whole quantity above 0")
        (_check_shipped if word == "Shipped" else _check_cancelled)(line, status)
        taken[number] += units
        available = sum(amount(line, s) for s in sources(word))
        if taken[number] > available:
            raise Refused(f"line {number}: {taken[number]} units asked, {available} open")
        found.append((line, units, {k: v for k, v in status.items() if k != "statusQuantity"}))
    return found


def _check_shipped(line: dict, status: dict) -> None:
    number = line["lineNumber"]
    if amount(line, "Created"):
        raise Refused(f"line {number} is not acknowledged; acknowledge the order first")
    info = status.get("trackingInfo") or {}
    carrier = info.get("carrierName") or {}
    if not (carrier.get("carrier") or carrier.get("otherCarrier")) or not info.get("trackingNumber"):
        raise Refused(f"line {number}: trackingInfo needs carrierName and trackingNumber")
    if info.get("methodCode") not in METHOD_CODES or not isinstance(info.get("shipDateTime"), int):
        raise Refused(f"line {number}: trackingInfo needs methodCode and shipDateTime (epoch ms)")
    if carrier.get("otherCarrier") and not info.get("trackingURL"):
        raise Refused(f"line {number}: otherCarrier needs a trackingURL")


def _check_cancelled(line: dict, status: dict) -> None:
    if status.get("cancellationReason") not in CANCEL_REASONS:
        raise Refused(f"line {line['lineNumber']}: unknown cancellationReason {status.get('cancellationReason')!r}")


def recorded(number: str, units: int, status: dict[str, Any]) -> dict[str, Any]:
    """One line of a shipping update or cancellation as `/_sandbox/state` reports it."""
    info = status.get("trackingInfo") or {}
    carrier = info.get("carrierName") or {}
    return {
        "line": number, "quantity": units, "carrier": carrier.get("carrier") or carrier.get("otherCarrier"),
        "method": info.get("methodCode"), "tracking_number": info.get("trackingNumber"),
        "tracking_url": info.get("trackingURL"), "reason": status.get("cancellationReason"),
    }  # fmt: skip


def line_state(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "line": line["lineNumber"], "sku": line["item"]["sku"], "ordered": int(line["orderLineQuantity"]["amount"]),
        **{w.lower(): amount(line, w) for w in WORDS},
    }  # fmt: skip
