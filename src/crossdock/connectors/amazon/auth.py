"""Login with Amazon (LWA): the seller's refresh token traded for short-lived access tokens.

The access token lives in the connection's cache (it outlives one handler call, not the
process) and is reused until 60 s before it expires. Concurrent callers share a single
refresh behind one lock per connection. When the SP-API refuses a token we believed
live (revoked, clock skew), `refresh_after_rejection` forces one new grant; callers that
were refused the same token meanwhile reuse the new one instead of refreshing again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.http.client import redact_headers, retry_after
from crossdock.connectors.registry import ConnectorContext
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord

REFRESH_MARGIN = 60.0  # seconds before expiry at which a cached token counts as stale
DEFAULT_TTL = 3600.0  # LWA access tokens live one hour when the answer does not say
REDACTED = "***"
_SECRET_BODY_KEYS = ("client_secret", "refresh_token", "access_token", "restrictedDataToken")
_CREDENTIAL_ERRORS = {
    "invalid_client": "Check the app's LWA client id and client secret (secrets are rotated in Seller "
    "Central / Developer Central); update the connection, then retry.",
    "invalid_grant": "The refresh token is invalid or revoked: re-authorize the app for this seller "
    "and store the new refresh token in the connection, then retry.",
    "unauthorized_client": "The app may not use the refresh-token grant: check its registration.",
}


@dataclass
class TokenState:
    """The cached access token of one connection, and the lock that serializes refreshes."""

    token: str | None = None
    expires_at: float = 0.0
    grants: int = 0  # how many times a token was obtained (observability, tests)
    lock: asyncio.Lock | None = None
    loop: asyncio.AbstractEventLoop | None = None

    def live(self, now: float) -> bool:
        return self.token is not None and now < self.expires_at - REFRESH_MARGIN

    def lock_for_loop(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self.lock is None or self.loop is not loop:  # a lock belongs to one event loop
            self.lock, self.loop = asyncio.Lock(), loop
        return self.lock


class LwaAuth:
    def __init__(self, config: AmazonConfig, ctx: ConnectorContext) -> None:
        self.config, self.ctx = config, ctx
        # Keyed by the credentials, so rotated credentials never reuse the old grant's token.
        digest = hashlib.sha256(
            f"{config.lwa_endpoint}\0{config.client_id}\0{config.refresh_token}".encode()
        ).hexdigest()[:16]
        self._key = f"amazon.lwa.{digest}"

    @property
    def key(self) -> str:
        """Names this grant's cache entries (tokens derived from it are keyed by it too)."""
        return self._key

    @property
    def state(self) -> TokenState:
        state = self.ctx.cache.get(self._key)
        if not isinstance(state, TokenState):
            state = self.ctx.cache[self._key] = TokenState()
        return state

    async def access_token(self) -> str:
        state = self.state
        if state.live(self.ctx.clock()):
            return state.token  # type: ignore[return-value]
        async with state.lock_for_loop():
            if state.live(self.ctx.clock()):  # another task refreshed while we waited
                return state.token  # type: ignore[return-value]
            return await self._grant(state)

    async def refresh_after_rejection(self, rejected: str) -> str:
        """A new token after the SP-API refused `rejected` (unless another task already got one)."""
        state = self.state
        async with state.lock_for_loop():
            if state.token != rejected and state.live(self.ctx.clock()):
                return state.token  # type: ignore[return-value]
            return await self._grant(state)

    async def _grant(self, state: TokenState) -> str:
        answer = await self._post_grant()
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise TransientError("LWA answered 200 without an access token")
        try:
            ttl = float(answer.get("expires_in") or DEFAULT_TTL)
        except (TypeError, ValueError):
            ttl = DEFAULT_TTL
        state.token, state.expires_at = token, self.ctx.clock() + ttl
        state.grants += 1
        return token

    async def _post_grant(self) -> dict[str, Any]:
        cfg = self.config
        form = {
            "grant_type": "refresh_token",
            "refresh_token": cfg.refresh_token,
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret,
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
        started = time.perf_counter()
        lineage: dict[str, Any] = {
            "direction": "out",
            "connection_id": self.ctx.connection_id,
            "method": "POST",
            "url": cfg.lwa_endpoint,
            "request_headers": redact_headers(headers),
            "request_body": urlencode(redact_body(form)),
        }
        timeout = aiohttp.ClientTimeout(total=cfg.timeout_seconds)
        try:
            async with self.ctx.session.post(
                cfg.lwa_endpoint, data=urlencode(form), headers=headers, timeout=timeout
            ) as resp:
                status, resp_headers, body = resp.status, dict(resp.headers), await resp.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            lineage["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            self._record(lineage, started)
            raise TransientError(f"LWA token endpoint unreachable ({type(exc).__name__})") from exc
        parsed = _json_object(body)
        lineage.update(
            status_code=status,
            response_headers=redact_headers(resp_headers),
            response_body=orjson.dumps(redact_body(parsed)).decode()
            if parsed
            else body[:2000].decode("utf-8", "replace"),
        )
        self._record(lineage, started)
        _raise_for_status(status, resp_headers, parsed)
        return parsed

    def _record(self, fields: dict[str, Any], started: float) -> None:
        self.ctx.record(LineageRecord(**fields, duration_ms=(time.perf_counter() - started) * 1000))


def redact_body(body: dict[str, Any]) -> dict[str, Any]:
    return {k: (REDACTED if k in _SECRET_BODY_KEYS else v) for k, v in body.items()}


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _raise_for_status(status: int, headers: dict[str, str], body: dict[str, Any]) -> None:
    if status == 200:
        return
    if status == 429:
        raise ThrottledError(retry_after(headers.get("Retry-After")), "LWA token endpoint answered 429")
    if status >= 500 or status == 408:
        raise TransientError(f"LWA token endpoint answered {status}")
    error = str(body.get("error") or "")
    detail = f"LWA refused the refresh-token grant ({status} {error}: {body.get('error_description', '')})"
    if status in (400, 401, 403) and error not in ("invalid_request", "unsupported_grant_type"):
        hint = _CREDENTIAL_ERRORS.get(error, _CREDENTIAL_ERRORS["invalid_client"])
        raise PermanentError(
            "auth.invalid_credentials", detail, hint, context={"status": status, "error": error}
        )
    raise PermanentError(
        "config.lwa_endpoint",
        detail,
        "Check the connection's lwa_endpoint (the SP-API uses https://api.amazon.com/auth/o2/token).",
        context={"status": status, "error": error},
    )
