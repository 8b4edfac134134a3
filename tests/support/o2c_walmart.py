"""The Walmart channel in the order-to-cash harness: the sandbox seller as a connection of the
tenant, and what the sandbox says happened to Walmart orders.

`examples/sandbox.yaml` carries the same connection and mappings for the default ports."""

from __future__ import annotations

from typing import Any

from crossdock.connectors.walmart.config import DEFAULT_RATE_LIMITS
from crossdock.sandbox.state import WalmartSellerConfig

SELLER = WalmartSellerConfig()


def walmart_connection(base: str, speed: float = 1.0, connection_id: str = "walmart") -> dict[str, Any]:
    """The sandbox seller as an order channel; its limits are Walmart's × the sandbox's speed."""
    limits = {op: {"per_minute": n * speed, "burst": n} for op, n in DEFAULT_RATE_LIMITS.items()}
    return {
        "id": connection_id,
        "kind": "walmart",
        "config": {
            "base_url": f"{base.rstrip('/')}/walmart",
            "client_id": SELLER.client_id,
            "client_secret": SELLER.client_secret,
            "poll_interval_seconds": 1 if speed > 1 else 60,
            "poll_overlap_seconds": 10,
            "timeout_seconds": 5,
            "rate_limits": limits,
            "feeds_per_hour": min(1000, round(10 * speed)),  # the sandbox's window runs `speed` × faster
        },
    }


def with_walmart(doc: dict[str, Any], base: str, speed: float, skus: list[str]) -> dict[str, Any]:
    """`doc` (one tenant) with the Walmart connection and identity mappings for `skus`."""
    tenant = doc["tenants"][0]
    tenant["connections"].append(walmart_connection(base, speed))
    mappings = tenant["mappings"]
    mappings["sku"] += [{"channel": "walmart", "sku": sku, "item": sku} for sku in skus]
    mappings["tax_codes"].append({"channel": "walmart", "title": "*", "tax_code": "US-MARKETPLACE-FACILITATOR"})
    mappings["shipping_methods"].append({"channel": "walmart", "method": "*", "carrier": "UPS", "service": "GROUND"})
    mappings["customers"]["unmatched"]["walmart"] = {"policy": "create"}
    return doc


def walmart_orders(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Hub order ref → facts, like the ledger's other channels."""
    out = {}
    for po, o in (state.get("walmart") or {}).get("orders", {}).items():
        out[f"walmart:{po}"] = {
            "channel": "walmart", "id": po,
            "cancelled": all(li["cancelled"] == li["ordered"] for li in o["lines"]),
            "lines": {li["line"]: li["ordered"] for li in o["lines"]},
            "skus": {li["sku"] for li in o["lines"]},
        }  # fmt: skip
    return out


def walmart_confirmations(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Tracking number → the shipping updates Walmart took under it (order, line → units)."""
    confirmed: dict[str, list[dict[str, Any]]] = {}
    for update in (state.get("walmart") or {}).get("shipments", []):
        if update["status"] != 200:
            continue
        by_tracking: dict[str, dict[str, int]] = {}
        for li in update["lines"]:
            lines = by_tracking.setdefault(li["tracking_number"], {})
            lines[li["line"]] = lines.get(li["line"], 0) + li["quantity"]
        for number, lines in by_tracking.items():
            confirmed.setdefault(number, []).append({"order": f"walmart:{update['order_id']}", "lines": lines})
    return confirmed
