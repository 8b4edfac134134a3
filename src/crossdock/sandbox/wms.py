"""The generic REST WMS under `/wms` (contract: docs/connectors/generic-rest-wms.md).

`POST /wms/releases` accepts a release (202); then, `event_delay_s` apart, the warehouse
sends `picked` (or `short_picked`), `packed` and one or more `shipped` events to
`{hub}/hooks/{connection_id}/{topic}`, signed with Standard Webhooks. What will happen to
a release (short quantities, a split shipment, tracking numbers) is drawn when it is
accepted, so a seed replays the same warehouse behaviour. `POST /wms/releases/{ref}/cancel`
works until the first shipment (409 after). A second release with the same reference is
refused with 409 `duplicate_release` and counted in the snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import orjson
from aiohttp import web

from crossdock.sandbox.erp import Refusal, error_body
from crossdock.sandbox.faults import FaultBook
from crossdock.sandbox.state import SandboxContext
from crossdock.sandbox.webhooks import Delivery, WebhookSender, standard_headers

SHIPPED = ("partially_shipped", "shipped")


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
        plan = self._plan(lines)
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
        release["status"] = "cancelled"
        return web.json_response(release)

    # -- the warehouse at work ----------------------------------------------------------------------

    def _plan(self, lines: list[dict[str, Any]]) -> dict[str, Any]:
        """Decide now what the warehouse will do, so the outcome depends on the seed only."""
        picked = {}
        for line in lines:
            short = self.rng.random() < self.cfg.short_pick_probability
            picked[line["line_reference"]] = (
                self.rng.randrange(0, line["quantity"]) if short else line["quantity"]
            )
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

    def _emit(self, topic: str, release: dict[str, Any], data: dict[str, Any]) -> None:
        msg_id = f"msg_{self.rng.getrandbits(96):024x}"
        timestamp = int(self.ctx.now())
        payload = {
            "type": f"release.{topic}",
            "timestamp": self.ctx.iso(timestamp),
            "data": {
                "release_reference": release["release_reference"],
                "warehouse": release["warehouse"],
                "order_reference": release["order_reference"],
                "status": release["status"],
                **data,
            },
        }
        body = orjson.dumps(payload)
        headers = standard_headers(
            secret=self.cfg.webhook_secret, msg_id=msg_id, timestamp=timestamp, body=body
        )
        url = f"{self.ctx.hub_url(self.cfg.hub_url)}/hooks/{self.cfg.connection_id}/{topic}"
        self.events.append({"id": msg_id, "topic": topic, "release_reference": release["release_reference"]})
        self.sender.send(Delivery(msg_id, topic, url, body, headers))

    # -- wiring -----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.faults.middleware(self.name, error_body), self.gate])
        app.router.add_post("/releases", self.post_release)
        app.router.add_get("/releases/{ref}", self.get_release)
        app.router.add_post("/releases/{ref}/cancel", self.cancel_release)
        return app

    def snapshot(self) -> dict[str, Any]:
        return {
            "releases": self.releases,
            "release_requests": dict(self.requests),
            "shipments": self.shipments,
            "events": self.events,
            "webhooks": self.sender.snapshot(),
        }
