"""A tenant's configuration as the flows use it (its settings and its order rules), cached
per process and checked against the configuration stamp on every step.

Rebuilding a tenant's rules reads every mapping entry and validates each through pydantic;
doing that for every message was a tenth of the hub's time while a backlog drained. The
stamp is the audit log's head (`store.audit.head`): every configuration change (`crossdock
apply`, an API edit of a mapping or rule) appends to the audit log in its own transaction,
and appends are serialized, so a step that reads the same head as the cached copy has the
same configuration. The order steps read the head in the same snapshot as their order
(`records.find`), so the check costs no extra round trip, and a fixed mapping is used by the
very next step in every process."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from crossdock.engine.handlers import HandlerContext
from crossdock.store import audit
from crossdock.store.mappings import TenantRules, read_rules
from crossdock.store.orders import tenant_settings

STAMP = "config_stamp"  # HandlerContext.memo key: the stamp read with this step's first read


@dataclass(frozen=True)
class TenantConfig:
    stamp: int
    settings: dict[str, Any]
    rules: TenantRules


def _load(conn: Connection, tenant_id: str) -> TenantConfig:
    return TenantConfig(audit.head(conn), tenant_settings(conn, tenant_id), read_rules(conn, tenant_id))


class TenantConfigs:
    """Per process: tenant id → its configuration as of a stamp; concurrent misses share one load."""

    def __init__(self) -> None:
        self._held: dict[str, TenantConfig] = {}
        self._loading: dict[str, asyncio.Future] = {}

    async def get(self, ctx: HandlerContext, stamp: int) -> TenantConfig:
        tenant = ctx.message.tenant_id
        held = self._held.get(tenant)
        if held is not None and held.stamp >= stamp:
            return held
        pending = self._loading.get(tenant)
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = asyncio.ensure_future(ctx.read(lambda c: _load(c, tenant)))
            self._loading[tenant] = pending
            pending.add_done_callback(lambda f: self._loaded(tenant, f))
        loaded = await asyncio.shield(pending)
        if loaded.stamp < stamp:  # a load that started before the change this step has seen
            return await self.get(ctx, stamp)
        return loaded

    def _loaded(self, tenant: str, done: asyncio.Future) -> None:
        if self._loading.get(tenant) is done:
            del self._loading[tenant]
        if done.cancelled() or done.exception() is not None:
            return
        value: TenantConfig = done.result()
        held = self._held.get(tenant)
        if held is None or held.stamp <= value.stamp:
            self._held[tenant] = value


async def tenant_config(ctx: HandlerContext) -> TenantConfig:
    """The message's tenant's configuration, at least as new as this step's first read."""
    stamp = ctx.memo.get(STAMP)
    if stamp is None:
        stamp = ctx.memo[STAMP] = await ctx.read(audit.head)
    cache = getattr(ctx.services, "tenant_configs", None)
    if cache is None:  # services without a cache (tests' fakes): read it each time
        tenant = ctx.message.tenant_id
        return await ctx.read(lambda c: _load(c, tenant))
    return await cache.get(ctx, stamp)
