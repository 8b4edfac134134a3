"""Outbound HTTP: one POST of one message to a partner endpoint, classified for the engine.

Every request carries `Idempotency-Key`: the message's own key, identical on every
retry, so the receiver can drop repeats after a timeout we could not see through.
Each attempt yields an `Attempt`: the lineage record (bodies truncated, secrets
redacted) and, when it failed, the classified error for the handler to raise.

One aiohttp session per process, opened lazily in the running event loop (a session
belongs to one loop) and closed by `aclose()` on shutdown.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from crossdock.connectors.http.config import HttpConfig
from crossdock.errors import CrossdockError, PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord

LINEAGE_LIMIT = 64 * 1024
DEFAULT_RETRY_AFTER = 5.0
MAX_RETRY_AFTER = 3600.0
_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|passw|api[-_]?key|signature", re.I)
_REDACTED = "***"


@dataclass(frozen=True)
class Attempt:
    """One request and what came of it."""

    lineage: LineageRecord
    status: int | None = None
    error: CrossdockError | None = None
    already_done: bool = False  # the receiver had this idempotency key already (409)

    def raise_for_error(self) -> None:
        if self.error is not None:
            raise self.error


class HttpClient:
    def __init__(self, *, user_agent: str = "Crossdock") -> None:
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def session(self) -> aiohttp.ClientSession:
        """The process's shared session for the running event loop (opened on first use)."""
        return self._session_for_loop()

    def _session_for_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(headers={"User-Agent": self._user_agent})
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def post(
        self,
        config: HttpConfig,
        body: bytes,
        *,
        idempotency_key: str,
        connection_id: str,
        headers: dict[str, str] | None = None,
    ) -> Attempt:
        """Send `body` (JSON) to the connection's endpoint; `config` holds opened secrets."""
        sent = _request_headers(config, idempotency_key, headers or {})
        record = _Record(connection_id, config.method, config.url, sent, body)
        timeout = aiohttp.ClientTimeout(total=config.timeout_seconds, connect=config.timeout_seconds)
        try:
            async with self._session_for_loop().request(
                config.method, config.url, data=body, headers=sent, timeout=timeout, allow_redirects=False
            ) as resp:
                excerpt = await _read_limited(resp)
                return record.answered(resp.status, {str(k): v for k, v in resp.headers.items()}, excerpt)
        except aiohttp.ConnectionTimeoutError as exc:
            return record.failed(TransientError(f"connecting to {config.url} timed out"), exc)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            detail = f"{config.method} {config.url}: no answer within {config.timeout_seconds:g}s"
            return record.failed(TransientError(detail, ambiguous=True), exc)
        except aiohttp.ClientConnectorError as exc:
            return record.failed(TransientError(f"cannot connect to {config.url}: {exc.os_error}"), exc)
        except (aiohttp.ClientError, OSError) as exc:
            detail = f"{config.method} {config.url}: connection lost ({type(exc).__name__})"
            return record.failed(TransientError(detail, ambiguous=True), exc)


class _Record:
    """Builds the lineage record and the attempt for one request."""

    def __init__(
        self, connection_id: str, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> None:
        self.connection_id, self.method, self.url = connection_id, method, url
        self.headers, self.body = headers, body
        self.started = time.perf_counter()

    def _lineage(self, **fields: Any) -> LineageRecord:
        return LineageRecord(
            direction="out",
            connection_id=self.connection_id,
            method=self.method,
            url=self.url,
            request_headers=redact_headers(self.headers),
            request_body=_truncate(self.body),
            duration_ms=(time.perf_counter() - self.started) * 1000,
            **fields,
        )

    def failed(self, error: CrossdockError, exc: BaseException) -> Attempt:
        return Attempt(self._lineage(error=f"{type(exc).__name__}: {exc}"[:2000]), error=error)

    def answered(self, status: int, headers: dict[str, str], body: bytes) -> Attempt:
        lineage = self._lineage(
            status_code=status, response_headers=redact_headers(headers), response_body=_truncate(body)
        )
        error = classify(status, headers, body, f"{self.method} {self.url}")
        return Attempt(lineage, status=status, error=error, already_done=status == 409)


def classify(status: int, headers: dict[str, str], body: bytes, what: str) -> CrossdockError | None:
    """The engine's reading of an HTTP answer; None when the request took effect."""
    if 200 <= status < 300 or status == 409:  # 409: the receiver already holds this idempotency key
        return None
    if status == 429:
        return ThrottledError(retry_after(headers.get("Retry-After")), f"{what} answered 429")
    if status == 408 or status >= 500:
        return TransientError(f"{what} answered {status}")
    excerpt = _truncate(body[:300]) or ""
    hint = (
        "Check the connection's bearer token or headers, then retry."
        if status in (401, 403)
        else "Read the receiver's answer; fix the data or the connection's config, then retry."
    )
    return PermanentError(
        "remote.rejected", f"{what} answered {status}: {excerpt}", hint, context={"status": status}
    )


def retry_after(value: str | None, now: float | None = None) -> float:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, IndexError):
            return DEFAULT_RETRY_AFTER
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _request_headers(config: HttpConfig, idempotency_key: str, extra: dict[str, str]) -> dict[str, str]:
    headers = {
        **config.headers,
        **extra,
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,
    }
    if config.bearer_token:
        headers["Authorization"] = f"Bearer {config.bearer_token}"
    return headers


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: (_REDACTED if _SECRET_HEADER.search(k) else v) for k, v in headers.items()}


async def _read_limited(resp: aiohttp.ClientResponse) -> bytes:
    """At most LINEAGE_LIMIT + 1 bytes of the answer: enough to record and to classify."""
    chunks, size = [], 0
    while size <= LINEAGE_LIMIT:
        chunk = await resp.content.read(LINEAGE_LIMIT + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _truncate(body: bytes | None) -> str | None:
    if body is None:
        return None
    text = body[:LINEAGE_LIMIT].decode("utf-8", errors="replace")
    return text + "…[truncated]" if len(body) > LINEAGE_LIMIT else text
