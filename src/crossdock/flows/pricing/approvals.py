"""A person decides on a price change that waited for approval (API, console, CLI).

Both run inside the caller's write transaction (`Database.write`): the decision, its audit
entry (who, old and new price, the change in percent) and, for an approval, the price handed
to the connection's next publication commit together."""

from __future__ import annotations

from sqlalchemy import Connection

from crossdock.flows.pricing import kinds
from crossdock.store import price_approvals as store
from crossdock.store.price_approvals import Approval, ApprovalError, ApprovalNotFound, NotPending

__all__ = ["Approval", "ApprovalError", "ApprovalNotFound", "NotPending", "approve", "reject"]


def approve(
    conn: Connection, approval_id: int, actor: str, now: float, reason: str | None = None,
    tenant_ids: tuple[str, ...] | None = None,
) -> Approval:  # fmt: skip
    return store.decide(
        conn, approval_id, True, actor, now, publish_kind=kinds.PUBLISH, reason=reason, tenant_ids=tenant_ids
    )


def reject(
    conn: Connection, approval_id: int, actor: str, now: float, reason: str | None = None,
    tenant_ids: tuple[str, ...] | None = None,
) -> Approval:  # fmt: skip
    return store.decide(
        conn, approval_id, False, actor, now, publish_kind=kinds.PUBLISH, reason=reason, tenant_ids=tenant_ids
    )
