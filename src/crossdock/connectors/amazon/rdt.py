"""Restricted Data Tokens (Tokens API 2021-03-01): the access token of operations that
answer personal data, such as getOrderAddress (the buyer's name and street).

An RDT is granted, with the connection's LWA access token, for the restricted resources
named in the request (here one: a method and a path) and lives `expiresIn` seconds. It is
cached in the connection's cache per resource and reused until REFRESH_MARGIN before it
expires; concurrent callers for the same resource share one createRestrictedDataToken
call. Expired entries are dropped whenever a new token is cached, so the cache holds
roughly the resources of the last hour.

`RdtAuth` has LwaAuth's interface, so `SpApiClient.call(..., auth=...)` sends the RDT as
`x-amz-access-token` and, when Amazon refuses it, asks once for a new one. The RDT never
reaches lineage: the client redacts `x-amz-access-token` in requests and
`restrictedDataToken` in answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crossdock.connectors.amazon.auth import TokenState
from crossdock.errors import TransientError

if TYPE_CHECKING:
    from crossdock.connectors.amazon.client import SpApiClient

TOKENS_PATH = "/tokens/2021-03-01/restrictedDataToken"
DEFAULT_TTL = 3600.0  # RDTs live one hour when the answer does not say


class RdtAuth:
    """The RDT of one restricted resource (`method` `path`) of one connection."""

    def __init__(self, client: SpApiClient, method: str, path: str) -> None:
        self.client, self.method, self.path = client, method, path
        self._key = f"amazon.rdt.{client.auth.key}"

    @property
    def _cache(self) -> dict[tuple[str, str], TokenState]:
        cache: dict[tuple[str, str], TokenState] = self.client.ctx.cache.setdefault(self._key, {})
        return cache

    @property
    def state(self) -> TokenState:
        return self._cache.setdefault((self.method, self.path), TokenState())

    def _now(self) -> float:
        return self.client.ctx.clock()

    async def access_token(self) -> str:
        state = self.state
        if state.live(self._now()):
            return state.token  # type: ignore[return-value]
        async with state.lock_for_loop():
            if state.live(self._now()):  # another task got one while we waited
                return state.token  # type: ignore[return-value]
            return await self._grant(state)

    async def refresh_after_rejection(self, rejected: str) -> str:
        """A new RDT after Amazon refused `rejected` (unless another task already got one)."""
        state = self.state
        async with state.lock_for_loop():
            if state.token != rejected and state.live(self._now()):
                return state.token  # type: ignore[return-value]
            return await self._grant(state)

    async def _grant(self, state: TokenState) -> str:
        body = {"restrictedResources": [{"method": self.method, "path": self.path}]}
        answer = await self.client.call("createRestrictedDataToken", "POST", TOKENS_PATH, body=body)
        found = answer.body if isinstance(answer.body, dict) else {}
        token = found.get("restrictedDataToken")
        if not isinstance(token, str) or not token:
            raise TransientError("createRestrictedDataToken answered without a restrictedDataToken")
        try:
            ttl = float(found.get("expiresIn") or DEFAULT_TTL)
        except (TypeError, ValueError):
            ttl = DEFAULT_TTL
        state.token, state.expires_at = token, self._now() + ttl
        state.grants += 1
        self._forget_expired()
        return token

    def _forget_expired(self) -> None:
        now = self._now()
        cache = self._cache
        for resource in [r for r, s in cache.items() if s.token is not None and s.expires_at <= now]:
            del cache[resource]
