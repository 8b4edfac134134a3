"""The exception desk: finding parked work and the operator's actions on it.

Each action runs inside the caller's transaction (one action, one commit), acts
only on OPEN exceptions matched by an `ExceptionFilter` (tenant-scoped by it),
and leaves a row in `exception_actions` plus an entry in the audit log.
An exception changes state by compare-and-set on its status, so two operators
acting at once never both act on the same exception.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from crossdock.records import ExceptionStatus, NewMessage, Status
from crossdock.store import audit
from crossdock.store import messages as store
from crossdock.store.queries import (
    ExceptionFilter,
    ExceptionRecord,
    count_open,
    get_exception,
    group_by_category,
    list_exceptions,
    matching,
)
from crossdock.store.tables import exception_actions, exceptions, messages

_OPEN = ExceptionStatus.OPEN.value
_CHUNK = 500


class DeskError(Exception):
    """An exception-desk action refused; `detail` says why in operator words."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidPayload(DeskError):
    """A resubmitted payload is not JSON."""


class ReasonRequired(DeskError):
    """Resolving needs a reason: it is the only record of why nothing more happens."""


class NotOpen(DeskError):
    """The exception is unknown, in another tenant, or no longer open."""


@dataclass(frozen=True)
class ActionResult:
    action: str
    exception_ids: list[int] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)
    new_message_ids: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.exception_ids)

    def to_dict(self) -> dict:
        return {
            "action": self.action,
            "count": self.count,
            "exception_ids": self.exception_ids,
            "message_ids": self.message_ids,
            "new_message_ids": self.new_message_ids,
        }


# --------------------------------------------------------------------------- actions


def retry(conn: Connection, flt: ExceptionFilter, actor: str, now: float) -> ActionResult:
    """Send each matching open exception's parked message back to the queue as it was:
    due now, with a fresh retry budget (attempts 0, no first attempt). The attempts it had
    move to `earlier_attempts`, so a step with an external effect still looks before acting."""
    taken = _take_open(conn, flt, ExceptionStatus.RETRIED, {})
    _move_parked(
        conn,
        taken,
        status=Status.READY.value,
        next_attempt_at=now,
        earlier_attempts=messages.c.earlier_attempts + messages.c.attempts,
        attempts=0,
        first_attempt_at=None,
        updated_at=now,
    )
    _record(conn, "retry", taken, actor, now, reason=None)
    return ActionResult("retry", [e for e, _t, _m in taken], [m for _e, _t, m in taken])


def resolve(conn: Connection, flt: ExceptionFilter, reason: str, actor: str, now: float) -> ActionResult:
    """Close matching open exceptions without handling their messages; the messages
    become RESOLVED, which releases their ordering keys."""
    if not reason or not reason.strip():
        raise ReasonRequired("a reason is required to resolve an exception")
    closed = {"resolution": reason.strip(), "closed_by": actor, "closed_at": now}
    taken = _take_open(conn, flt, ExceptionStatus.RESOLVED, closed)
    _move_parked(conn, taken, status=Status.RESOLVED.value, updated_at=now)
    _record(conn, "resolve", taken, actor, now, reason=reason.strip())
    return ActionResult("resolve", [e for e, _t, _m in taken], [m for _e, _t, m in taken])


def resubmit(
    conn: Connection,
    exception_id: int,
    payload: str,
    actor: str,
    now: float,
    reason: str | None = None,
    *,
    tenant_id: str | None = None,
) -> ActionResult:
    """Replace a parked message by an edited copy that keeps its place in its key's order.

    The copy has the original's seq, so it runs before later messages of the same
    ordering key; the original becomes RESUBMITTED (kept for audit, key released)."""
    _check_json(payload)
    flt = ExceptionFilter(tenant_ids=(tenant_id,) if tenant_id else (), ids=(exception_id,))
    closed = {"resolution": reason, "closed_by": actor, "closed_at": now}
    taken = _take_open(conn, flt, ExceptionStatus.RESUBMITTED, closed)
    if not taken:
        raise NotOpen(f"exception {exception_id} is not open (or not in this tenant)")
    _eid, tenant, message_id = taken[0]
    orig = store.get(conn, message_id, tenant)
    if orig is None or orig.status is not Status.PARKED:
        raise NotOpen(f"message {message_id} of exception {exception_id} is not parked")
    written = store.insert(conn, [_copy_of(orig, payload)], now)[0]
    if not written.created:
        raise NotOpen(f"message {message_id} was already resubmitted as {written.message_id}")
    _link_resubmission(conn, tenant, written.message_id, orig.id)
    conn.execute(
        update(messages)
        .where(messages.c.tenant_id == tenant, messages.c.id == orig.id)
        .values(status=Status.RESUBMITTED.value, resubmitted_as=written.message_id, updated_at=now)
    )
    _record(conn, "resubmit", taken, actor, now, reason=reason, new_message_id=written.message_id)
    return ActionResult("resubmit", [_eid], [message_id], [written.message_id])


def clear_on_success(conn: Connection, done: Iterable[tuple[str, int]], now: float) -> int:
    """Mark `retried` exceptions of messages that just completed DONE as `cleared`.

    `done` pairs (tenant_id, message_id): tenant leads the index, so this stays one
    indexed statement per tenant on the worker's commit path."""
    by_tenant: dict[str, list[int]] = defaultdict(list)
    for tenant, mid in done:
        by_tenant[tenant].append(mid)
    n = 0
    for tenant, ids in by_tenant.items():
        for chunk in _chunks(ids, _CHUNK):
            n += conn.execute(
                update(exceptions)
                .where(
                    exceptions.c.tenant_id == tenant,
                    exceptions.c.message_id.in_(chunk),
                    exceptions.c.status == ExceptionStatus.RETRIED.value,
                )
                .values(status=ExceptionStatus.CLEARED.value, closed_at=now)
            ).rowcount
    return n


# --------------------------------------------------------------------------- helpers


def _take_open(conn: Connection, flt: ExceptionFilter, to: ExceptionStatus, values: dict) -> list[tuple]:
    """Move matching OPEN exceptions to `to`; answer (exception id, tenant, message id) of
    those this transaction moved (a concurrent action may have taken some first)."""
    candidates = [r.id for r in conn.execute(select(exceptions.c.id).where(*matching(flt, status=_OPEN)))]
    taken: list[tuple] = []
    for chunk in _chunks(candidates, _CHUNK):
        stmt = (
            update(exceptions)
            .where(exceptions.c.id.in_(chunk), exceptions.c.status == _OPEN)
            .values(status=to.value, **values)
            .returning(exceptions.c.id, exceptions.c.tenant_id, exceptions.c.message_id)
        )
        taken += [(r.id, r.tenant_id, r.message_id) for r in conn.execute(stmt)]
    return sorted(taken)


def _move_parked(conn: Connection, taken: list[tuple], **values) -> None:
    """Change the messages of `taken` exceptions that are still parked."""
    for tenant, ids in _by_tenant(taken):
        for chunk in _chunks(ids, _CHUNK):
            conn.execute(
                update(messages)
                .where(
                    messages.c.tenant_id == tenant,
                    messages.c.id.in_(chunk),
                    messages.c.status == Status.PARKED.value,
                )
                .values(**values)
            )


def _record(
    conn: Connection,
    action: str,
    taken: list[tuple],
    actor: str,
    now: float,
    *,
    reason: str | None,
    new_message_id: int | None = None,
) -> None:
    if not taken:
        return
    conn.execute(
        insert(exception_actions),
        [
            {
                "tenant_id": t,
                "exception_id": e,
                "message_id": m,
                "action": action,
                "actor": actor,
                "reason": reason,
                "new_message_id": new_message_id,
                "at": now,
            }
            for e, t, m in taken
        ],
    )
    for e, t, m in taken:
        details = {"message_id": m, "reason": reason, "new_message_id": new_message_id, "at": now}
        audit.append(
            conn, actor, f"exception.{action}", tenant_id=t, target=f"exception:{e}", details=details
        )


def _copy_of(orig, payload: str) -> NewMessage:
    base, n = orig.idempotency_key, 1
    found = re.fullmatch(r"(.*)#r(\d+)", base) if orig.resubmitted_from is not None else None
    if found:  # a resubmission resubmitted again: K#r1 → K#r2
        base, n = found.group(1), int(found.group(2)) + 1
    return NewMessage(
        tenant_id=orig.tenant_id,
        kind=orig.kind,
        idempotency_key=f"{base}#r{n}",
        payload=payload,
        stream=orig.stream,
        ordering_key=orig.ordering_key,
        correlation_id=orig.correlation_id,
        causation_id=orig.causation_id,
        connection_id=orig.connection_id,
        seq=orig.seq,
    )


def _link_resubmission(conn: Connection, tenant: str, new_id: int, orig_id: int) -> None:
    conn.execute(
        update(messages)
        .where(messages.c.tenant_id == tenant, messages.c.id == new_id)
        .values(resubmitted_from=orig_id)
    )


def _check_json(payload: str) -> None:
    """An edited payload is one JSON value, not null, with each key once per object: with a
    key given twice, readers disagree on which value counts (the console, the CLI and the
    API all resubmit through here)."""
    try:
        orjson.loads(payload)  # the parser the message is read with: strict (no NaN)
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise InvalidPayload(f"the payload is not valid JSON: {exc}") from None
    if refuse_repeated_keys(payload) is None:
        raise InvalidPayload("the payload is null: give the edited message payload")


def refuse_repeated_keys(text: str | bytes) -> Any:
    """The JSON value of `text` (valid JSON); InvalidPayload when an object gives a key twice.
    orjson keeps the last value silently, so the key pairs are read with the standard parser."""
    return json.loads(text, object_pairs_hook=_once_each)


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise InvalidPayload(f"the payload gives {key!r} twice in one object; give each key once")
        seen.add(key)
    return dict(pairs)


def _by_tenant(taken: list[tuple]) -> list[tuple[str, list[int]]]:
    grouped: dict[str, list[int]] = defaultdict(list)
    for _e, t, m in taken:
        grouped[t].append(m)
    return sorted(grouped.items())


def _chunks(seq: list, n: int):
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


__all__ = [
    "ActionResult",
    "DeskError",
    "ExceptionFilter",
    "ExceptionRecord",
    "InvalidPayload",
    "NotOpen",
    "ReasonRequired",
    "clear_on_success",
    "count_open",
    "get_exception",
    "group_by_category",
    "list_exceptions",
    "resolve",
    "resubmit",
    "retry",
]
