"""Walmart Marketplace transport: client-credentials token, the `WM_*` headers, lineage,
failure classification.

Token: `POST /v3/token` (HTTP Basic with the client id and secret, form
`grant_type=client_credentials`, headers `WM_SVC.NAME` and `WM_QOS.CORRELATION_ID`) answers
an access token valid 15 minutes; it is cached per connection (and credentials) until 60 s
before it expires, and sent as `WM_SEC.ACCESS_TOKEN`. Every call carries a fresh
`WM_QOS.CORRELATION_ID`.

Rate limits: each order or inventory read operation's limit (config.DEFAULT_RATE_LIMITS, per
minute, or the connection's overrides) is mirrored client-side as a token bucket in the
connection's cache, so one process never sprays 429s: a wait up to MAX_SLEEP is slept, a
longer one raises ThrottledError(local=True). A 429 empties the operation's bucket until Walmart's
`x-next-replenish-time`.

Failures: 401 → one forced token refresh, then PermanentError("auth.invalid_credentials");
429 → ThrottledError (Retry-After, else `x-next-replenish-time`, else 60 s); 5xx/network →
TransientError (ambiguous for a POST that was sent); other 4xx → PermanentError
("remote.rejected") with Walmart's errors.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from yarl import URL

from crossdock.connectors.http.client import LINEAGE_LIMIT, redact_headers, retry_after
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.walmart.config import RateLimit, WalmartConfig
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord

REFRESH_MARGIN = 60.0
MAX_SLEEP = 1.0  # seconds a call may wait for its bucket before it raises ThrottledError
BUCKETS_KEY = "walmart.buckets"
_AUTH_HINT = "Check the connection's Walmart client id and secret (Developer Portal → API keys), then retry."


@dataclass
class Token:
    value: str
    expires_at: float


@dataclass
class Bucket:
    """One operation's limit: `rate` tokens per second up to `burst`, one token per call.
    `tokens` goes below zero while calls wait for tokens they reserved."""

    rate: float
    burst: float
    tokens: float
    at: float

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)

    def reserve(self, operation: str, now: float, max_wait: float) -> float:
        """Seconds to wait for a token now reserved; raises ThrottledError past `max_wait`."""
        self._refill(now)
        wait = max(0.0, (1.0 - self.tokens) / self.rate)
        if wait > max_wait:
            raise ThrottledError(wait, f"Walmart {operation}: limit used up (client-side bucket)", local=True)
        self.tokens -= 1.0
        return wait

    def pause(self, now: float, seconds: float) -> None:
        """Walmart said 429: no token until `seconds` from now."""
        self._refill(now)
        self.tokens = min(self.tokens, 1.0 - seconds * self.rate)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


class WalmartClient:
    def __init__(self, config: WalmartConfig, ctx: ConnectorContext) -> None:
        self.config, self.ctx = config, ctx
        digest = hashlib.sha256(f"{config.base_url}\0{config.client_id}\0{config.client_secret}".encode())
        self._key = f"walmart.token.{digest.hexdigest()[:16]}"

    def _headers(self) -> dict[str, str]:
        return {
            "WM_SVC.NAME": self.config.service_name,
            "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
            "Accept": "application/json",
        }

    async def access_token(self, *, force: bool = False) -> str:
        token = self.ctx.cache.get(self._key)
        if not force and isinstance(token, Token) and self.ctx.clock() < token.expires_at - REFRESH_MARGIN:
            return token.value
        basic = base64.b64encode(f"{self.config.client_id}:{self.config.client_secret}".encode()).decode()
        headers = {**self._headers(), "Authorization": f"Basic {basic}",
                   "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
        answer = await self._send("POST", "/v3/token", headers, b"grant_type=client_credentials", None)
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status in (400, 401, 403):
            raise PermanentError(
                "auth.invalid_credentials", f"Walmart token refused ({answer.status})", _AUTH_HINT
            )
        self._classify("token", answer, mutating=False)
        if not body.get("access_token"):
            raise TransientError("Walmart token answer holds no access_token")
        expires = self.ctx.clock() + float(body.get("expires_in") or 900)
        self.ctx.cache[self._key] = Token(str(body["access_token"]), expires)
        return str(body["access_token"])

    async def call(
        self, operation: str, method: str, path: str, *, params: dict[str, str] | None = None,
        data: Any = None, body_text: bytes | None = None, json: Any = None, expect: tuple[int, ...] = (),
    ) -> Answer:  # fmt: skip
        """One API call with the access token; `data` is a form (multipart) or None, `json` a
        JSON body. A status in `expect` (404 on a lookup) is the caller's to read, not an error."""
        extra = {}
        if json is not None:
            data = body_text = orjson.dumps(json)
            extra = {"Content-Type": "application/json"}
        bucket = self._bucket(operation)
        if bucket is not None and (wait := bucket.reserve(operation, self.ctx.clock(), MAX_SLEEP)) > 0:
            await asyncio.sleep(wait)
        token = await self.access_token()
        for attempt in range(2):
            headers = {**self._headers(), **extra, "WM_SEC.ACCESS_TOKEN": token}
            answer = await self._send(method, path, headers, data, params, shown_body=body_text)
            if answer.status != 401 or attempt:
                break
            token = await self.access_token(force=True)
        if answer.status == 401:
            raise PermanentError(
                "auth.invalid_credentials", f"Walmart {operation} refused a fresh token", _AUTH_HINT
            )
        if answer.status == 429 and bucket is not None:
            bucket.pause(self.ctx.clock(), _throttle_wait(answer.headers))
        if answer.status not in expect:
            self._classify(operation, answer, mutating=method != "GET")
        return answer

    def _bucket(self, operation: str) -> Bucket | None:
        limit: RateLimit | None = self.config.rate_limit(operation)
        if limit is None:
            return None
        buckets: dict[str, Bucket] = self.ctx.cache.setdefault(BUCKETS_KEY, {})
        if operation not in buckets:
            burst = limit.burst or limit.per_minute
            buckets[operation] = Bucket(limit.per_minute / 60.0, burst, burst, self.ctx.clock())
        return buckets[operation]

    async def _send(self, method: str, path: str, headers: dict[str, str], data: Any,
                    params: dict[str, str] | None, *, shown_body: bytes | None = None) -> Answer:  # fmt: skip
        url = self.config.base_url + path
        # A path that carries its query is sent as built: its builder percent-encoded it the way
        # Walmart asks (every reserved character of a SKU, a space as %20), which re-quoting undoes.
        target = URL(url, encoded=True) if "?" in path else url
        started = time.perf_counter()
        shown = shown_body if shown_body is not None else (data if isinstance(data, bytes) else None)
        record: dict[str, Any] = {"direction": "out", "connection_id": self.ctx.connection_id, "method": method,
                                  "url": url, "request_headers": redact_headers(headers),
                                  "request_body": None if path == "/v3/token" else _excerpt(shown)}  # fmt: skip
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
        try:
            async with self.ctx.permit(), self.ctx.session.request(
                method, target, params=params, data=data, headers=headers, timeout=timeout
            ) as resp:
                status, resp_headers, raw = resp.status, dict(resp.headers), await resp.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            self._record(record, started)
            sent = not isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
            raise TransientError(
                f"Walmart {method} {path}: {type(exc).__name__}", ambiguous=sent and method != "GET"
            ) from exc
        body_shown = None if path == "/v3/token" else _excerpt(raw)
        record.update(
            status_code=status, response_headers=redact_headers(resp_headers), response_body=body_shown
        )
        self._record(record, started)
        try:
            body = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            body = None
        return Answer(status, resp_headers, body)

    def _record(self, fields: dict[str, Any], started: float) -> None:
        self.ctx.record(LineageRecord(**fields, duration_ms=(time.perf_counter() - started) * 1000))

    @staticmethod
    def _classify(operation: str, answer: Answer, *, mutating: bool) -> None:
        status, what = answer.status, f"Walmart {operation} answered {answer.status}"
        if 200 <= status < 300:
            return
        if status == 429:
            raise ThrottledError(_throttle_wait(answer.headers), what)
        if status >= 500 or status == 408:
            raise TransientError(what, ambiguous=mutating and status != 503)
        errors = _errors(answer.body)
        raise PermanentError(
            "remote.not_found" if status == 404 else "remote.rejected",
            f"{what}: {errors}",
            "Read Walmart's error; fix the data or the connection, then retry.",
            context={"status": status, "operation": operation},
        )


def _throttle_wait(headers: dict[str, str]) -> float:
    lowered = {k.lower(): v for k, v in headers.items()}
    if lowered.get("retry-after"):
        return retry_after(lowered["retry-after"])
    replenish = lowered.get("x-next-replenish-time")  # epoch milliseconds
    if replenish and replenish.isdigit():
        return max(1.0, int(replenish) / 1000 - time.time())
    return 60.0


def _errors(body: Any) -> str:
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, dict):
        errors = errors.get("error")
    if not isinstance(errors, list):
        return "no error details"
    return "; ".join(f"{e.get('code', '?')}: {e.get('description') or e.get('info') or ''}" for e in errors
                     if isinstance(e, dict))[:1000]  # fmt: skip


def _excerpt(body: bytes | None) -> str | None:
    if body is None:
        return None
    text = body[:LINEAGE_LIMIT].decode("utf-8", errors="replace")
    return text + "…[truncated]" if len(body) > LINEAGE_LIMIT else text
