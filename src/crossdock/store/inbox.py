"""Intake's write: many deliveries in one transaction (group commit), deduplicated by key."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from crossdock.records import Delivery, LineageRecord, NewMessage
from crossdock.store import messages as store
from crossdock.store.outcomes import write_lineage


class _Ref:
    """The message a raw body belongs to, for the lineage row."""

    __slots__ = ("tenant_id", "correlation_id", "id", "attempts")

    def __init__(self, tenant_id: str, correlation_id: str | None, message_id: int) -> None:
        self.tenant_id, self.correlation_id, self.id, self.attempts = tenant_id, correlation_id, message_id, 0


def accept_batch(conn: Connection, deliveries: Sequence[Delivery], now: float) -> list[store.Written]:
    written = store.insert(
        conn,
        [
            NewMessage(
                tenant_id=d.tenant_id,
                kind=d.kind,
                idempotency_key=d.idempotency_key,
                payload=d.payload,
                ordering_key=d.ordering_key,
                correlation_id=d.correlation_id,
                connection_id=d.connection_id,
            )
            for d in deliveries
        ],
        now,
    )
    raw = [
        (
            _Ref(d.tenant_id, d.correlation_id, w.message_id),
            LineageRecord(
                direction="in",
                connection_id=d.connection_id,
                method="POST",
                url=d.url,
                request_headers=d.headers,
                request_body=d.raw_body,
            ),
        )
        for d, w in zip(deliveries, written, strict=True)
        if w.created
    ]
    write_lineage(conn, raw, now)
    return written
