"""Price approvals: a channel price change over the channel's threshold waits here for a person.

The pricing flow requests one (and supersedes the previous pending one of the same channel
and item when the computed price moves on). A person approves or rejects it over the API,
the console or the CLI: the decision is a compare-and-set on the pending row, recorded in
the hash-chained audit log with who decided, and an approval hands the price to publishing
(the channel price is queued and a publish message is written) in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from crossdock.domain.price_approval import ApprovalStatus
from crossdock.domain.pricing import ChannelPrice
from crossdock.records import NewMessage
from crossdock.store import audit
from crossdock.store import messages as message_store
from crossdock.store.channel_prices import queue_publication
from crossdock.store.tables import price_approvals

SYSTEM_ACTOR = "crossdock"  # who supersedes a request nobody decided on


class ApprovalError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ApprovalNotFound(ApprovalError):
    pass


class NotPending(ApprovalError):
    """Someone decided already, or the computed price moved on (superseded)."""


@dataclass(frozen=True, slots=True)
class Approval:
    id: int
    tenant_id: str
    connection_id: str
    item: str
    currency: str
    old_price: Decimal | None
    new_price: Decimal
    change_percent: Decimal | None
    threshold_percent: Decimal | None
    explanation: dict
    status: ApprovalStatus
    requested_at: float
    decided_by: str | None = None
    decided_at: float | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "connection_id": self.connection_id,
            "item": self.item,
            "currency": self.currency,
            "old_price": _text(self.old_price),
            "new_price": str(self.new_price),
            "change_percent": _text(self.change_percent),
            "threshold_percent": _text(self.threshold_percent),
            "status": self.status.value,
            "requested_at": self.requested_at,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "reason": self.reason,
            "explanation": self.explanation.get("explanation", []),
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _approval(r: Any) -> Approval:
    return Approval(
        r.id, r.tenant_id, r.connection_id, r.item_code, r.currency, _dec(r.old_price), Decimal(r.new_price),
        _dec(r.change_percent), _dec(r.threshold_percent), orjson.loads(r.explanation),
        ApprovalStatus(r.status), r.requested_at, r.decided_by, r.decided_at, r.reason,
    )  # fmt: skip


# --------------------------------------------------------------------------- the flow's side


def latest(conn: Connection, tenant_id: str, item: str) -> dict[str, Approval]:
    """The newest approval of each channel connection for `item`."""
    t = price_approvals
    rows = conn.execute(
        select(t).where(t.c.tenant_id == tenant_id, t.c.item_code == item).order_by(t.c.id.desc())
    )
    found: dict[str, Approval] = {}
    for r in rows:
        found.setdefault(r.connection_id, _approval(r))
    return found


def request(
    conn: Connection, tenant_id: str, price: ChannelPrice, old: Decimal | None, change: Decimal | None,
    threshold: Decimal | None, message_id: int | None, now: float,
) -> int:  # fmt: skip
    values = {
        "tenant_id": tenant_id,
        "connection_id": price.connection_id,
        "item_code": price.item,
        "currency": price.currency,
        "old_price": _text(old),
        "new_price": str(price.price),
        "change_percent": _text(change),
        "threshold_percent": _text(threshold),
        "explanation": orjson.dumps(price.to_plain()).decode(),
        "status": ApprovalStatus.PENDING.value,
        "requested_at": now,
        "message_id": message_id,
    }
    return conn.execute(insert(price_approvals).values(**values).returning(price_approvals.c.id)).scalar_one()


def supersede(conn: Connection, tenant_id: str, connection_id: str, item: str, now: float) -> int:
    """Close the pending request of this channel and item: the computed price moved on."""
    t = price_approvals
    return conn.execute(
        update(t)
        .where(t.c.tenant_id == tenant_id, t.c.connection_id == connection_id, t.c.item_code == item)
        .where(t.c.status == ApprovalStatus.PENDING.value)
        .values(
            status=ApprovalStatus.SUPERSEDED.value,
            decided_by=SYSTEM_ACTOR,
            decided_at=now,
            reason="the computed price moved on before anyone decided",
        )
    ).rowcount


# --------------------------------------------------------------------------- a person decides


def decide(
    conn: Connection, approval_id: int, approve: bool, actor: str, now: float, *, publish_kind: str,
    reason: str | None = None, tenant_ids: tuple[str, ...] | None = None,
) -> Approval:  # fmt: skip
    """Approve (hand the price to publishing) or reject one pending approval, audited.
    `tenant_ids` limits which tenants' approvals may be decided (None: any)."""
    found = get_approval(conn, approval_id)
    if found is None or (tenant_ids is not None and found.tenant_id not in tenant_ids):
        raise ApprovalNotFound(f"no price approval {approval_id}")
    status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    t = price_approvals
    moved = conn.execute(
        update(t)
        .where(t.c.id == approval_id, t.c.status == ApprovalStatus.PENDING.value)
        .values(status=status.value, decided_by=actor, decided_at=now, reason=reason)
    ).rowcount
    if moved != 1:
        raise NotPending(f"price approval {approval_id} is {found.status.value}, not pending")
    details = {
        "connection_id": found.connection_id,
        "item": found.item,
        "currency": found.currency,
        "old_price": _text(found.old_price),
        "new_price": str(found.new_price),
        "change_percent": _text(found.change_percent),
        "threshold_percent": _text(found.threshold_percent),
        "reason": reason,
    }
    verb = "approve" if approve else "reject"
    audit.append(conn, actor, f"price.{verb}", tenant_id=found.tenant_id, target=f"price_approval:{approval_id}",
                 details=details)  # fmt: skip
    if approve:
        queue_publication(conn, found.tenant_id, found.connection_id, found.item, found.new_price, now)
        message_store.insert(conn, [publish_message(found, publish_kind)], now)
    return get_approval(conn, approval_id)  # type: ignore[return-value]


def publish_message(found: Approval, kind: str) -> NewMessage:
    return NewMessage(
        tenant_id=found.tenant_id,
        kind=kind,
        idempotency_key=f"price-approval:{found.id}",
        payload={"connection_id": found.connection_id},
        ordering_key=f"prices/{found.connection_id}",
        correlation_id=f"price:{found.item}",
        connection_id=found.connection_id,
    )


# --------------------------------------------------------------------------- read models


def get_approval(conn: Connection, approval_id: int) -> Approval | None:
    r = conn.execute(select(price_approvals).where(price_approvals.c.id == approval_id)).first()
    return _approval(r) if r is not None else None


def list_approvals(
    conn: Connection, tenant_ids: tuple[str, ...] | None, *, status: str | None = "pending",
    item: str | None = None, limit: int = 100, before: int | None = None,
) -> list[Approval]:  # fmt: skip
    """Newest first; `tenant_ids` None: every tenant; `status` None: any."""
    t = price_approvals
    q = select(t)
    if tenant_ids is not None:
        q = q.where(t.c.tenant_id.in_(tenant_ids))
    if status is not None:
        q = q.where(t.c.status == status)
    if item is not None:
        q = q.where(t.c.item_code == item)
    if before is not None:
        q = q.where(t.c.id < before)
    return [_approval(r) for r in conn.execute(q.order_by(t.c.id.desc()).limit(limit))]
