"""Transport for Crossdock's generic REST contracts (the ERP's, and the WMS's, which shares
its conventions): JSON over the process's shared aiohttp session, a bearer key, one
lineage record per request (key redacted), and every answer classified for the engine.

Classification: 2xx is an answer; statuses a caller `expect`s (404 on a lookup, 409 on a
release) come back as answers too. Otherwise 429, and 503 with Retry-After (downtime the
partner announces) → ThrottledError(Retry-After): the connection pauses for every worker
and no attempt is used, so an outage of any length never exhausts an order's retries;
other 408/5xx and network failures → TransientError; 401/403 → PermanentError `auth.invalid_credentials`;
other 4xx → PermanentError `remote.rejected` with the partner's `{"error": {code, message}}`.
A failure is *ambiguous* when a write may have taken effect: the request was sent and then
the answer timed out, the connection dropped, a 5xx (other than 503) came back, or a 2xx
body could not be read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from yarl import URL

from crossdock.connectors.capabilities import Recorder
from crossdock.connectors.http.client import LINEAGE_LIMIT, redact_headers, retry_after
from crossdock.errors import CrossdockError, PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord

# Hints for the refusals the contracts name; anything else gets the generic one.
HINTS = {
    "unknown_item": "The item is not in the partner system: create it there or fix the item mapping, then retry.",
    "unknown_customer": "The customer does not exist in the ERP: fix the customer mapping, then retry.",
    "invalid_quantity": "Quantities must be positive numbers; fix the order, then resubmit.",
    "invalid_line": "The warehouse takes positive whole quantities per line; fix the release, then resubmit.",
    "over_invoiced": "The invoice asks for more than the sales order holds; check the shipment against the order.",
    "already_invoiced": "The sales order has invoices and cannot be cancelled; issue a credit note in the ERP.",
    "cancelled": "The sales order was cancelled in the ERP; nothing more can be invoiced on it.",
    "already_shipped": "The release has shipped; handle the cancellation as a return.",
}
GENERIC_HINT = "Read the partner's answer; fix the data or the connection's settings, then retry."
AUTH_HINT = "Check the connection's api_key (bearer token) with the partner, then retry."


@dataclass(frozen=True, slots=True)
class Answer:
    """A classified answer the caller handles: a 2xx, or a status it said it expects."""

    status: int
    body: Any  # decoded JSON; None when empty or unreadable (only for expected statuses)
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def error_code(self) -> str:
        return str(_error(self.body).get("code") or "")

    @property
    def error_message(self) -> str:
        return str(_error(self.body).get("message") or "")


def _error(body: Any) -> dict:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


class RestClient:
    """One connection's view of a partner API; cheap to build per handler call."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str,
        timeout_seconds: float,
        connection_id: str,
        record: Recorder,
        system: str,
        permit: Callable[[], AbstractAsyncContextManager[None]] = nullcontext,
    ) -> None:
        self._session, self._base, self._key = session, base_url.rstrip("/"), api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=timeout_seconds)
        self._timeout_seconds = timeout_seconds
        self._connection_id, self._record, self.system = connection_id, record, system
        self._permit = permit  # the connection's shared throttle, once per request

    async def get(
        self, path: str, params: Mapping[str, str] | None = None, *, expect: tuple[int, ...] = ()
    ) -> Answer:
        return await self.request("GET", path, params=params, expect=expect)

    async def post(
        self, path: str, body: Any, *, expect: tuple[int, ...] = (), idempotency_key: str | None = None
    ) -> Answer:
        extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return await self.request("POST", path, body=body, expect=expect, headers=extra)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        expect: tuple[int, ...] = (),
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        url = URL(self._base + path).update_query(dict(params or {}))
        sent = {"Authorization": f"Bearer {self._key}", "Accept": "application/json", **(headers or {})}
        data = None if body is None else orjson.dumps(body)
        if data is not None:
            sent["Content-Type"] = "application/json"
        what = f"{self.system} {method} {url.path}"
        write = method != "GET"
        lineage = _Lineage(self._connection_id, method, str(url), sent, data)
        try:
            async with self._permit(), self._session.request(
                method, url, data=data, headers=sent, timeout=self._timeout, allow_redirects=False
            ) as resp:
                raw = await resp.read()
                status, answer_headers = resp.status, {str(k): v for k, v in resp.headers.items()}
        except aiohttp.ConnectionTimeoutError as exc:
            raise self._failed(lineage, TransientError(f"{what}: connecting timed out"), exc) from exc
        except aiohttp.ClientConnectorError as exc:
            raise self._failed(
                lineage, TransientError(f"{what}: cannot connect ({exc.os_error})"), exc
            ) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            error = TransientError(f"{what}: no answer within {self._timeout_seconds:g}s", ambiguous=write)
            raise self._failed(lineage, error, exc) from exc
        except (aiohttp.ClientError, OSError) as exc:
            error = TransientError(f"{what}: connection lost ({type(exc).__name__})", ambiguous=write)
            raise self._failed(lineage, error, exc) from exc
        self._record(lineage.answered(status, answer_headers, raw))
        return classify(what, write, status, answer_headers, raw, expect)

    def _failed(self, lineage: _Lineage, error: CrossdockError, exc: BaseException) -> CrossdockError:
        self._record(lineage.failed(f"{type(exc).__name__}: {exc}"[:2000]))
        return error


def classify(
    what: str, write: bool, status: int, headers: Mapping[str, str], raw: bytes, expect: tuple[int, ...]
) -> Answer:
    """The answer for a 2xx or an expected status; raises the classified error otherwise."""
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        if 200 <= status < 300:  # the effect may be applied, the answer is lost
            raise TransientError(f"{what} answered {status} with unreadable JSON", ambiguous=write) from None
        body = None
    answer = Answer(status, body, headers)
    if 200 <= status < 300 or status in expect:
        return answer
    raise refusal(what, write, answer)


def refusal(what: str, write: bool, answer: Answer) -> CrossdockError:
    """The engine's reading of an answer that is not a success."""
    status, code = answer.status, answer.error_code
    said = f"{what} answered {status}" + (f" {code}: {answer.error_message}" if code else "")
    announced = answer.headers.get("Retry-After")
    if status == 429 or (status == 503 and announced):
        return ThrottledError(retry_after(announced), said)
    if status == 408 or status >= 500:
        return TransientError(said, ambiguous=write and status != 503)
    context = {"status": status, "code": code}
    if status in (401, 403):
        return PermanentError("auth.invalid_credentials", said, AUTH_HINT, context=context)
    return PermanentError("remote.rejected", said, HINTS.get(code, GENERIC_HINT), context=context)


class _Lineage:
    """Builds the lineage record of one request (bearer key redacted, bodies truncated)."""

    def __init__(
        self, connection_id: str, method: str, url: str, headers: dict[str, str], body: bytes | None
    ):
        self.connection_id, self.method, self.url = connection_id, method, url
        self.headers, self.body = redact_headers(headers), body
        self.started = time.perf_counter()

    def _record(self, **fields: Any) -> LineageRecord:
        return LineageRecord(
            direction="out",
            connection_id=self.connection_id,
            method=self.method,
            url=self.url,
            request_headers=self.headers,
            request_body=excerpt(self.body),
            duration_ms=(time.perf_counter() - self.started) * 1000,
            **fields,
        )

    def answered(self, status: int, headers: dict[str, str], body: bytes) -> LineageRecord:
        return self._record(
            status_code=status, response_headers=redact_headers(headers), response_body=excerpt(body)
        )

    def failed(self, error: str) -> LineageRecord:
        return self._record(error=error)


def excerpt(body: bytes | None) -> str | None:
    if body is None:
        return None
    text = body[:LINEAGE_LIMIT].decode("utf-8", errors="replace")
    return text + "…[truncated]" if len(body) > LINEAGE_LIMIT else text
