"""Relay: a verified webhook event goes to every connection its tenant routed the topic to.

    webhook.received ──(routes: source connection × topic glob)──► relay.deliver, one per target
    relay.deliver ──(throttled POST with Idempotency-Key)──► the target's endpoint

A topic nobody routed is done at once (its raw body stays in lineage). Each delivery
is its own message keyed `<event key>>target`, so one slow or failing target never
holds back another, and a delivery retried after a crash is the same message.
"""

from __future__ import annotations

import orjson

from crossdock.connectors.http.config import HttpConfig
from crossdock.engine.handlers import HandlerContext, Registry
from crossdock.errors import Owner, PermanentError
from crossdock.flows.services import LiveConnection, Services
from crossdock.records import Message

RECEIVED = "webhook.received"
DELIVER = "relay.deliver"


def register(registry: Registry) -> None:
    registry.add(RECEIVED, fan_out)
    registry.add(DELIVER, deliver)


async def fan_out(msg: Message, ctx: HandlerContext) -> None:
    """Emit one delivery per route target matching the event's topic."""
    services: Services = ctx.services
    event = ctx.payload
    topic = event["topic"]
    for target in await services.connections.targets(msg.tenant_id, msg.connection_id or "", topic):
        ctx.emit(
            DELIVER,
            {"target_connection_id": target, "topic": topic, "event": event["event"]},
            key=f"{msg.idempotency_key}>{target}",
            connection_id=target,
            ordering_key=None,
        )


async def deliver(msg: Message, ctx: HandlerContext) -> None:
    """POST the event to the target; every attempt is recorded in lineage, failed or not."""
    services: Services = ctx.services
    payload = ctx.payload
    target = await _http_target(services, msg.tenant_id, payload["target_connection_id"])
    async with ctx.throttle(target.id):
        attempt = await services.http.post(
            target.config,
            orjson.dumps(payload["event"]),
            idempotency_key=msg.idempotency_key,
            connection_id=target.id,
            headers={"Crossdock-Topic": payload["topic"]},
        )
        ctx.record(attempt.lineage)
        attempt.raise_for_error()


async def _http_target(services: Services, tenant_id: str, connection_id: str) -> LiveConnection:
    """The target connection, if this tenant owns it and it can take a delivery now."""
    target = await services.connections.get(connection_id)
    if target is None or target.tenant_id != tenant_id:
        raise _config_error("config.connection_unknown", f"connection {connection_id!r} does not exist")
    if target.kind != "http" or not isinstance(target.config, HttpConfig):
        raise _config_error(
            "config.connection_kind", f"connection {connection_id!r} is {target.kind!r}, not 'http'"
        )
    if target.problem:
        raise _config_error("config.connection_invalid", f"connection {connection_id!r}: {target.problem}")
    if not target.enabled:
        raise _config_error("config.connection_disabled", f"connection {connection_id!r} is disabled")
    return target


def _config_error(category: str, detail: str) -> PermanentError:
    return PermanentError(
        category,
        detail,
        "Fix the connection or the routes in the configuration, apply it, then retry the message.",
        owner=Owner.PARTNER,
    )
