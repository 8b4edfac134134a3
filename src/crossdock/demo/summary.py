"""The demo's summary, counted from the sandbox's own state (`GET /_sandbox/state`).

Every count below is what the simulated Shopify store, Amazon account, ERP and WMS hold,
never what the hub believes it did:

- `channel_orders`: orders the Shopify store and the Amazon account hold (all statuses).
- `erp_sales_orders`: sales orders in the ERP; `duplicate_sales_orders`: sales orders
  beyond the first for one `external_reference` (the ERP does not deduplicate).
- `shipments`: parcels the WMS shipped.
- `shipment_confirmations`: Shopify fulfillments plus Amazon `confirmShipment` calls the
  sandbox accepted (204); `duplicate_confirmations`: confirmations beyond the first for
  one tracking number (one WMS parcel is confirmed to its channel once).
- `invoices`: invoices in the ERP.
- `oversold_units`: units that left, or were promised to leave, beyond what was sold or
  stocked: per channel order line, units the WMS shipped or the channel was told were
  shipped beyond the quantity the customer ordered; plus, per ERP item, stock invoiced
  below zero on hand. Both parts are in `oversold_detail`.
- `unposted_channel_orders`: open channel orders with no ERP sales order, and how many of
  them contain a SKU the demo left unmapped (the sandbox's side of the exceptions).

`exceptions_open` (by category) cannot come from the sandbox: an exception is the hub's
own record of an order it parked. It is read from the hub's database by the runner and
passed in; `unposted_channel_orders` is the sandbox's corroboration.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

KEYS = (
    "channel_orders",
    "erp_sales_orders",
    "duplicate_sales_orders",
    "shipments",
    "shipment_confirmations",
    "duplicate_confirmations",
    "invoices",
    "oversold_units",
    "exceptions_open",
)


def _confirmations(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Every accepted confirmation: {order, tracking, lines {line id: qty}}."""
    out = []
    for f in state["shopify"]["fulfillments"]:
        lines = {str(li["line_item_id"]): int(li["quantity"]) for li in f["line_items"]}
        numbers = f.get("tracking_numbers") or [None]
        for number in numbers:
            out.append({"order": f"shopify:{f['order_id']}", "tracking": number, "lines": lines})
    for c in state["amazon"]["shipment_confirmations"]:
        if c.get("status") != 204:
            continue
        package = (c.get("body") or {}).get("packageDetail") or {}
        lines = {str(i["orderItemId"]): int(i["quantity"]) for i in package.get("orderItems", [])}
        out.append(
            {"order": f"amazon:{c['order_id']}", "tracking": package.get("trackingNumber"), "lines": lines}
        )
    return out


def channel_orders(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Hub order reference → {channel, cancelled, lines {line id: qty}, skus}."""
    orders: dict[str, dict[str, Any]] = {}
    for oid, o in state["shopify"]["orders"].items():
        orders[f"shopify:{oid}"] = {
            "channel": "shopify",
            "cancelled": bool(o["cancelled"]),
            "lines": {str(li["id"]): int(li["quantity"]) for li in o["lines"]},
            "skus": {li["sku"] for li in o["lines"]},
        }
    for oid, o in state["amazon"]["orders"].items():
        orders[f"amazon:{oid}"] = {
            "channel": "amazon",
            "cancelled": o["status"] == "Canceled",
            "lines": {str(i["id"]): int(i["ordered"]) for i in o["items"]},
            "skus": {i["sku"] for i in o["items"]},
        }
    return orders


def counts(state: dict[str, Any]) -> dict[str, int]:
    """The live view's counters (cheap enough to compute every second)."""
    erp, wms = state["erp"], state["wms"]
    confirmations = _confirmations(state)
    return {
        "shopify_orders": len(state["shopify"]["orders"]),
        "amazon_orders": len(state["amazon"]["orders"]),
        "channel_orders": len(state["shopify"]["orders"]) + len(state["amazon"]["orders"]),
        "erp_sales_orders": len(erp["sales_orders"]),
        "shipments": len(wms["shipments"]),
        "shipment_confirmations": len(confirmations),
        "invoices": len(erp["invoices"]),
        "availability_published": availability_published(state),
    }


def availability_published(state: dict[str, Any]) -> int:
    """Stock level updates the channels received: Shopify `inventorySetQuantities` changes,
    Amazon feeds submitted and Listings Items patches, as the sandbox recorded them."""
    feeds = state.get("amazon_feeds") or {}
    return (
        len(state["shopify"].get("inventory_changes", []))
        + len(feeds.get("feeds", {}))
        + len(feeds.get("listings_patches", []))
    )


def build(
    state: dict[str, Any],
    exceptions_open: dict[str, int],
    *,
    unmapped: tuple[str, ...] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    erp, wms = state["erp"], state["wms"]
    orders = channel_orders(state)
    by_ref = Counter(so["external_reference"] for so in erp["sales_orders"].values())
    confirmations = _confirmations(state)
    by_tracking = Counter(c["tracking"] for c in confirmations if c["tracking"])

    # Oversold, part 1: per order line, units shipped (WMS) or confirmed (channel) beyond ordered.
    order_of_release = {ref: r["order_reference"] for ref, r in wms["releases"].items()}
    shipped: dict[str, Counter] = {}
    for sh in wms["shipments"]:
        ref = order_of_release.get(sh["release_reference"], "")
        c = shipped.setdefault(ref, Counter())
        for li in sh["lines"]:
            c[str(li["line_reference"])] += int(li["quantity"])
    confirmed: dict[str, Counter] = {}
    for conf in confirmations:
        confirmed.setdefault(conf["order"], Counter()).update(conf["lines"])
    beyond_order = 0
    for ref in set(shipped) | set(confirmed):
        ordered = orders.get(ref, {}).get("lines", {})
        for line in set(shipped.get(ref, {})) | set(confirmed.get(ref, {})):
            out = max(shipped.get(ref, Counter())[line], confirmed.get(ref, Counter())[line])
            beyond_order += max(0, out - ordered.get(line, 0))
    # Oversold, part 2: ERP stock invoiced below zero on hand.
    below_zero = sum(max(0, -int(float(q))) for q in erp.get("stock", {}).values())

    open_orders = {ref: o for ref, o in orders.items() if not o["cancelled"]}
    unposted = [ref for ref in open_orders if ref not in by_ref]
    unposted_unmapped = [ref for ref in unposted if open_orders[ref]["skus"] & set(unmapped)]
    faults = state.get("faults") or {}
    injected = {s: f.get("injected") for s, f in faults.items() if f.get("injected")}

    summary = {
        "channel_orders": len(orders),
        "channel_orders_by_channel": dict(Counter(o["channel"] for o in orders.values())),
        "cancelled_channel_orders": len(orders) - len(open_orders),
        "erp_sales_orders": len(erp["sales_orders"]),
        "duplicate_sales_orders": sum(n - 1 for n in by_ref.values() if n > 1),
        "shipments": len(wms["shipments"]),
        "shipment_confirmations": len(confirmations),
        "duplicate_confirmations": sum(n - 1 for n in by_tracking.values() if n > 1),
        "invoices": len(erp["invoices"]),
        "oversold_units": beyond_order + below_zero,
        "oversold_detail": {
            "shipped_or_confirmed_beyond_ordered": beyond_order,
            "erp_stock_below_zero": below_zero,
        },
        "exceptions_open": dict(sorted(exceptions_open.items())),
        "unposted_channel_orders": {"total": len(unposted), "with_unmapped_sku": len(unposted_unmapped)},
        "availability_published": availability_published(state),
        "price_changes": len(state["shopify"].get("price_changes", [])),
        "faults_injected": injected,
        "unmapped_skus": list(unmapped),
    }
    if extra:
        summary.update(extra)
    return summary
