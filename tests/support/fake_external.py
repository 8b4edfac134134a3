"""A fake external system for engine tests: an aiohttp server on its own thread.

It honours `Idempotency-Key` the way a well-behaved API does: the first request
with a key applies its effect and answers the result; every repeat answers 200
with that original result and applies nothing. It records every request (arrival
and answer time, key, body, caller pid, status) and how many were in flight at
once, so tests can measure rates, concurrency and pauses from the outside.

    with FakeExternal() as fake:
        fake.hold_seconds = 0.05            # keep each request open this long
        fake.answer_429_on(1, retry_after=2) # the first request is told to slow down
        ... workers POST to fake.url ...
        fake.requests(), fake.effects(), fake.max_in_flight
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True)
class Seen:
    """One request as the fake saw it."""

    arrived_at: float  # wall clock (time.time), comparable with the engine's clock
    answered_at: float
    key: str | None
    body: str
    pid: str | None  # X-Worker-Pid header: which worker process sent it
    status: int


class FakeExternal:
    def __init__(self) -> None:
        self.hold_seconds = 0.0
        self._lock = threading.Lock()
        self._requests: list[Seen] = []
        self._effects: dict[str, dict] = {}
        self._throttle_on: dict[int, float] = {}  # request number (1-based) → Retry-After
        self._count = 0
        self._in_flight = 0
        self.max_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------------ knobs and readings

    def answer_429_on(self, request_number: int, retry_after: float) -> None:
        """Answer the n-th request (1-based, counting every request) 429 with Retry-After."""
        with self._lock:
            self._throttle_on[request_number] = retry_after

    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self._requests)

    def effects(self) -> dict[str, dict]:
        with self._lock:
            return dict(self._effects)

    # ------------------------------------------------------------------ server

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.time()
        body = await request.text()
        key = request.headers.get("Idempotency-Key")
        with self._lock:
            self._count += 1
            number = self._count
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            retry_after = self._throttle_on.pop(number, None)
        try:
            if self.hold_seconds:
                await asyncio.sleep(self.hold_seconds)
            with self._lock:
                if retry_after is not None:
                    status, result, headers = 429, {"error": "slow down"}, {"Retry-After": f"{retry_after:g}"}
                else:
                    if key is not None and key not in self._effects:
                        self._effects[key] = {"effect_id": len(self._effects) + 1, "first_body": body}
                    status, headers = 200, {}
                    result = self._effects.get(key, {"effect_id": None})
                self._requests.append(
                    Seen(arrived, time.time(), key, body, request.headers.get("X-Worker-Pid"), status)
                )
        finally:
            with self._lock:
                self._in_flight -= 1
        return web.json_response(result, status=status, headers=headers)

    def start(self) -> FakeExternal:
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                app = web.Application()
                app.router.add_post("/effect", self._handle)
                self._runner = web.AppRunner(app, access_log=None)
                loop.run_until_complete(self._runner.setup())
                site = web.TCPSite(self._runner, "127.0.0.1", 0)
                loop.run_until_complete(site.start())
                port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
                self.url = f"http://127.0.0.1:{port}/effect"
            except BaseException as exc:  # pragma: no cover - reported to the caller below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-external", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake external system did not start within 10 s")
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> FakeExternal:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
