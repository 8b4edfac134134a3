"""Retry policy as values: a failure and the message's history in, a decision out.

Transient → exponential backoff with full jitter, bounded by attempts and age.
Throttled → wait as told, the attempt is not counted. Permanent, or a broken rule of the
canonical model (`DomainError`) → park at once with its category and hint.
Anything unclassified is a defect: retried like a transient, parked as `defect.unhandled`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import DataError

from crossdock.domain.errors import DomainError
from crossdock.errors import Owner, PermanentError, Severity, ThrottledError, TransientError, default_owner

# Failures of the value, not of the moment: the database refused what a step wrote.
UNSTORABLE = (DataError, OverflowError)


@dataclass(frozen=True, slots=True)
class RetryAt:
    at: float  # UNIX time of the next attempt
    count_attempt: bool  # False for throttling: waiting as told is not a failure
    reason: str


@dataclass(frozen=True, slots=True)
class Park:
    category: str
    summary: str
    hint: str
    severity: Severity
    owner: Owner
    context: dict


Decision = RetryAt | Park


class Rng(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    max_attempts: int = 8
    max_age_seconds: float = 24 * 3600.0

    def backoff(self, attempts: int, rng: Rng) -> float:
        """Full jitter: uniform in [0, min(cap, base · 2^(attempts-1))]."""
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** max(0, attempts - 1)))
        return rng.uniform(0.0, ceiling)

    def decide(
        self,
        error: BaseException,
        *,
        attempts: int,
        first_attempt_at: float,
        now: float,
        rng: Rng | None = None,
    ) -> Decision:
        rng = rng or random
        if isinstance(error, ThrottledError):
            return RetryAt(now + error.retry_after, count_attempt=False, reason=str(error))
        if isinstance(error, PermanentError):
            return Park(error.category, error.detail, error.hint, error.severity, error.owner, error.context)
        if isinstance(error, DomainError):
            # A broken rule of the canonical model (shipping more than is open, cancelling
            # nothing) fails the same way on every retry: parked at once with its code and
            # hint, not retried for a day as a defect while the order's later steps wait.
            hint = error.hint or "The order's data breaks a rule of the model; correct it, then retry."
            return Park(error.code, error.detail, hint, Severity.HIGH, default_owner(error.code), {})
        if isinstance(error, UNSTORABLE):
            # A value no column can hold (a text with NUL or too long for PostgreSQL, an
            # integer beyond 64 bits) fails the same way on every retry: parked at once.
            first_line = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            return Park(
                "validation.unstorable_value",
                f"a value the database cannot hold: {first_line}",
                "Correct the value at its source (no NUL characters, texts within their limits), then resubmit.",
                Severity.HIGH,
                Owner.PARTNER,
                {},
            )
        if isinstance(error, TransientError):
            category, summary = "transient.exhausted", error.detail
            hint = "The other system kept failing; check its health, then retry."
        else:
            category, summary = "defect.unhandled", f"{type(error).__name__}: {error}"
            hint = "An unexpected error in Crossdock; report it with the message id, then retry."
        if attempts >= self.max_attempts or now - first_attempt_at >= self.max_age_seconds:
            return Park(
                category,
                f"gave up after {attempts} attempts: {summary}",
                hint,
                Severity.HIGH,
                Owner.PARTNER,
                {"attempts": attempts},
            )
        return RetryAt(now + self.backoff(attempts, rng), count_attempt=True, reason=summary)


DEFAULT_POLICY = RetryPolicy()
