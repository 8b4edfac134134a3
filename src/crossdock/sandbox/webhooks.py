"""Webhook delivery from the simulated systems to the hub, with the vendors' signatures.

Shopify (documented): POST with `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(app secret,
raw body)), `X-Shopify-Topic`, `X-Shopify-Webhook-Id`, `X-Shopify-Event-Id`,
`X-Shopify-Shop-Domain`, `X-Shopify-API-Version`, `X-Shopify-Triggered-At`; anything but
a 2xx within 5 seconds is a failure, retried 8 times over 4 hours. The published figures
are the count and the span, not the exact intervals: `RETRY_SCHEDULE_S` spreads 8
attempts over exactly 4 hours, multiplied by `SandboxConfig.webhook_retry_factor`.

The WMS signs with the Standard Webhooks scheme: `webhook-id`, `webhook-timestamp` and
`webhook-signature` = "v1," + base64(HMAC-SHA256(secret bytes, f"{id}.{ts}.{body}")),
where the secret is `whsec_` + base64 of its bytes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from crossdock.sandbox.state import API_VERSION, SandboxContext

RETRY_SCHEDULE_S = (10, 30, 60, 300, 900, 1800, 3600, 7700)  # 8 retries, 14,400 s = 4 h


def shopify_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(
    *,
    secret: str,
    shop_domain: str,
    topic: str,
    body: bytes,
    webhook_id: str,
    event_id: str,
    triggered_at: str,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": shopify_hmac(secret, body),
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": API_VERSION,
        "X-Shopify-Triggered-At": triggered_at,
    }


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def standard_headers(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
    }


@dataclass(eq=False)
class Delivery:
    """One webhook (one id); redelivered as is, so a duplicate carries the same id."""

    webhook_id: str
    topic: str
    url: str
    body: bytes
    headers: dict[str, str]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    delivered: bool = False
    given_up: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "webhook_id": self.webhook_id,
            "topic": self.topic,
            "url": self.url,
            "delivered": self.delivered,
            "given_up": self.given_up,
            "attempts": self.attempts,
        }


class WebhookSender:
    """A FIFO of deliveries worked by a few workers; failures go back after the schedule."""

    def __init__(self, ctx: SandboxContext, *, retry_factor: float | None = None) -> None:
        self.ctx = ctx
        self.timeout = ctx.config.webhook_timeout_s
        self.retry_factor = ctx.config.webhook_retry_factor if retry_factor is None else retry_factor
        self.concurrency = max(1, ctx.config.webhook_concurrency)
        self.deliveries: list[Delivery] = []
        self._queue: asyncio.Queue[Delivery] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._late: list[Delivery] = []  # held back, to go after the next delivery sent
        self._session: aiohttp.ClientSession | None = None
        self._outstanding = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def reset(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._late.clear()
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait()
                self._queue.task_done()
        self.deliveries = []
        self._outstanding = 0
        self._idle.set()

    def send(self, delivery: Delivery, *, copies: int = 1) -> None:
        """Queue a delivery; `copies=2` delivers the very same webhook (same id) twice.
        Deliveries held back by `send_late` follow it."""
        self.deliveries.append(delivery)
        for _ in range(copies):
            self._count()
            self._enqueue(delivery)
        late, self._late = self._late, []
        for held in late:
            self._enqueue(held)

    def send_late(self, delivery: Delivery, seconds: float, *, copies: int = 1) -> None:
        """Out of order: queue the delivery after the next one sent, or after `seconds` when
        none is sent before."""
        self.deliveries.append(delivery)
        for _ in range(copies):
            self._count()
            self._late.append(delivery)

        def release() -> None:
            self._timers.discard(timer)
            held = [d for d in self._late if d is delivery]
            self._late = [d for d in self._late if d is not delivery]
            for d in held:
                self._enqueue(d)

        timer = asyncio.get_running_loop().call_later(seconds, release)
        self._timers.add(timer)

    def _count(self) -> None:
        self._outstanding += 1
        self._idle.clear()

    def _enqueue(self, delivery: Delivery) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._workers = [asyncio.create_task(self._work()) for _ in range(self.concurrency)]
        self._queue.put_nowait(delivery)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued delivery succeeded or was given up (tests, demo)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def close(self) -> None:
        self.reset()
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers, self._queue = [], None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def snapshot(self) -> dict[str, Any]:
        return {
            "sent": len(self.deliveries),
            "delivered": sum(d.delivered for d in self.deliveries),
            "given_up": sum(d.given_up for d in self.deliveries),
            "attempts": sum(len(d.attempts) for d in self.deliveries),
            "outstanding": self._outstanding,
            "deliveries": [d.summary() for d in self.deliveries],
        }

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            delivery = await self._queue.get()
            try:
                await self._attempt(delivery)
            finally:
                self._queue.task_done()

    async def _attempt(self, delivery: Delivery) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        record: dict[str, Any] = {"at": self.ctx.iso(), "status": None}
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with self._session.post(
                delivery.url, data=delivery.body, headers=delivery.headers, timeout=timeout
            ) as response:
                record["status"] = response.status
                ok = 200 <= response.status < 300
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            record["error"] = type(exc).__name__
            ok = False
        delivery.attempts.append(record)
        failures = sum(1 for a in delivery.attempts if not _ok(a))
        if ok:
            delivery.delivered = True
        elif failures <= len(RETRY_SCHEDULE_S):
            self._retry_later(delivery, RETRY_SCHEDULE_S[failures - 1] * self.retry_factor)
            return
        else:
            delivery.given_up = True
        self._done()

    def _retry_later(self, delivery: Delivery, delay: float) -> None:
        loop = asyncio.get_running_loop()

        def requeue() -> None:
            self._timers.discard(timer)
            if self._queue is not None:
                self._queue.put_nowait(delivery)

        timer = loop.call_later(delay, requeue)
        self._timers.add(timer)

    def _done(self) -> None:
        self._outstanding = max(0, self._outstanding - 1)
        if self._outstanding == 0:
            self._idle.set()


def _ok(attempt: dict[str, Any]) -> bool:
    status = attempt.get("status")
    return isinstance(status, int) and 200 <= status < 300
