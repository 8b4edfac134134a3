"""Records the engine moves around: messages, their states, and what a handler leaves behind."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Where a message is in its life. Only READY and RUNNING messages are ever claimed."""

    READY = "ready"  # waiting for next_attempt_at; may be claimed once due and head of its key
    RUNNING = "running"  # claimed under a lease; lease_expires_at bounds it, lease_token fences it
    DONE = "done"  # handled; its effects and the messages it emitted are committed
    PARKED = "parked"  # failed for good; an open exception explains it; holds its ordering key
    RESOLVED = "resolved"  # an operator closed it without handling it; releases its key
    RESUBMITTED = "resubmitted"  # replaced by an edited copy (resubmitted_as); kept for audit


#: Statuses that still hold their ordering key: later messages of the key wait behind them.
OPEN_STATUSES = (Status.READY, Status.RUNNING, Status.PARKED)
#: Statuses a message never leaves.
TERMINAL_STATUSES = (Status.DONE, Status.RESOLVED, Status.RESUBMITTED)


class ExceptionStatus(StrEnum):
    """State of an exception on the desk."""

    OPEN = "open"  # the message is parked and waits for an operator
    RETRIED = "retried"  # an operator sent the message back to the queue as it was
    RESUBMITTED = "resubmitted"  # an operator sent an edited copy in its place
    RESOLVED = "resolved"  # an operator closed it with a reason, nothing more will happen
    CLEARED = "cleared"  # the message later succeeded on its own (after a retry)


@dataclass(frozen=True, slots=True)
class Message:
    """One step of one business flow, as stored."""

    id: int
    tenant_id: str
    stream: str
    kind: str
    idempotency_key: str
    payload: Any
    status: Status = Status.READY
    ordering_key: str | None = None
    correlation_id: str | None = None
    causation_id: int | None = None
    connection_id: str | None = None
    attempts: int = 0
    next_attempt_at: float | None = None
    first_attempt_at: float | None = None
    created_at: float | None = None
    lease_owner: str | None = None
    lease_token: str | None = None
    lease_expires_at: float | None = None
    last_error: str | None = None
    resubmitted_from: int | None = None
    seq: int = 0
    earlier_attempts: int = 0  # attempts before an operator's retry reset `attempts`

    @property
    def tried_before(self) -> bool:
        """Whether this step ran before: a retry, a retry from the exception desk (its budget
        starts again at 0), or a resubmission. A step with an external effect looks its
        reference up first then (the earlier attempt may have reached the other system)."""
        return self.attempts > 1 or self.earlier_attempts > 0 or self.resubmitted_from is not None

    def evolve(self, **changes: Any) -> Message:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to be written: by intake, by a handler (emitted), or by the scheduler."""

    tenant_id: str
    kind: str
    idempotency_key: str
    payload: Any
    stream: str | None = None  # defaults to the stream the kind belongs to
    ordering_key: str | None = None
    correlation_id: str | None = None
    causation_id: int | None = None
    connection_id: str | None = None
    delay_seconds: float = 0.0
    seq: int | None = None  # ordering position; assigned when written if not given
    due_at: float | None = None  # claimable from (may be past: a handler's step keeps its cause's place)


@dataclass(frozen=True, slots=True)
class LineageRecord:
    """A raw inbound body, or one outbound request with its response (secrets redacted)."""

    direction: str  # "in" or "out"
    connection_id: str | None
    method: str | None = None
    url: str | None = None
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str | None = None
    status_code: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    duration_ms: float | None = None
    error: str | None = None


def stream_of(kind: str) -> str:
    """The stream a kind belongs to is its first dotted part: `order.received` → `order`.

    Streams isolate backlogs: a burst of `inventory.*` never delays `order.*`."""
    return kind.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class ExceptionInfo:
    """Why a message was parked, as the exception desk shows it."""

    category: str
    summary: str
    hint: str
    severity: str
    owner: str
    context: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What handling one claimed message produced, to be committed in one go (or not at all)."""

    message: Message
    token: str
    status: Status  # DONE, READY (try again at next_attempt_at) or PARKED
    next_attempt_at: float | None = None
    error: str | None = None
    refund_attempt: bool = False  # throttled: the attempt does not count
    emitted: tuple[NewMessage, ...] = ()
    effects: tuple[Any, ...] = ()  # callables run with the transaction's connection
    lineage: tuple[LineageRecord, ...] = ()
    exception: ExceptionInfo | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One inbound business event, verified, about to become a message."""

    tenant_id: str
    connection_id: str
    kind: str
    idempotency_key: str
    payload: str  # JSON text: the message payload
    raw_body: str  # as received, kept in lineage
    headers: dict[str, str] = field(default_factory=dict)  # secrets already redacted
    ordering_key: str | None = None
    correlation_id: str | None = None
    url: str | None = None
