"""SP-API transport: access token, per-operation rate limits, lineage, failure classification.

Rate limits: each operation's usage plan (config.DEFAULT_RATE_LIMITS, or the connection's
overrides) is mirrored client-side as a token bucket in the connection's cache, so one
process never sprays 429s. A short wait (≤ MAX_SLEEP) is slept; a longer one raises
ThrottledError and the worker hands the message back until then. The engine's shared
throttle, which the flows wrap around every call, keeps processes in step with each other;
these buckets only keep one process honest. An answer's `x-amzn-RateLimit-Limit` (the
seller's actual rate) replaces the configured rate.

Failures: 429 → ThrottledError; 408/5xx/network → TransientError (ambiguous when a
request with a side effect may have been applied); 403 → one forced token refresh and
retry, then PermanentError("auth.invalid_credentials") (an operation called with a
Restricted Data Token passes its own `auth`, which gets a new RDT instead); 404 → PermanentError
("remote.not_found"); other 4xx → PermanentError("remote.rejected") with Amazon's errors.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import orjson
from yarl import URL

from crossdock.connectors.amazon.auth import LwaAuth, redact_body
from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.http.client import LINEAGE_LIMIT, redact_headers, retry_after
from crossdock.connectors.registry import ConnectorContext
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord

RESTRICTED_OPERATIONS = frozenset({"getOrderAddress"})  # personal data: need a Restricted Data Token
MAX_SLEEP = 1.0  # seconds a call may wait for its bucket before it raises ThrottledError
BUCKETS_KEY = "amazon.buckets"
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NO_SIDE_EFFECT = frozenset({"createRestrictedDataToken"})  # POSTs that change nothing worth knowing


@dataclass
class Bucket:
    """One operation's usage plan: `rate` tokens per second, at most `burst`, one per call.
    `tokens` goes below zero while calls wait for tokens they reserved."""

    rate: float
    burst: float
    tokens: float
    at: float

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)

    def reserve(self, now: float, max_wait: float) -> float:
        """Seconds to wait for a token now reserved; raises ThrottledError past `max_wait`."""
        self._refill(now)
        wait = max(0.0, (1.0 - self.tokens) / self.rate)
        if wait > max_wait:
            raise ThrottledError(wait, "Amazon usage plan exhausted (client-side bucket)", local=True)
        self.tokens -= 1.0
        return wait

    def pause(self, now: float, seconds: float) -> None:
        """Amazon said 429: no token until `seconds` from now."""
        self._refill(now)
        self.tokens = min(self.tokens, 1.0 - seconds * self.rate)

    def adopt_rate(self, rate: float) -> None:
        if rate > 0 and abs(rate - self.rate) > 1e-9:
            self.rate = rate


class AccessTokens(Protocol):
    """Where a call's `x-amz-access-token` comes from: LWA, or an RDT for restricted data."""

    async def access_token(self) -> str: ...

    async def refresh_after_rejection(self, rejected: str) -> str: ...


@dataclass(frozen=True)
class SpAnswer:
    status: int
    headers: dict[str, str]
    body: Any  # the parsed JSON answer; None for an empty body (204)


class SpApiClient:
    def __init__(self, config: AmazonConfig, ctx: ConnectorContext, auth: LwaAuth | None = None) -> None:
        self.config, self.ctx = config, ctx
        self.auth = auth or LwaAuth(config, ctx)

    def bucket(self, operation: str) -> Bucket:
        buckets: dict[str, Bucket] = self.ctx.cache.setdefault(BUCKETS_KEY, {})
        if operation not in buckets:
            limit = self.config.rate_limit(operation)
            buckets[operation] = Bucket(limit.rate, limit.burst, limit.burst, self.ctx.clock())
        return buckets[operation]

    async def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        auth: AccessTokens | None = None,
    ) -> SpAnswer:
        """One SP-API operation; answers a 2xx or raises a classified error. `auth` replaces
        the connection's LWA token (a Restricted Data Token for operations returning PII)."""
        wait = self.bucket(operation).reserve(self.ctx.clock(), MAX_SLEEP)
        if wait > 0:
            await asyncio.sleep(wait)
        url = URL(self.config.endpoint + path)
        url = url.update_query(params) if params else url
        data = orjson.dumps(body) if body is not None else None
        tokens = auth or self.auth
        token = await tokens.access_token()
        mutating = method in _MUTATING and operation not in _NO_SIDE_EFFECT
        answer = await self._send(method, url, data, token, mutating)
        if answer.status in (401, 403):
            token = await tokens.refresh_after_rejection(token)
            answer = await self._send(method, url, data, token, mutating)
            if answer.status in (401, 403):
                raise _refused(operation, answer)
        self._classify(operation, answer)
        return answer

    async def _send(self, method: str, url: URL, data: bytes | None, token: str, mutating: bool) -> SpAnswer:
        headers = {"x-amz-access-token": token, "Accept": "application/json", "User-Agent": "Crossdock"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        record = {
            "direction": "out",
            "connection_id": self.ctx.connection_id,
            "method": method,
            "url": str(url),
            "request_headers": redact_headers(headers),
            "request_body": _excerpt(data),
        }
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
        try:
            async with self.ctx.permit(), self.ctx.session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as resp:
                status, resp_headers, raw = resp.status, dict(resp.headers), await resp.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            self._record(record, started)
            raise _network_error(method, url, exc, self.config.timeout_seconds, mutating) from exc
        record.update(
            status_code=status,
            response_headers=redact_headers(resp_headers),
            response_body=_excerpt(_without_tokens(raw)),
        )
        self._record(record, started)
        return SpAnswer(status, resp_headers, _parse(raw, status, method, url, mutating))

    def _record(self, fields: dict[str, Any], started: float) -> None:
        self.ctx.record(LineageRecord(**fields, duration_ms=(time.perf_counter() - started) * 1000))

    def _classify(self, operation: str, answer: SpAnswer) -> None:
        """Follow Amazon's word on the rate; raise unless the answer is a success."""
        bucket = self.bucket(operation)
        limit = _rate_limit_header(answer.headers)
        if limit:
            bucket.adopt_rate(limit)
        status, what = answer.status, f"{operation} answered {answer.status}"
        if 200 <= status < 300:
            return
        if status == 429:
            wait = _throttle_wait(answer.headers, bucket.rate)
            bucket.pause(self.ctx.clock(), wait)
            raise ThrottledError(wait, f"{what} QuotaExceeded")
        if status == 408 or status >= 500:
            # A gateway timeout or internal failure may hide an applied change; 503 never does.
            raise TransientError(what, ambiguous=operation == "confirmShipment" and status != 503)
        errors = _errors(answer.body)
        detail = f"{what}: {_describe(errors)}"
        context = {"status": status, "operation": operation, "errors": errors}
        if status == 404:
            raise PermanentError(
                "remote.not_found",
                detail,
                "Amazon does not know this order (wrong seller or region?).",
                context=context,
            )
        raise PermanentError(
            "remote.rejected",
            detail,
            "Read Amazon's error; fix the data or the connection, then retry.",
            context=context,
        )


def _refused(operation: str, answer: SpAnswer) -> PermanentError:
    errors = _errors(answer.body)
    role = (
        "the restricted role for buyer addresses (Direct-to-Consumer Shipping)"
        if operation in RESTRICTED_OPERATIONS
        else "the role this operation needs (Inventory and Order Tracking for the Orders API)"
    )
    return PermanentError(
        "auth.invalid_credentials",
        f"{operation} refused a freshly granted access token ({answer.status}): {_describe(errors)}",
        f"Check that the seller still authorizes the app and that the app holds {role}, then retry.",
        context={"status": answer.status, "operation": operation, "errors": errors},
    )


def _network_error(
    method: str, url: URL, exc: BaseException, timeout: float, mutating: bool
) -> TransientError:
    what = f"{method} {url.with_query(None)}"
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return TransientError(f"{what}: cannot connect ({type(exc).__name__})")
    # Sent, then no answer: a request with a side effect may have been applied.
    ambiguous = mutating
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return TransientError(f"{what}: no answer within {timeout:g}s", ambiguous=ambiguous)
    return TransientError(f"{what}: connection lost ({type(exc).__name__})", ambiguous=ambiguous)


def _parse(raw: bytes, status: int, method: str, url: URL, mutating: bool) -> Any:
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        if 200 <= status < 300:  # a mangled success answer: ask again
            raise TransientError(
                f"{method} {url.with_query(None)} answered {status} with a body that is not JSON",
                ambiguous=mutating,
            ) from None
        return None


def _errors(body: Any) -> list[dict[str, Any]]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _describe(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "no error details"
    parts = []
    for e in errors:
        text = f"{e.get('code', '?')}: {e.get('message', '')}"
        parts.append(f"{text} ({e['details']})" if e.get("details") else text)
    return "; ".join(parts)


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _rate_limit_header(headers: dict[str, str]) -> float | None:
    value = _header(headers, "x-amzn-ratelimit-limit")
    try:
        rate = float(value) if value else None
    except ValueError:
        return None
    return rate if rate and rate > 0 else None


def _throttle_wait(headers: dict[str, str], rate: float) -> float:
    """Retry-After when Amazon sends it; else the time one token takes at the stated rate."""
    if value := _header(headers, "retry-after"):
        return retry_after(value)
    return 1.0 / (_rate_limit_header(headers) or rate)


def _without_tokens(raw: bytes) -> bytes:
    """The answer for lineage: a token in it (createRestrictedDataToken's) replaced by ***."""
    if b"restrictedDataToken" not in raw and b"access_token" not in raw:
        return raw
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return b"[not recorded: an unreadable answer that names a token]"
    return orjson.dumps(redact_body(parsed) if isinstance(parsed, dict) else "[not recorded]")


def _excerpt(body: bytes | None) -> str | None:
    if body is None:
        return None
    text = body[:LINEAGE_LIMIT].decode("utf-8", errors="replace")
    return text + "…[truncated]" if len(body) > LINEAGE_LIMIT else text
