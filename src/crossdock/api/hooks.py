"""Webhook intake over HTTP: `POST /hooks/{connection_id}/{topic}`.

A delivery is answered "accepted" only once it is a durable message. The checks run
cheapest first and stop at the first failure: the connection exists and is enabled
(404, 409), the body fits the limit without reading past it (413), it is UTF-8 (400),
its Standard Webhooks signature and timestamp hold (401), it is strict JSON (400).
Every refusal creates nothing, is counted per tenant and reason (database and
Prometheus) and audited with the connection and remote address, never the body or
the signature. A first delivery answers 202, a repeat 200, both with the message id.
"""

from __future__ import annotations

import logging
import os
import re
import signal
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import Counter
from starlette.routing import Route

from crossdock.connectors.capabilities import SignatureError as InboundSignatureError
from crossdock.connectors.kinds import connector_kind
from crossdock.connectors.webhook import jsonguard
from crossdock.connectors.webhook.config import WebhookConfig
from crossdock.connectors.webhook.verify import SignatureError, signer, verify
from crossdock.flows.services import LiveConnection, Services, bump_counter
from crossdock.records import Delivery
from crossdock.store import audit
from crossdock.store.tables import messages

log = logging.getLogger("crossdock.hooks")

NO_TENANT = "_system"  # counters and audit entries of deliveries to no known connection
_TOPIC = re.compile(r"[\x21-\x7e]{1,200}\Z")
_DROPPED_HEADERS = re.compile(r"authorization|cookie|signature|token|secret|passw|api[-_]?key", re.I)

REFUSED = Counter(
    "crossdock_webhook_refused", "Webhook deliveries refused, by tenant and reason", ["tenant", "reason"]
)
ACCEPTED = Counter("crossdock_webhook_accepted", "Webhook deliveries accepted", ["tenant", "duplicate"])

IGNORED = Counter(
    "crossdock_webhook_ignored", "Signed deliveries of topics Crossdock does not handle", ["tenant", "topic"]
)



class Ignored(Exception):
    """A genuine delivery of a topic Crossdock does not handle: answered 200 so the sender
    does not retry (or give up on the subscription), and nothing is stored."""

    def __init__(self, topic: str) -> None:
        super().__init__(topic)
        self.topic = topic


def _verifier(kind: str) -> Any:
    found = connector_kind(kind)
    return found.inbound if found else None


# The delivery's fields that become a message's keys, with their column's length: a value
# taken from a signed body that the database cannot store (too long for PostgreSQL's
# varchar, or holding NUL, which no PostgreSQL text takes) is refused as the sender's
# error; stored, it failed the intake's whole batch and was answered "retry later" forever.
_KEYS = {name: messages.c[name].type.length for name in ("kind", "idempotency_key", "ordering_key", "correlation_id")}


def _storable(delivery: Delivery) -> Delivery:
    for name, limit in _KEYS.items():
        value = getattr(delivery, name)
        if value is None:
            continue
        if "\x00" in value or (limit is not None and len(value) > limit):
            raise Refused(
                400,
                "body.key_invalid",
                f"the delivery's {name.replace('_', ' ')} ({value[:80]!r}…, {len(value)} characters) "
                f"must be at most {limit} characters without NUL",
                "Send the reference the body carries (an order id, a message id) as the system issued it.",
            )
    return delivery


class Refused(Exception):
    """A delivery turned away: the HTTP status and the error the sender reads."""

    def __init__(self, status: int, code: str, message: str, hint: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.hint = status, code, message, hint


@dataclass
class HookIntake:
    hub: Any
    services: Services
    crash_after_commit: bool = False  # test-only: die between the commit and the answer

    async def receive(self, request: Request, connection_id: str, topic: str) -> Response:
        connection = None
        try:
            connection = await self._connection(connection_id)
            delivery = _storable(await self._delivery(request, connection, topic))
        except Ignored as ignored:
            IGNORED.labels(connection.tenant_id if connection else NO_TENANT, ignored.topic[:64]).inc()
            return JSONResponse({"ignored": True, "topic": ignored.topic}, status_code=200)
        except Refused as refused:
            await self._record_refusal(request, connection_id, connection, refused)
            return error_response(refused)
        try:
            accepted = await self.hub.intake.accept(delivery)
        except Exception:
            log.exception("intake of a delivery to %s failed; the sender will retry", connection_id)
            return error_response(
                Refused(503, "intake.unavailable", "the delivery could not be stored", "Retry later.")
            )
        if self.crash_after_commit:
            os.kill(os.getpid(), signal.SIGKILL)
        ACCEPTED.labels(connection.tenant_id, str(accepted.duplicate).lower()).inc()
        body = {"message_id": accepted.message_id, "duplicate": accepted.duplicate}
        return JSONResponse(body, status_code=200 if accepted.duplicate else 202)

    async def _connection(self, connection_id: str) -> LiveConnection:
        found = await self.services.connections.get(connection_id)
        if found is None or (found.kind != "webhook" and _verifier(found.kind) is None):
            raise Refused(404, "connection.unknown", f"no connection {connection_id!r} takes deliveries")
        if not found.enabled:
            raise Refused(
                409, "connection.disabled", f"connection {connection_id!r} is disabled", "Retry later."
            )
        if found.problem or found.config is None:
            log.error("connection %s cannot verify deliveries: %s", connection_id, found.problem)
            raise _misconfigured()
        return found

    async def _delivery(self, request: Request, connection: LiveConnection, topic: str) -> Delivery:
        if connection.kind != "webhook":
            return await self._vendor_delivery(request, connection, topic)
        config: WebhookConfig = connection.config  # type: ignore[assignment]
        try:
            key = signer(config.secret)
        except Exception:  # an env: secret that is not a valid whsec_ value
            log.error("webhook connection %s has a secret that cannot sign", connection.id)
            raise _misconfigured() from None
        body = await read_body(request, config.max_body_bytes or self.hub.settings.max_body_bytes)
        try:
            text = jsonguard.decode_utf8(body)
            webhook_id = verify(
                key,
                request.headers,
                text,
                now=self.hub.clock(),
                tolerance_seconds=config.tolerance_seconds,
            )
            parsed = jsonguard.parse(body, text=text)
        except jsonguard.JsonRefused as exc:
            raise Refused(400, exc.code, exc.message, exc.hint) from None
        except SignatureError as exc:
            raise Refused(
                401, f"signature.{exc.reason}", exc.message, "Sign with the connection's secret."
            ) from None
        topic = _topic(topic, parsed.value)
        return Delivery(
            tenant_id=connection.tenant_id,
            connection_id=connection.id,
            kind="webhook.received",
            idempotency_key=f"{connection.id}:{webhook_id}",
            payload=_payload(topic, webhook_id, parsed.text),
            raw_body=parsed.text,
            headers=kept_headers(request.headers),
            correlation_id=webhook_id,
            url=request.url.path,
        )

    async def _vendor_delivery(self, request: Request, connection: LiveConnection, topic: str) -> Delivery:
        """A delivery from a system with its own signature scheme (Shopify HMAC, a WMS, ...)."""
        limit = getattr(connection.config, "max_body_bytes", None) or self.hub.settings.max_body_bytes
        body = await read_body(request, limit)
        try:
            text = jsonguard.decode_utf8(body)
            event = _verifier(connection.kind).verify(
                connection.config, connection.id, topic, request.headers, body, self.hub.clock()
            )
            parsed = jsonguard.parse(body, text=text)
        except jsonguard.JsonRefused as exc:
            raise Refused(400, exc.code, exc.message, exc.hint) from None
        except InboundSignatureError as exc:
            if exc.reason == "unsupported_topic":  # signed, but not an event Crossdock handles
                raise Ignored(topic) from None
            if exc.reason.startswith("bad_body"):  # signed, but the body is not the event
                what = exc.reason.partition(":")[2] or "invalid"
                raise Refused(400, f"body.{what}", f"the delivery's body is not a {topic} event ({what})",
                              "Send the event as the vendor documents it; nothing was stored.") from None
            raise Refused(401, f"signature.{exc.reason}", f"the delivery's signature does not hold ({exc.reason})",
                          "Sign with the connection's secret.") from None
        return Delivery(
            tenant_id=connection.tenant_id,
            connection_id=connection.id,
            kind=event.kind,
            idempotency_key=event.idempotency_key,
            payload=_payload(event.topic, event.idempotency_key, parsed.text),
            raw_body=parsed.text,
            headers=kept_headers(request.headers),
            ordering_key=event.ordering_key,
            correlation_id=event.correlation_id,
            url=request.url.path,
        )

    async def _record_refusal(
        self, request: Request, connection_id: str, connection: LiveConnection | None, refused: Refused
    ) -> None:
        tenant_id = connection.tenant_id if connection else NO_TENANT
        REFUSED.labels(tenant_id, refused.code).inc()
        details = {
            "reason": refused.code,
            "status": refused.status,
            "connection_id": connection_id[:64],
            "remote_addr": request.client.host if request.client else None,
        }
        try:
            await self.hub.database.write(record_refusal, tenant_id, refused.code, details)
        except Exception:  # the sender still gets its 4xx; the metric above has counted it
            log.exception("recording a refused delivery failed")


def record_refusal(conn: Any, tenant_id: str, code: str, details: dict[str, Any]) -> None:
    bump_counter(conn, tenant_id, f"webhook.refused.{code}")
    target = f"connection:{details['connection_id']}"
    audit.append(conn, "intake", "webhook.refused", tenant_id=tenant_id, target=target, details=details)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to exceed `limit` (never read past it)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refused(400, "body.length_invalid", "Content-Length is not a number")
        if int(declared) > limit:
            raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _misconfigured() -> Refused:
    return Refused(
        503, "connection.misconfigured", "this connection cannot take deliveries now", "Retry later."
    )


def _too_large(limit: int) -> Refused:
    return Refused(413, "body.too_large", f"the body exceeds {limit} bytes", "Send smaller events.")


def _topic(from_path: str, event: dict[str, Any]) -> str:
    """The path's topic, else the Standard Webhooks `type` of the event."""
    topic = from_path or event.get("type")
    if not isinstance(topic, str) or not _TOPIC.match(topic):
        raise Refused(
            400,
            "topic.invalid",
            "the topic must be 1-200 printable characters without spaces",
            "Post to /hooks/<connection>/<topic>, or send an event with a string `type`.",
        )
    return topic


def _payload(topic: str, webhook_id: str, event_text: str) -> str:
    """The message payload, with the verified body spliced in as received (not re-encoded)."""
    head = orjson.dumps({"topic": topic, "webhook_id": webhook_id}).decode()
    return f'{head[:-1]},"event":{event_text}}}'


def kept_headers(headers: Any) -> dict[str, str]:
    """Headers worth keeping in lineage; credentials and signatures are dropped."""
    return {k: v for k, v in headers.items() if not _DROPPED_HEADERS.search(k)}


def error_response(refused: Refused) -> JSONResponse:
    error = {"code": refused.code, "message": refused.message, "hint": refused.hint}
    headers = {"Retry-After": "30"} if refused.status == 503 else None
    return JSONResponse({"error": error}, status_code=refused.status, headers=headers)


# Plain Starlette routes: intake is the hot path, and FastAPI's dependency solving and
# validation cost a third of its CPU per request while adding nothing here.
async def _receive(request: Request) -> Response:
    params = request.path_params
    hooks: HookIntake = request.app.state.hooks
    return await hooks.receive(request, params["connection_id"], params.get("topic", ""))


routes = [
    Route("/hooks/{connection_id}/{topic:path}", _receive, methods=["POST"]),
    Route("/hooks/{connection_id}", _receive, methods=["POST"]),
]
