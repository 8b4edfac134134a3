"""The demo's summary, counted from the sandbox's own state (`GET /_sandbox/state` of each
tenant's systems).

Every count below is what the simulated Shopify store, Amazon account, ERP and WMS of a
tenant hold, never what the hub believes it did:

- `channel_orders`: orders the Shopify store and the Amazon account hold (all statuses).
- `erp_sales_orders`: sales orders in the ERP; `duplicate_sales_orders`: sales orders
  beyond the first for one `external_reference` (the ERP does not deduplicate).
- `shipments`: parcels the WMS shipped.
- `shipment_confirmations`: Shopify fulfillments plus Amazon `confirmShipment` calls the
  sandbox accepted (204); `duplicate_confirmations`: confirmations beyond the first for
  one tracking number (one WMS parcel is confirmed to its channel once).
- `invoices`: invoices in the ERP.
- `oversold_units`: units sold or sent beyond what there was, the sum of
  `oversold_detail`: per item, units on open channel orders beyond the stock the WMS held
  over the run (initial stock + receipts − write-offs: `sold_beyond_stock`); per order
  line, units the WMS shipped or the channel was told were shipped beyond the quantity the
  customer ordered; per ERP item, stock invoiced below zero on hand. The detail also shows
  the units the WMS could not allocate at release time (`out_of_stock_at_release`).
- `stock_events`: `inventory.*` events the WMS sent to the hub (receipts, write-offs,
  shipments, snapshots); `erp_price_changes`: list price changes in the ERP.
- `availability_published`: stock level updates the channels received.
- `unposted_channel_orders`: open channel orders with no ERP sales order, and how many of
  them contain a SKU the demo left unmapped (the sandbox's side of the exceptions).

`exceptions_open` (by category) cannot come from the sandbox: an exception is the hub's
own record of an order it parked. It is read from the hub's database by the runner and
passed in; `unposted_channel_orders` is the sandbox's corroboration.

`build` summarises one tenant; `build_all` adds the tenants up (`tenants` holds each one).
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
# Besides KEYS, added up over the tenants (numbers, or dicts of numbers).
SUMMED = (
    "channel_orders_by_channel",
    "cancelled_channel_orders",
    "oversold_detail",
    "unposted_channel_orders",
    "availability_published",
    "stock_events",
    "erp_price_changes",
    "price_changes",
    "faults_injected",
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
    """Hub order reference → {channel, cancelled, lines {line id: qty}, skus, units {sku: qty}}."""
    orders: dict[str, dict[str, Any]] = {}
    for oid, o in state["shopify"]["orders"].items():
        units: Counter[str] = Counter()
        for li in o["lines"]:
            units[li["sku"]] += int(li["quantity"])
        orders[f"shopify:{oid}"] = {
            "channel": "shopify",
            "cancelled": bool(o["cancelled"]),
            "lines": {str(li["id"]): int(li["quantity"]) for li in o["lines"]},
            "skus": {li["sku"] for li in o["lines"]},
            "units": units,
        }
    for oid, o in state["amazon"]["orders"].items():
        units = Counter()
        for i in o["items"]:
            units[i["sku"]] += int(i["ordered"])
        orders[f"amazon:{oid}"] = {
            "channel": "amazon",
            "cancelled": o["status"] == "Canceled",
            "lines": {str(i["id"]): int(i["ordered"]) for i in o["items"]},
            "skus": {i["sku"] for i in o["items"]},
            "units": units,
        }
    return orders


def stock_events(state: dict[str, Any]) -> int:
    return int((state["wms"].get("stock") or {}).get("events", 0))


def erp_price_changes(state: dict[str, Any]) -> int:
    return len(state["erp"].get("price_changes", []))


def counts(state: dict[str, Any]) -> dict[str, int]:
    """The live view's counters for one tenant (cheap enough to compute every second)."""
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
        "stock_events": stock_events(state),
        "erp_price_changes": erp_price_changes(state),
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


def sold_beyond_stock(state: dict[str, Any], orders: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Per item, units on open channel orders beyond what the WMS held over the run (its
    initial stock plus receipts less write-offs). Empty when the WMS keeps no stock."""
    ledger = (state["wms"].get("stock") or {}).get("ledger") or {}
    if not ledger:
        return {}
    sold: Counter[str] = Counter()
    for o in orders.values():
        if not o["cancelled"]:
            sold.update(o["units"])
    beyond = {}
    for item, units in sorted(sold.items()):
        moves = ledger.get(item, {})
        held = moves.get("initial", 0) + moves.get("received", 0) - moves.get("written_off", 0)
        if units > held:
            beyond[item] = units - held
    return beyond


def build(
    state: dict[str, Any],
    exceptions_open: dict[str, int],
    *,
    unmapped: tuple[str, ...] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One tenant's summary."""
    erp, wms = state["erp"], state["wms"]
    orders = channel_orders(state)
    by_ref = Counter(so["external_reference"] for so in erp["sales_orders"].values())
    confirmations = _confirmations(state)
    by_tracking = Counter(c["tracking"] for c in confirmations if c["tracking"])

    # Per order line, units shipped (WMS) or confirmed (channel) beyond ordered.
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
    # ERP stock invoiced below zero on hand.
    below_zero = sum(max(0, -int(float(q))) for q in erp.get("stock", {}).values())
    # Sold on the channels beyond what the warehouse held.
    beyond_stock = sold_beyond_stock(state, orders)
    ledger = (wms.get("stock") or {}).get("ledger") or {}
    out_of_stock = sum(int(m.get("out_of_stock", 0)) for m in ledger.values())

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
        "oversold_units": sum(beyond_stock.values()) + beyond_order + below_zero,
        "oversold_detail": {
            "sold_beyond_stock": sum(beyond_stock.values()),
            "shipped_or_confirmed_beyond_ordered": beyond_order,
            "erp_stock_below_zero": below_zero,
            "out_of_stock_at_release": out_of_stock,
        },
        "oversold_items": beyond_stock,
        "exceptions_open": dict(sorted(exceptions_open.items())),
        "unposted_channel_orders": {"total": len(unposted), "with_unmapped_sku": len(unposted_unmapped)},
        "availability_published": availability_published(state),
        "stock_events": stock_events(state),
        "erp_price_changes": erp_price_changes(state),
        "price_changes": len(state["shopify"].get("price_changes", [])),
        "faults_injected": injected,
        "unmapped_skus": list(unmapped),
    }
    if extra:
        summary.update(extra)
    return summary


def _add(total: Any, value: Any) -> Any:
    if isinstance(value, dict):
        out = dict(total or {})
        for k, v in value.items():
            out[k] = _add(out.get(k), v)
        return out
    return (total or 0) + value


def build_all(
    states: dict[str, dict[str, Any]],
    exceptions_open: dict[str, dict[str, int]],
    *,
    unmapped: tuple[str, ...] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every tenant's summary under `tenants`, and KEYS (and SUMMED) added up over them."""
    tenants = {t: build(s, exceptions_open.get(t, {}), unmapped=unmapped) for t, s in states.items()}
    summary: dict[str, Any] = {key: {} if key == "exceptions_open" else 0 for key in KEYS}
    for one in tenants.values():
        for key in (*KEYS, *SUMMED):
            summary[key] = _add(summary.get(key), one[key])
    summary["exceptions_open"] = dict(sorted(summary["exceptions_open"].items()))
    summary["unmapped_skus"] = list(unmapped)
    summary["tenants"] = tenants
    if extra:
        summary.update(extra)
    return summary
