"""Crossdock's client for one store's Admin GraphQL API, over the process's aiohttp session.

One root field per request, every argument passed as a variable. Each request is
handed to the connection's recorder (access token redacted), also when it fails,
and every failure leaves as a classified Crossdock error:

- no answer: TransientError; `ambiguous=True` for a mutation that was sent (it may
  have taken effect, so the caller looks before repeating it);
- 401/403: PermanentError `auth.invalid_credentials`; 429 or a THROTTLED error:
  ThrottledError with the wait Shopify's `throttleStatus` implies;
- other GraphQL errors: PermanentError `remote.rejected`; `userErrors` of a mutation:
  `remote.rejected` with the field paths, except "already fulfilled" refusals, which
  raise `AlreadyFulfilled` so the connector can find the earlier effect.

Cost awareness: the store's cost bucket is estimated per connection in `ctx.cache`
from the last `throttleStatus`; a request the estimate cannot pay for is not sent,
it raises ThrottledError with the time the bucket needs to refill.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from crossdock.connectors.http.client import LINEAGE_LIMIT, redact_headers, retry_after
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.shopify.config import ShopifyConfig
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord

MUTATION_COST = 10  # Shopify's documented cost of a mutation
_BUDGET_KEY = "shopify.cost_bucket"
_LEARNED_KEY = "shopify.requested_cost"
_AUTH_HINT = "Check the connection's Admin API access token (and the app's scopes), then retry."
# Refusals meaning the units are no longer open to fulfil: fulfilled already, or closed.
_ALREADY_DONE = ("quantity requested", "unfulfillable status= closed", "already fulfilled", "already exists")


class AlreadyFulfilled(PermanentError):
    """Shopify refused a fulfillment because the units are not open any more."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            "business.already_fulfilled",
            detail,
            "Shopify shows these units fulfilled already; check the order in the Shopify admin, "
            "then resolve the exception (or cancel the duplicate shipment upstream).",
        )


@dataclass(frozen=True)
class Operation:
    """One GraphQL document with one root field, and the points it is expected to request."""

    root: str
    text: str
    cost: int

    @property
    def mutation(self) -> bool:
        return self.text.lstrip().startswith("mutation")


@dataclass
class CostBucket:
    """What we believe the store's bucket holds; Shopify's `throttleStatus` corrects it."""

    available: float
    maximum: float
    restore_rate: float
    at: float

    def level(self, now: float) -> float:
        return min(self.maximum, self.available + max(0.0, now - self.at) * self.restore_rate)

    def reserve(self, cost: float, now: float) -> float:
        """0 when `cost` points were set aside, else the seconds until they will be there."""
        level = self.level(now)
        if cost > level:
            return (cost - level) / self.restore_rate
        self.available, self.at = level - cost, now
        return 0.0

    def observe(self, status: dict[str, Any], now: float) -> None:
        self.maximum = float(status.get("maximumAvailable") or self.maximum)
        self.restore_rate = float(status.get("restoreRate") or self.restore_rate)
        self.available = float(status.get("currentlyAvailable", self.available))
        self.at = now


class ShopifyClient:
    def __init__(self, config: ShopifyConfig, ctx: ConnectorContext) -> None:
        self.config, self.ctx = config, ctx
        self.url = config.graphql_url
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_seconds, connect=config.timeout_seconds)

    @property
    def bucket(self) -> CostBucket:
        found = self.ctx.cache.get(_BUDGET_KEY)
        if found is None:
            size = self.config.cost_bucket_size
            found = self.ctx.cache[_BUDGET_KEY] = CostBucket(
                size, size, self.config.cost_restore_rate, self.ctx.clock()
            )
        return found

    async def execute(self, op: Operation, variables: dict[str, Any]) -> Any:
        """The value of `data.<root>`, or a classified error."""
        cost = self._expected_cost(op)
        if cost > self.bucket.maximum:
            raise PermanentError(
                "remote.rejected",
                f"{op.root} requests {cost} points, more than the store's bucket of {self.bucket.maximum:g}",
                "Crossdock defect: the query asks for too much at once; report it.",
            )
        wait = self.bucket.reserve(cost, self.ctx.clock())
        if wait > 0:
            raise ThrottledError(wait, f"Shopify {op.root}: cost bucket too low (estimated)", local=True)
        status, headers, raw = await self._post(op, variables)
        return self._read(op, status, headers, raw)

    def _expected_cost(self, op: Operation) -> int:
        """Shopify's own `requestedQueryCost` for this document once seen, else our estimate."""
        learned = self.ctx.cache.get(_LEARNED_KEY) or {}
        return int(learned.get(op.root, op.cost))

    # -- transport ---------------------------------------------------------------------

    async def _post(self, op: Operation, variables: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        body = orjson.dumps({"query": op.text, "variables": variables})
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Shopify-Access-Token": self.config.access_token,
        }
        started = time.perf_counter()

        def record(**fields: Any) -> None:
            self.ctx.record(
                LineageRecord(
                    direction="out",
                    connection_id=self.ctx.connection_id,
                    method="POST",
                    url=self.url,
                    request_headers=redact_headers(headers),
                    request_body=_excerpt(body),
                    duration_ms=(time.perf_counter() - started) * 1000,
                    **fields,
                )
            )

        what = f"Shopify {op.root}"
        try:
            async with self.ctx.permit(), self.ctx.session.post(
                self.url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as resp:
                raw = await resp.read()
                answer = {str(k): v for k, v in resp.headers.items()}
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:
            record(error=_describe(exc))
            raise TransientError(f"{what}: cannot connect to {self.url}: {_describe(exc)}") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            record(error=_describe(exc))
            detail = f"{what}: no answer ({_describe(exc)})"
            raise TransientError(detail, ambiguous=op.mutation) from exc
        record(status_code=resp.status, response_headers=redact_headers(answer), response_body=_excerpt(raw))
        return resp.status, answer, raw

    # -- reading the answer -------------------------------------------------------------

    def _read(self, op: Operation, status: int, headers: dict[str, str], raw: bytes) -> Any:
        what = f"Shopify {op.root}"
        if status in (401, 403):
            raise PermanentError("auth.invalid_credentials", f"{what} answered {status}", _AUTH_HINT)
        if status == 429:
            raise ThrottledError(retry_after(headers.get("Retry-After")), f"{what} answered 429")
        if status >= 500:
            raise TransientError(f"{what} answered {status}", ambiguous=op.mutation and status != 503)
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            raise TransientError(
                f"{what} answered {status} with a body that is not JSON", ambiguous=op.mutation
            )
        cost = (answer.get("extensions") or {}).get("cost") or {}
        self._learn(op, cost)
        _raise_for_errors(op, status, answer, cost)
        value = (answer.get("data") or {}).get(op.root)
        if op.mutation:
            _raise_for_user_errors(op, value)
        return value

    def _learn(self, op: Operation, cost: dict[str, Any]) -> None:
        if isinstance(cost.get("throttleStatus"), dict):
            self.bucket.observe(cost["throttleStatus"], self.ctx.clock())
        if isinstance(cost.get("requestedQueryCost"), int | float):
            self.ctx.cache.setdefault(_LEARNED_KEY, {})[op.root] = cost["requestedQueryCost"]


def _raise_for_errors(op: Operation, status: int, answer: dict[str, Any], cost: dict[str, Any]) -> None:
    errors = answer.get("errors")
    what = f"Shopify {op.root}"
    if not errors:
        if status >= 400:
            raise PermanentError("remote.rejected", f"{what} answered {status}", context={"status": status})
        return
    if isinstance(errors, str):  # HTTP-level failure: a bare message
        raise PermanentError("remote.rejected", f"{what} answered {status}: {errors[:300]}")
    codes = {str(((e or {}).get("extensions") or {}).get("code")) for e in errors if isinstance(e, dict)}
    messages = "; ".join(str((e or {}).get("message")) for e in errors if isinstance(e, dict))[:500]
    if "THROTTLED" in codes:
        throttle = cost.get("throttleStatus") or {}
        needed = float(cost.get("requestedQueryCost") or op.cost)
        rate = float(throttle.get("restoreRate") or 0) or 1.0
        wait = max(0.0, needed - float(throttle.get("currentlyAvailable") or 0)) / rate
        raise ThrottledError(max(wait, 0.1), f"{what} throttled by Shopify")
    if "INTERNAL_SERVER_ERROR" in codes:
        raise TransientError(f"{what}: {messages}", ambiguous=op.mutation)
    if "ACCESS_DENIED" in codes:
        raise PermanentError("auth.access_denied", f"{what}: {messages}", _AUTH_HINT)
    raise PermanentError(
        "remote.rejected",
        f"{what}: {messages}",
        "Crossdock sent a request Shopify does not accept; report it with the lineage of this call.",
        context={"codes": sorted(codes)},
    )


def _raise_for_user_errors(op: Operation, payload: Any) -> None:
    errors = (payload or {}).get("userErrors") if isinstance(payload, dict) else None
    if not errors:
        return
    parts = []
    for e in errors:
        path = ".".join(str(p) for p in (e.get("field") or []))
        parts.append(f"{path}: {e.get('message')}" if path else str(e.get("message")))
    detail = f"Shopify {op.root} refused: " + "; ".join(parts)
    if all(any(m in str(e.get("message", "")).lower() for m in _ALREADY_DONE) for e in errors):
        raise AlreadyFulfilled(detail)
    raise PermanentError(
        "remote.rejected",
        detail,
        "Read Shopify's refusal; fix the order or the mapping, then retry.",
        context={"user_errors": errors},
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _excerpt(body: bytes) -> str:
    text = body[:LINEAGE_LIMIT].decode("utf-8", errors="replace")
    return text + "…[truncated]" if len(body) > LINEAGE_LIMIT else text
