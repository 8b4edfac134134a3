"""The generic REST WMS under `/wms` (contract: docs/connectors/generic-rest-wms.md).

`POST /wms/releases` accepts a release (202); then, `event_delay_s` apart, the warehouse
sends `picked` (or `short_picked`), `packed` and one or more `shipped` events to
`{hub}/hooks/{connection_id}/{topic}`, signed with Standard Webhooks. What will happen to
a release (short quantities, a split shipment, tracking numbers) is drawn when it is
accepted, so a seed replays the same warehouse behaviour. `POST /wms/releases/{ref}/cancel`
works until the first shipment (409 after). A second release with the same reference is
refused with 409 `duplicate_release` and counted in the snapshot.

With `WmsConfig.stock`, the warehouse holds stock per item and location (seeded initial
quantities): a release allocates what is free when it is accepted (a line it cannot cover
is short-picked), a shipment takes its units off hand, and receipts and write-offs change
it. Every change goes to the hub as a signed `inventory.adjusted` event (signed deltas);
`POST /wms/_sandbox/stock/snapshot` sends each location's `inventory.snapshot` (absolute).
Each location numbers its stock ledger: an adjustment event carries its entry's `sequence`,
a snapshot the last entry it includes. The numbers start from the clock's microsecond when
the stock is seeded, so a restarted sandbox (`crossdock demo --keep`) numbers on above its
previous ones, like a real ledger. Stock events honour the `webhooks` faults (`duplicate`:
delivered twice; `out_of_order`: held back until the next event, at most `LATE_SECONDS`).
Control routes, never faulted:

    POST /wms/_sandbox/stock/snapshot       send the snapshot of every location now
    POST /wms/_sandbox/stock/adjustments    {"reason": "receipt", "location": "MAIN",
                                             "lines": [{"item", "quantity"}]} (signed deltas)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any, NamedTuple

import orjson
from aiohttp import web

from crossdock.sandbox.erp import Refusal, error_body
from crossdock.sandbox.faults import FaultBook
from crossdock.sandbox.state import SandboxContext
from crossdock.sandbox.traffic import make_catalog
from crossdock.sandbox.webhooks import Delivery, WebhookSender, standard_headers

SHIPPED = ("partially_shipped", "shipped")


class Move(NamedTuple):
    """A signed change of one item's stock at a location."""

    item: str
    on_hand: int
    allocated: int = 0


LATE_SECONDS = 2.0  # an out-of-order stock event waits at most this long for the next one


def _fail(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({**error_body(status, code, message), **extra}, status=status)


class GenericWms:
    name = "wms"

    def __init__(self, ctx: SandboxContext, faults: FaultBook, sender: WebhookSender) -> None:
        self.ctx, self.cfg, self.faults, self.sender = ctx, ctx.config.wms, faults, sender
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.reset()

    def reset(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        self.tasks = {}
        self.rng = self.ctx.rng("wms")
        self.releases: dict[str, dict[str, Any]] = {}
        self.requests: Counter[str] = Counter()
        self.shipments: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.sender.reset()
        self._reset_stock()

    def _reset_stock(self) -> None:
        self.traffic_rng = self.ctx.rng("wms.traffic")
        self.stock_event_rng = self.ctx.rng("wms.stock_events")
        self.stock: dict[tuple[str, str], dict[str, int]] = {}  # (location, item) → on_hand, allocated
        self.allocations: dict[str, dict[tuple[str, str], int]] = {}  # release → units it holds
        self.ledger: dict[str, Counter[str]] = {}  # item → initial, received, written_off, shipped, ...
        self.sequence_base = int(self.ctx.now() * 1_000_000)  # above any number an earlier run gave
        self.sequences: dict[str, int] = {}  # location → its ledger's last entry
        if not self.cfg.stock:
            return
        draw = self.ctx.rng("wms.stock")
        low, high = self.cfg.initial_stock
        for item in make_catalog(self.ctx.rng("catalog"), self.ctx.config.catalog_size):
            for location in self.cfg.stock_locations:
                units = draw.randint(low, high)
                self.stock[(location, item.sku)] = {"on_hand": units, "allocated": 0}
                self.ledger.setdefault(item.sku, Counter())["initial"] += units

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- HTTP -----------------------------------------------------------------------------------

    @web.middleware
    async def gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if (
            "/_sandbox/" not in request.path
            and request.headers.get("Authorization") != f"Bearer {self.cfg.api_key}"
        ):
            return _fail(401, "unauthorized", "missing or wrong bearer token")
        try:
            return await handler(request)
        except Refusal as exc:
            return _fail(exc.status, exc.code, str(exc))

    async def post_release(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise Refusal(400, "invalid_json", "the body is not JSON") from None
        ref = body.get("release_reference") if isinstance(body, dict) else None
        if not ref or not body.get("warehouse") or not body.get("lines"):
            raise Refusal(422, "invalid_release", "release_reference, warehouse and lines are required")
        self.requests[ref] += 1
        if ref in self.releases:
            return _fail(
                409, "duplicate_release", f"release {ref} already exists", release=self.releases[ref]
            )
        lines = []
        for i, line in enumerate(body["lines"]):
            qty = line.get("quantity")
            if not line.get("item") or not isinstance(qty, int) or qty <= 0:
                raise Refusal(
                    422, "invalid_line", f"lines[{i}]: item and a positive whole quantity are required"
                )
            lines.append(
                {
                    "line_reference": str(line.get("line_reference", i + 1)),
                    "item": line["item"],
                    "quantity": qty,
                }
            )
        release = {
            "release_reference": ref,
            "warehouse": body["warehouse"],
            "order_reference": body.get("order_reference"),
            "ship_to": body.get("ship_to"),
            "lines": lines,
            "status": "accepted",
            "accepted_at": self.ctx.iso(),
        }
        self.releases[ref] = release
        plan = self._plan(lines, ref, body["warehouse"])
        if self.cfg.stock:
            self._report_allocation(release)
        self.tasks[ref] = asyncio.create_task(self._lifecycle(release, plan))
        return web.json_response(release, status=202)

    async def get_release(self, request: web.Request) -> web.Response:
        release = self.releases.get(request.match_info["ref"])
        if release is None:
            raise Refusal(404, "not_found", f"release {request.match_info['ref']} does not exist")
        return web.json_response(release)

    async def cancel_release(self, request: web.Request) -> web.Response:
        ref = request.match_info["ref"]
        release = self.releases.get(ref)
        if release is None:
            raise Refusal(404, "not_found", f"release {ref} does not exist")
        if release["status"] in SHIPPED:
            raise Refusal(409, "already_shipped", f"release {ref} has shipped and can no longer be cancelled")
        if (task := self.tasks.pop(ref, None)) is not None:
            task.cancel()
        self._free(release)
        release["status"] = "cancelled"
        return web.json_response(release)

    # -- the warehouse at work ----------------------------------------------------------------------

    def _plan(self, lines: list[dict[str, Any]], ref: str = "", warehouse: str = "") -> dict[str, Any]:
        """Decide now what the warehouse will do, so the outcome depends on the seed only
        (and, with stock, on what is free at the location: that much is allocated now)."""
        picked = {}
        for line in lines:
            short = self.rng.random() < self.cfg.short_pick_probability
            picked[line["line_reference"]] = (
                self.rng.randrange(0, line["quantity"]) if short else line["quantity"]
            )
            if self.cfg.stock:
                wanted = picked[line["line_reference"]]
                picked[line["line_reference"]] = self._allocate(ref, warehouse, line["item"], wanted)
                if wanted > picked[line["line_reference"]]:
                    line["out_of_stock"] = wanted - picked[line["line_reference"]]
                    self.ledger.setdefault(line["item"], Counter())["out_of_stock"] += line["out_of_stock"]
        units = [(ref, qty) for ref, qty in picked.items() if qty > 0]
        split = (
            len(units) > 0
            and sum(q for _, q in units) > 1
            and self.rng.random() < self.cfg.partial_shipment_probability
        )
        parcels: list[dict[str, int]] = [dict(units)]
        if split:
            first = {ref: qty // 2 for ref, qty in units if qty // 2 > 0} or {units[0][0]: units[0][1]}
            rest = {ref: qty - first.get(ref, 0) for ref, qty in units if qty - first.get(ref, 0) > 0}
            parcels = [first, rest] if rest else [first]
        tracking = [f"1Z{self.rng.getrandbits(48):012X}" for _ in parcels]
        return {"picked": picked, "parcels": parcels if units else [], "tracking": tracking}

    async def _lifecycle(self, release: dict[str, Any], plan: dict[str, Any]) -> None:
        try:
            await self._work(release, plan, self.cfg.event_delay_s)
        finally:
            if self.tasks.get(release["release_reference"]) is asyncio.current_task():
                del self.tasks[release["release_reference"]]

    async def _work(self, release: dict[str, Any], plan: dict[str, Any], delay: float) -> None:
        await asyncio.sleep(delay)
        short = any(plan["picked"][line["line_reference"]] < line["quantity"] for line in release["lines"])
        for line in release["lines"]:
            line["picked"] = plan["picked"][line["line_reference"]]
        release["status"] = "short_picked" if short else "picked"
        self._emit(
            release["status"],
            release,
            {
                "lines": [
                    {
                        "line_reference": li["line_reference"],
                        "item": li["item"],
                        "quantity": li["quantity"],
                        "picked": li["picked"],
                        "short": li["quantity"] - li["picked"],
                    }
                    for li in release["lines"]
                ],
            },
        )
        if not plan["parcels"]:
            release["status"] = "closed_short"
            return
        await asyncio.sleep(delay)
        release["status"] = "packed"
        self._emit("packed", release, {"packages": len(plan["parcels"])})
        items = {li["line_reference"]: li["item"] for li in release["lines"]}
        for n, (parcel, tracking) in enumerate(zip(plan["parcels"], plan["tracking"], strict=True), start=1):
            await asyncio.sleep(delay)
            shipment = {
                "shipment_reference": f"{release['release_reference']}-S{n}",
                "release_reference": release["release_reference"],
                "warehouse": release["warehouse"],
                "carrier": self.cfg.carrier,
                "service": self.cfg.service,
                "tracking_number": tracking,
                "lines": [
                    {"line_reference": ref, "item": items[ref], "quantity": qty}
                    for ref, qty in parcel.items()
                ],
                "shipped_at": self.ctx.iso(),
                "final": n == len(plan["parcels"]),
            }
            self.shipments.append(shipment)
            release["status"] = "shipped" if shipment["final"] else "partially_shipped"
            self._emit("shipped", release, {"shipment": shipment})
            if self.cfg.stock:
                self._shipped_stock(release, shipment)

    def _emit(self, topic: str, release: dict[str, Any], data: dict[str, Any]) -> None:
        data = {
            "release_reference": release["release_reference"],
            "warehouse": release["warehouse"],
            "order_reference": release["order_reference"],
            "status": release["status"],
            **data,
        }
        msg_id = self._send(topic, f"release.{topic}", data, self.rng)
        self.events.append({"id": msg_id, "topic": topic, "release_reference": release["release_reference"]})

    def _send(
        self, topic: str, event_type: str, data: dict[str, Any], rng: Any, *, faulted: bool = False
    ) -> str:
        """Sign and queue one event; `faulted` ones (stock events) may be duplicated or held back."""
        msg_id = f"msg_{rng.getrandbits(96):024x}"
        timestamp = int(self.ctx.now())
        payload = {"type": event_type, "timestamp": self.ctx.iso(timestamp), "data": data}
        body = orjson.dumps(payload)
        headers = standard_headers(
            secret=self.cfg.webhook_secret, msg_id=msg_id, timestamp=timestamp, body=body
        )
        url = f"{self.ctx.hub_url(self.cfg.hub_url)}/hooks/{self.cfg.connection_id}/{topic}"
        delivery = Delivery(msg_id, topic, url, body, headers)
        late = faulted and self.faults.webhook_fault(self.name, "out_of_order")
        copies = 2 if faulted and self.faults.webhook_fault(self.name, "duplicate") else 1
        if late:
            self.sender.send_late(delivery, LATE_SECONDS, copies=copies)
        else:
            self.sender.send(delivery, copies=copies)
        return msg_id

    # -- stock --------------------------------------------------------------------------------

    def _allocate(self, ref: str, location: str, item: str, wanted: int) -> int:
        """Allocate up to `wanted` free units of `item` at `location` to release `ref` (the
        stock moves when the allocation is reported, `_report_allocation`)."""
        held = self.stock.get((location, item))
        if held is None or wanted <= 0:
            return 0
        holding = self.allocations.setdefault(ref, {})
        taken = max(0, min(wanted, held["on_hand"] - held["allocated"] - holding.get((location, item), 0)))
        if taken:
            holding[(location, item)] = holding.get((location, item), 0) + taken
        return taken

    def _report_allocation(self, release: dict[str, Any]) -> None:
        """Tell the hub what the release took (`allocated` up, naming the order): from now on
        the warehouse's `allocated` counts those units, so the order's hold on them converts."""
        holding = self.allocations.get(release["release_reference"], {})
        by_location: dict[str, list[Move]] = {}
        for (location, item), units in sorted(holding.items()):
            by_location.setdefault(location, []).append(Move(item, 0, units))
        for location, moves in by_location.items():
            self._adjust(location, moves, "allocation", release["release_reference"], counter="allocated",
                         order_reference=release.get("order_reference"))  # fmt: skip

    def _free(self, release: dict[str, Any]) -> None:
        """A cancelled (or finally shipped) release gives back the units it still holds."""
        by_location: dict[str, list[Move]] = {}
        for (location, item), units in sorted(self.allocations.pop(release["release_reference"], {}).items()):
            if units > 0:
                by_location.setdefault(location, []).append(Move(item, 0, -units))
        for location, moves in by_location.items():
            self._adjust(location, moves, "deallocation", release["release_reference"], counter="deallocated",
                         order_reference=release.get("order_reference"))  # fmt: skip

    def _shipped_stock(self, release: dict[str, Any], shipment: dict[str, Any]) -> None:
        """The shipped units leave on hand and the allocation that held them, in one entry."""
        location, ref = release["warehouse"], release["release_reference"]
        holding = self.allocations.get(ref, {})
        moves = []
        for line in shipment["lines"]:
            key = (location, line["item"])
            units = min(int(line["quantity"]), holding.get(key, 0))
            if key not in self.stock or units <= 0:
                continue
            holding[key] -= units
            moves.append(Move(line["item"], -units, -units))
        self._adjust(
            location,
            moves,
            "shipment",
            shipment["shipment_reference"],
            counter="shipped",
            order_reference=release.get("order_reference"),
        )
        if shipment["final"]:
            self._free(release)

    def _adjust(
        self,
        location: str,
        moves: list[Move],
        reason: str,
        reference: str | None,
        counter: str,
        order_reference: str | None = None,
    ) -> dict[str, Any] | None:
        """Apply signed on-hand and allocated deltas at `location` and tell the hub
        (`inventory.adjusted`; `order_reference` names the order the entry is about)."""
        applied = []
        for item, on_hand, allocated in moves:
            held = self.stock.setdefault((location, item), {"on_hand": 0, "allocated": 0})
            allocated = max(allocated, -held["allocated"])
            # never below what stays allocated
            on_hand = max(on_hand, held["allocated"] + allocated - held["on_hand"])
            if on_hand == 0 and allocated == 0:
                continue
            held["on_hand"] += on_hand
            held["allocated"] += allocated
            self.ledger.setdefault(item, Counter())[counter] += abs(on_hand or allocated)
            entry = {"item": item, "location": location, "on_hand": on_hand}
            if allocated:
                entry["allocated"] = allocated
            applied.append(entry)
        if not applied:
            return None
        sequence = self.sequences[location] = self.sequences.get(location, self.sequence_base) + 1
        data = {
            "warehouse": location,
            "sequence": sequence,
            "reason": reason,
            "reference": reference,
            "adjustments": applied,
        }
        if order_reference:
            data["order_reference"] = order_reference
        msg_id = self._send(
            "inventory.adjusted", "inventory.adjusted", data, self.stock_event_rng, faulted=True
        )
        self.events.append(
            {"id": msg_id, "topic": "inventory.adjusted", "reason": reason, "reference": reference}
        )
        return data

    def send_snapshots(self) -> int:
        """One `inventory.snapshot` per location: absolute on-hand and allocated units of every item."""
        locations = sorted({location for location, _ in self.stock})
        for location in locations:
            positions = [
                {"item": item, "location": loc, "on_hand": held["on_hand"], "allocated": held["allocated"]}
                for (loc, item), held in sorted(self.stock.items())
                if loc == location
            ]
            sequence = self.sequences.get(location, self.sequence_base)
            data = {"warehouse": location, "sequence": sequence, "positions": positions}
            msg_id = self._send(
                "inventory.snapshot", "inventory.snapshot", data, self.stock_event_rng, faulted=True
            )
            self.events.append({"id": msg_id, "topic": "inventory.snapshot", "warehouse": location})
        return len(locations)

    def stock_traffic(self, count: int = 1) -> None:
        """The traffic generator's stock changes: mostly receipts of a case of a random item,
        sometimes a write-off of a few damaged units (drawn from the seed)."""
        if not self.stock:
            return
        keys = sorted(self.stock)
        for _ in range(count):
            location, item = self.traffic_rng.choice(keys)
            if self.traffic_rng.random() < 0.8:
                units = self.traffic_rng.choice((12, 24, 36))
                self._adjust(location, [Move(item, units)], "receipt", None, counter="received")
            else:
                units = self.traffic_rng.randint(1, 3)
                self._adjust(location, [Move(item, -units)], "write_off", None, counter="written_off")

    async def post_snapshot(self, request: web.Request) -> web.Response:
        return web.json_response({"snapshots": self.send_snapshots()})

    async def post_adjustments(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read() or b"{}")
            location = str(body.get("location") or self.cfg.stock_locations[0])
            reason = str(body.get("reason") or "adjustment")
            moves = [Move(str(line["item"]), int(line["quantity"])) for line in body["lines"]]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise Refusal(
                400, "invalid_adjustment", f"lines [{{item, quantity}}] are required ({exc})"
            ) from None
        counter = {"receipt": "received", "write_off": "written_off"}.get(reason, "adjusted")
        data = self._adjust(location, moves, reason, body.get("reference"), counter=counter)
        return web.json_response({"sent": data})

    def stock_snapshot(self) -> dict[str, Any]:
        by_location: dict[str, dict[str, dict[str, int]]] = {}
        for (location, item), held in sorted(self.stock.items()):
            by_location.setdefault(location, {})[item] = dict(held)
        return {
            "enabled": self.cfg.stock,
            "locations": by_location,
            "ledger": {item: dict(c) for item, c in sorted(self.ledger.items())},
            "sequences": dict(sorted(self.sequences.items())),  # location → last ledger entry
            "events": sum(1 for e in self.events if e["topic"].startswith("inventory.")),
        }

    # -- wiring -----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.faults.middleware(self.name, error_body), self.gate])
        app.router.add_post("/releases", self.post_release)
        app.router.add_get("/releases/{ref}", self.get_release)
        app.router.add_post("/releases/{ref}/cancel", self.cancel_release)
        app.router.add_post("/_sandbox/stock/snapshot", self.post_snapshot)
        app.router.add_post("/_sandbox/stock/adjustments", self.post_adjustments)
        return app

    def snapshot(self) -> dict[str, Any]:
        return {
            "releases": self.releases,
            "release_requests": dict(self.requests),
            "shipments": self.shipments,
            "events": self.events,
            "webhooks": self.sender.snapshot(),
            "stock": self.stock_snapshot(),
        }
