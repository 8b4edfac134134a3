"""Fault injection for the simulated systems: `GET|POST|DELETE /_sandbox/faults`.

`POST /_sandbox/faults` takes one object per system (`shopify`, `amazon`, `erp`, `wms`, `walmart`);
each replaces that system's faults entirely (an empty object clears them), systems not
named keep theirs. `DELETE` clears all. Every key is optional:

    {"shopify": {
        "downtime": {"seconds": 30, "starts_in": 0},        # 503 + Retry-After inside the window
        "throttle": {"next": 3, "retry_after": 2},           # 429 + Retry-After (or "probability")
        "errors": {"rate": 0.05, "status": 500},             # 5xx (or "next": N)
        "latency_ms": 200,                                   # added to every answer
        "commit_then_timeout": {"next": 1, "hang_seconds": 60, "mode": "hang"},   # or "drop"
        "malformed": {"next": 1, "kind": "truncated"},       # or "html" / "empty"
        "webhooks": {"duplicate": {"next": 1}, "out_of_order": {"probability": 0.5}}
    }}

A trigger (`throttle`, `errors`, `commit_then_timeout`, `malformed`, webhook faults) fires
for the next `next` requests, then with `probability` (alias `rate`) per request, drawn
from the seeded generator. "Commit then time out" runs the real handler, so its effect is
applied and visible in `/_sandbox/state`, then either holds the answer for `hang_seconds`
(past any sane client timeout) or closes the connection without answering (`drop`).
Sandbox control routes (`/_sandbox/...`) are never faulted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from crossdock.sandbox.state import SandboxContext

SYSTEMS = ("shopify", "amazon", "erp", "wms", "walmart")
ErrorBody = Callable[[int, str, str], Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Trigger:
    """Fires for the next `count` requests, afterwards with `probability` per request."""

    count: int = 0
    probability: float = 0.0

    @classmethod
    def parse(cls, spec: Any) -> Trigger | None:
        if not spec:
            return None
        if not isinstance(spec, dict):
            raise ValueError(f"a trigger is an object with next/probability, got {spec!r}")
        probability = float(spec.get("probability", spec.get("rate", 0.0)))
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        return cls(count=int(spec.get("next", 0)), probability=probability)

    def fire(self, rng: random.Random) -> bool:
        if self.count > 0:
            self.count -= 1
            return True
        return self.probability > 0 and rng.random() < self.probability


@dataclass
class SystemFaults:
    spec: dict[str, Any] = field(default_factory=dict)
    down_from: float = 0.0
    down_until: float = 0.0
    throttle: Trigger | None = None
    errors: Trigger | None = None
    latency_s: float = 0.0
    commit_then_timeout: Trigger | None = None
    malformed: Trigger | None = None
    duplicate_webhooks: Trigger | None = None
    out_of_order_webhooks: Trigger | None = None

    @classmethod
    def parse(cls, spec: dict[str, Any], now: float) -> SystemFaults:
        if not isinstance(spec, dict):
            raise ValueError("each system's faults are an object")
        faults = cls(spec=spec, latency_s=float(spec.get("latency_ms", 0)) / 1000.0)
        if down := spec.get("downtime"):
            faults.down_from = now + float(down.get("starts_in", 0))
            faults.down_until = faults.down_from + float(down["seconds"])
        faults.throttle = Trigger.parse(spec.get("throttle"))
        faults.errors = Trigger.parse(spec.get("errors"))
        faults.commit_then_timeout = Trigger.parse(spec.get("commit_then_timeout"))
        faults.malformed = Trigger.parse(spec.get("malformed"))
        hooks = spec.get("webhooks") or {}
        faults.duplicate_webhooks = Trigger.parse(hooks.get("duplicate"))
        faults.out_of_order_webhooks = Trigger.parse(hooks.get("out_of_order"))
        return faults

    def option(self, name: str, key: str, default: Any) -> Any:
        value = self.spec.get(name)
        return value.get(key, default) if isinstance(value, dict) else default


class FaultBook:
    """The faults currently in force, per system, and the middleware that applies them."""

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.rng = ctx.rng("faults")
        self.faults: dict[str, SystemFaults] = {s: SystemFaults() for s in SYSTEMS}
        self.injected: dict[str, dict[str, int]] = {s: {} for s in SYSTEMS}
        self.closing = asyncio.Event()
        ctx.on_reset.append(self.clear)

    def clear(self) -> None:
        self.faults = {s: SystemFaults() for s in SYSTEMS}
        self.injected = {s: {} for s in SYSTEMS}

    def fires(self, system: str, trigger: Trigger | None, kind: str) -> bool:
        if trigger is None or not trigger.fire(self.rng):
            return False
        self.injected[system][kind] = self.injected[system].get(kind, 0) + 1
        return True

    def webhook_fault(self, system: str, kind: str) -> bool:
        """`duplicate` or `out_of_order`, asked by the webhook senders."""
        faults = self.faults[system]
        trigger = faults.duplicate_webhooks if kind == "duplicate" else faults.out_of_order_webhooks
        return self.fires(system, trigger, f"webhook_{kind}")

    def snapshot(self) -> dict[str, Any]:
        return {s: {"config": f.spec, "injected": self.injected[s]} for s, f in self.faults.items()}

    # -- HTTP control --------------------------------------------------------------------

    async def get(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def post(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            unknown = set(body) - set(SYSTEMS)
            if unknown:
                raise ValueError(f"unknown systems {sorted(unknown)}; known: {list(SYSTEMS)}")
            parsed = {s: SystemFaults.parse(spec or {}, self.ctx.now()) for s, spec in body.items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return web.json_response({"error": {"code": "invalid_faults", "message": str(exc)}}, status=400)
        self.faults.update(parsed)
        return web.json_response(self.snapshot())

    async def delete(self, request: web.Request) -> web.Response:
        self.clear()
        return web.json_response(self.snapshot())

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_sandbox/faults", self.get),
            web.post("/_sandbox/faults", self.post),
            web.delete("/_sandbox/faults", self.delete),
        ]

    # -- the middleware ----------------------------------------------------------------------

    def middleware(self, system: str, error_body: ErrorBody) -> Any:
        """Counts every call of `system` and applies its faults around the real handler."""

        @web.middleware
        async def apply_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
            route = request.match_info.route.resource
            name = f"{request.method} {route.canonical if route else request.path}"
            if "/_sandbox/" in request.path:
                return await handler(request)
            status = 0
            try:
                response = await self._guarded(system, request, handler, error_body)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                self.ctx.stats.record(system, name, status)

        return apply_faults

    async def _guarded(
        self, system: str, request: web.Request, handler: Handler, error_body: ErrorBody
    ) -> web.StreamResponse:
        faults = self.faults[system]
        now = self.ctx.now()
        if faults.down_from <= now < faults.down_until:
            self.injected[system]["downtime"] = self.injected[system].get("downtime", 0) + 1
            wait = max(1, int(faults.down_until - now + 0.999))
            body = error_body(503, "ServiceUnavailable", "Service temporarily unavailable")
            return web.json_response(body, status=503, headers={"Retry-After": str(wait)})
        if faults.latency_s:
            await self._sleep(faults.latency_s)
        if self.fires(system, faults.throttle, "throttle"):
            retry_after = faults.option("throttle", "retry_after", 1)
            body = error_body(429, "QuotaExceeded", "Too many requests")
            return web.json_response(body, status=429, headers={"Retry-After": str(retry_after)})
        if self.fires(system, faults.errors, "errors"):
            status = int(faults.option("errors", "status", 500))
            return web.json_response(error_body(status, "InternalFailure", "Injected failure"), status=status)
        response = await handler(request)
        if self.fires(system, faults.commit_then_timeout, "commit_then_timeout"):
            if faults.option("commit_then_timeout", "mode", "hang") == "drop":
                raise _dropped(request)
            await self._sleep(float(faults.option("commit_then_timeout", "hang_seconds", 60)))
        if self.fires(system, faults.malformed, "malformed"):
            return _malformed(response, faults.option("malformed", "kind", "truncated"))
        return response

    async def _sleep(self, seconds: float) -> None:
        """Sleeps, but wakes when the sandbox shuts down so no handler outlives the server."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    async def on_shutdown(self, app: web.Application) -> None:
        self.closing.set()


def _dropped(request: web.Request) -> Exception:
    """Close the connection without an answer; the effect has already been applied."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return asyncio.CancelledError()


def _malformed(response: web.StreamResponse, kind: str) -> web.Response:
    body = response.body if isinstance(response, web.Response) else None
    raw = bytes(body) if isinstance(body, bytes | bytearray) else b'{"data": {}}'
    if kind == "html":
        return web.Response(
            status=200, text="<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"
        )
    if kind == "empty":
        return web.Response(status=200, body=b"", content_type="application/json")
    return web.Response(status=200, body=raw[: max(1, len(raw) // 2)], content_type="application/json")
