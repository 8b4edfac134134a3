"""Building a tenant's connectors inside a handler, and the tenant's order settings.

A connector is built per handler call around that call's lineage recorder; what
must outlive the call (an access token, a client-side rate bucket) lives in the
per-connection cache kept by `Services`."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from crossdock.connectors.kinds import connector_kind
from crossdock.connectors.registry import ConnectorContext
from crossdock.engine.handlers import HandlerContext
from crossdock.errors import Owner, PermanentError, ThrottledError
from crossdock.flows.tenant_config import tenant_config


async def connector(ctx: HandlerContext, connection_id: str | None, *, role: str) -> Any:
    """The connector of `connection_id`, which must belong to the message's tenant."""
    if not connection_id:
        raise PermanentError(
            "config.connection_missing",
            f"tenant {ctx.message.tenant_id} has no {role} connection configured",
            f"Set settings.orders.{role} of tenant {ctx.message.tenant_id} to a connection id, then retry.",
            owner=Owner.PARTNER,
        )
    services = ctx.services
    live = await services.connections.get(connection_id)
    if live is None or live.tenant_id != ctx.message.tenant_id:
        raise PermanentError(
            "config.connection_unknown",
            f"connection {connection_id!r} ({role}) does not exist for tenant {ctx.message.tenant_id}",
            "Add the connection with `crossdock apply`, then retry.",
            owner=Owner.PARTNER,
        )
    if not live.enabled or live.problem:
        raise PermanentError(
            "config.connection_unusable",
            f"connection {connection_id} is {'disabled' if not live.enabled else live.problem}",
            "Enable or repair the connection, then retry.",
            owner=Owner.PARTNER,
        )
    kind = connector_kind(live.kind)
    if kind is None or kind.build is None:
        raise PermanentError(
            "config.connection_kind",
            f"connection {connection_id} is of kind {live.kind!r}, which cannot act as {role}",
            f"Point settings.orders.{role} at a connection of a suitable kind.",
            owner=Owner.PARTNER,
        )
    cctx = ConnectorContext(
        connection_id=connection_id,
        tenant_id=live.tenant_id,
        session=services.http.session(),
        record=ctx.record,
        cache=services.cache_for(connection_id),
        permit=lambda: ctx.throttle(connection_id),
        quota=ctx.quota(connection_id),
    )
    return PausesOnThrottle(kind.build(live.config, cctx), ctx, connection_id)


class PausesOnThrottle:
    """A connector whose "slow down" answers (429, quota) pause the connection for every
    worker in every process, not just the message that heard it. Each request already
    passes the connection's shared throttle (`ConnectorContext.permit`)."""

    def __init__(self, inner: Any, ctx: HandlerContext, connection_id: str) -> None:
        self._inner, self._ctx, self._connection_id = inner, ctx, connection_id

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(value):
            return value

        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return await value(*args, **kwargs)
            except ThrottledError as exc:
                if not exc.local:
                    await self._ctx.pause(self._connection_id, exc.retry_after)
                raise

        return call


@dataclass(frozen=True)
class OrderSettings:
    """A tenant's `settings.orders` section."""

    erp: str | None
    wms: str | None
    warehouses: dict[str, str]  # warehouse code → WMS connection id (default: `wms`)
    short_pick: str  # "backorder" or "cancel"
    channel_connections: dict[str, str]  # channel → connection id, for steps not started by the channel
    fulfilment: str = "wms"  # "wms": released to warehouses; "erp": the ERP ships (order.erp.watch)
    erp_watch_seconds: float = 30.0  # with fulfilment "erp": how often to ask the ERP for shipments

    def wms_for(self, warehouse: str) -> str | None:
        return self.warehouses.get(warehouse, self.wms)


async def order_settings(ctx: HandlerContext) -> OrderSettings:
    raw = (await tenant_config(ctx)).settings
    section = raw.get("orders") or {}
    return OrderSettings(
        erp=section.get("erp"),
        wms=section.get("wms"),
        warehouses=dict(section.get("warehouses") or {}),
        short_pick=section.get("short_pick", "backorder"),
        channel_connections=dict(section.get("channels") or {}),
        fulfilment=section.get("fulfilment", "wms"),
        erp_watch_seconds=float(section.get("erp_watch_seconds", 30.0)),
    )
