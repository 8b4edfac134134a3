"""What `/_sandbox/state` says happened to each channel order (order-to-cash harness).

`Ledger(state).pending()` lists what is still on its way (for waiting), `problems()` what
breaks a guarantee: one sales order per channel order, every shipped unit confirmed to
its channel exactly once with tracking, one invoice per shipment."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tests.support.o2c_walmart import walmart_confirmations, walmart_orders


def exception_summary(rows: list[dict[str, Any]]) -> str:
    by_cat = Counter(r.get("category") for r in rows)
    examples = {}
    for r in rows:
        examples.setdefault(r.get("category"), f"{r.get('summary')} [{r.get('error', '')!s:.300}]")
    return json.dumps({"counts": dict(by_cat), "examples": examples}, indent=1, default=str)


def summary(state: dict[str, Any]) -> dict[str, Any]:
    """The sandbox state in a few lines: counts, statuses, faults injected."""
    shop, amz, erp, wms = state["shopify"], state["amazon"], state["erp"], state["wms"]
    return {
        "shopify": {
            "orders": len(shop["orders"]),
            "fulfillments": len(shop["fulfillments"]),
            "rejected_fulfillment_requests": len(shop["rejected_fulfillment_requests"]),
            "webhooks": {k: v for k, v in shop["webhooks"].items() if k != "deliveries"},
        },
        "amazon": {
            "orders": Counter(o["status"] for o in amz["orders"].values()),
            "confirmations": Counter(c["status"] for c in amz["shipment_confirmations"]),
            "throttled": amz["throttled"],
        },
        "erp": {
            "sales_orders": Counter(so["status"] for so in erp["sales_orders"].values()),
            "duplicate_references": erp["duplicate_references"],
            "invoices": len(erp["invoices"]),
        },
        "wms": {
            "releases": Counter(r["status"] for r in wms["releases"].values()),
            "shipments": len(wms["shipments"]),
            "webhooks": {k: v for k, v in wms["webhooks"].items() if k != "deliveries"},
        },
        "walmart": {
            "orders": Counter(",".join(o["statuses"]) for o in state.get("walmart", {}).get("orders", {}).values()),
            "acknowledgements": Counter(a["status"] for a in state.get("walmart", {}).get("acknowledgements", [])),
            "shipping_updates": Counter(u["status"] for u in state.get("walmart", {}).get("shipments", [])),
        },
        "faults": state.get("faults"),
    }


# -- what the sandbox says happened ------------------------------------------------------------------


@dataclass
class Ledger:
    """Per channel order, what each system holds; built from `/_sandbox/state` only."""

    state: dict[str, Any]

    def __post_init__(self) -> None:
        s = self.state
        self.orders: dict[str, dict[str, Any]] = {}  # hub order ref → facts
        for oid, o in s["shopify"]["orders"].items():
            self.orders[f"shopify:{oid}"] = {
                "channel": "shopify", "id": oid, "cancelled": o["cancelled"],
                "lines": {str(li["id"]): li["quantity"] for li in o["lines"]},
                "skus": {li["sku"] for li in o["lines"]},
            }  # fmt: skip
        for oid, o in s["amazon"]["orders"].items():
            self.orders[f"amazon:{oid}"] = {
                "channel": "amazon", "id": oid, "cancelled": o["status"] == "Canceled",
                "lines": {str(i["id"]): i["ordered"] for i in o["items"]},
                "skus": {i["sku"] for i in o["items"]},
            }  # fmt: skip
        self.orders.update(walmart_orders(s))
        self.sales_orders: dict[str, list[dict]] = {}
        for so in s["erp"]["sales_orders"].values():
            self.sales_orders.setdefault(so["external_reference"], []).append(so)
        self.releases = s["wms"]["releases"]
        self.shipments = s["wms"]["shipments"]
        self.order_of_release = {ref: r["order_reference"] for ref, r in self.releases.items()}
        self.invoices: dict[str, list[dict]] = {}
        for inv in s["erp"]["invoices"].values():
            self.invoices.setdefault(inv["shipment_reference"], []).append(inv)
        # Channel confirmations by tracking number.
        self.confirmed: dict[str, list[dict]] = {}
        for f in s["shopify"]["fulfillments"]:
            for number in f["tracking_numbers"]:
                lines = {str(li["line_item_id"]): li["quantity"] for li in f["line_items"]}
                self.confirmed.setdefault(number, []).append({"order": f"shopify:{f['order_id']}", "lines": lines})
        for c in s["amazon"]["shipment_confirmations"]:
            if c["status"] != 204:
                continue
            package = c["body"]["packageDetail"]
            lines = {str(i["orderItemId"]): i["quantity"] for i in package["orderItems"]}
            self.confirmed.setdefault(package["trackingNumber"], []).append(
                {"order": f"amazon:{c['order_id']}", "lines": lines}
            )
        for number, confirmations in walmart_confirmations(s).items():
            self.confirmed.setdefault(number, []).extend(confirmations)

    def invoices_of(self, shipment: dict[str, Any]) -> list[dict]:
        suffix = f"#{shipment['shipment_reference']}"
        return [i for ref, found in self.invoices.items() if ref.endswith(suffix) for i in found]

    # -- checks: each answers a list of problems (empty: holds) ----------------------------------

    def pending(self, *, excluded: set[str] = frozenset()) -> list[str]:
        """What is still on its way (for waiting): open orders without a finished warehouse
        journey, shipments not yet confirmed or invoiced, cancellations not yet undone."""
        out = []
        for ref, o in self.orders.items():
            if o["skus"] & excluded:
                continue
            sos = self.sales_orders.get(ref, [])
            if o["cancelled"]:
                if any(so["status"] != "cancelled" for so in sos):
                    out.append(f"{ref}: cancelled on the channel, sales order still {[s['status'] for s in sos]}")
                rel = self.releases.get(f"{ref}@MAIN")
                if rel and rel["status"] not in ("cancelled", "closed_short", "shipped"):
                    out.append(f"{ref}: cancelled on the channel, release still {rel['status']}")
                continue
            if not sos:
                out.append(f"{ref}: no sales order")
                continue
            rel = self.releases.get(f"{ref}@MAIN")
            if rel is None:
                out.append(f"{ref}: not released")
            elif rel["status"] not in ("shipped", "closed_short"):
                out.append(f"{ref}: release {rel['status']}")
            elif any(so["status"] == "open" for so in sos):  # short-picked units still on it
                out.append(f"{ref}: release {rel['status']}, sales order still open {[so['lines'] for so in sos]}")
        for sh in self.shipments:
            number = sh["tracking_number"]
            if number not in self.confirmed:
                out.append(f"{sh['shipment_reference']}: not confirmed to the channel")
            if not self.invoices_of(sh):
                out.append(f"{sh['shipment_reference']}: not invoiced")
        return out

    def problems(self, *, expect_all: bool = True) -> list[str]:
        """The guarantees: one sales order per channel order, every shipped unit confirmed
        exactly once with tracking, one invoice per shipment."""
        out = []
        for ref, sos in self.sales_orders.items():
            if len(sos) != 1:
                out.append(f"{ref}: {len(sos)} sales orders {[so['id'] for so in sos]}")
            if ref not in self.orders:
                out.append(f"{ref}: sales order for an order no channel has")
        for ref, o in self.orders.items():
            if not o["cancelled"] and expect_all and ref not in self.sales_orders:
                out.append(f"{ref}: no sales order")
        shipped: dict[str, Counter] = {}
        for sh in self.shipments:
            ref = self.order_of_release[sh["release_reference"]]
            number = sh["tracking_number"]
            if not number:
                out.append(f"{sh['shipment_reference']}: shipped without tracking")
                continue
            confs = self.confirmed.get(number, [])
            if len(confs) != 1:
                out.append(f"{sh['shipment_reference']}: confirmed {len(confs)} times (tracking {number})")
            for conf in confs:
                want = {li["line_reference"]: li["quantity"] for li in sh["lines"]}
                if conf["order"] != ref or conf["lines"] != want:
                    out.append(f"{sh['shipment_reference']}: confirmation {conf} does not match shipment {want}")
            invoices = self.invoices_of(sh)
            if len(invoices) != 1:
                out.append(f"{sh['shipment_reference']}: {len(invoices)} invoices")
            counter = shipped.setdefault(ref, Counter())
            for li in sh["lines"]:
                counter[li["line_reference"]] += li["quantity"]
        confirmed_units: dict[str, Counter] = {}
        for confs in self.confirmed.values():
            for conf in confs:
                counter = confirmed_units.setdefault(conf["order"], Counter())
                counter.update(conf["lines"])
        for ref in set(shipped) | set(confirmed_units):
            if shipped.get(ref, Counter()) != confirmed_units.get(ref, Counter()):
                out.append(f"{ref}: shipped {dict(shipped.get(ref, {}))} but confirmed {dict(confirmed_units.get(ref, {}))}")
            o = self.orders.get(ref)
            if o and any(q > o["lines"].get(line, 0) for line, q in shipped.get(ref, Counter()).items()):
                out.append(f"{ref}: shipped more than ordered")
        tracked = [n for sh in self.shipments if (n := sh["tracking_number"])]
        out += [f"tracking {n} on {k} shipments" for n, k in Counter(tracked).items() if k > 1]
        return out
