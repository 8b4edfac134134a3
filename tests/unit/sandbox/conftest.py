"""Fixtures for the sandbox tests: a fake clock, a sandbox client, and a tiny hub that records
what the simulated systems deliver to it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from crossdock.sandbox.app import SANDBOX, Sandbox, create_sandbox_app
from crossdock.sandbox.state import SandboxConfig


class FakeClock:
    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclasses.dataclass
class Received:
    topic: str
    headers: dict[str, str]
    body: bytes


class Hub:
    """Records every POST /hooks/{connection}/{topic...}; answers `statuses` in turn, then 200,
    after waiting `delays` in turn (then not at all)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.delays: list[float] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        topic = request.match_info["topic"]
        self.received.append(Received(topic, dict(request.headers), body))
        if self.delays:
            await asyncio.sleep(self.delays.pop(0))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    def topics(self) -> list[str]:
        return [r.topic for r in self.received]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    recorder = Hub()
    app = web.Application()
    app.router.add_post("/hooks/{connection}/{topic:.+}", recorder.handle)
    server = TestServer(app)
    await server.start_server()
    recorder.url = str(server.make_url("")).rstrip("/")
    yield recorder
    await server.close()


SandboxFactory = Callable[..., Awaitable[tuple[TestClient, Sandbox]]]


@pytest.fixture
async def make_sandbox(clock: FakeClock) -> AsyncIterator[SandboxFactory]:
    """`await make_sandbox(hub_url=..., shopify=ShopifyStoreConfig(...), ...)` → (client, sandbox)."""
    clients: list[TestClient] = []

    async def make(**overrides: Any) -> tuple[TestClient, Sandbox]:
        config = SandboxConfig(**{"clock": clock, "hub_url": "http://127.0.0.1:9", **overrides})
        app = create_sandbox_app(config)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client, app[SANDBOX]

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> tuple[TestClient, Sandbox]:
    return await make_sandbox()
