"""How a failure is classified, the contract between connectors, handlers and the engine.

A connector or handler raises one of these; the engine's retry policy turns it into
a decision (retry later, wait as told, or park as an exception). Anything else that
escapes a handler is treated as a transient defect: retried with backoff, then parked.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """Business severity of an exception: how much it hurts the distributor."""

    LOW = "low"  # cosmetic or informational; nothing waits on it
    MEDIUM = "medium"  # one document waits; no customer impact yet
    HIGH = "high"  # an order, shipment or invoice is stuck
    CRITICAL = "critical"  # money or stock at risk across many documents


class Owner(StrEnum):
    """Who is expected to act on an exception."""

    PARTNER = "partner"  # the partner's operations desk (connections, credentials, defects)
    TENANT = "tenant"  # the distributor's own staff (mappings, master data, business rules)


class CrossdockError(Exception):
    """Base of every classified failure."""


class TransientError(CrossdockError):
    """Worth repeating as is: timeout, connection refused, 5xx, lock contention."""

    def __init__(self, detail: str, *, ambiguous: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        # An ambiguous failure (a timeout after the request was sent) may have taken
        # effect; the next attempt must look before it repeats the side effect.
        self.ambiguous = ambiguous


class ThrottledError(CrossdockError):
    """The other side asked us to slow down; wait `retry_after` seconds, no attempt used."""

    def __init__(self, retry_after: float, detail: str = "throttled", *, local: bool = False) -> None:
        super().__init__(f"{detail} (retry after {retry_after:.3f}s)")
        self.retry_after = max(0.0, float(retry_after))
        self.detail = detail
        # Predicted on this side (a client-side budget): nothing reached the other system,
        # so the connection is not paused for everyone.
        self.local = local


class PermanentError(CrossdockError):
    """Repeating will not help: validation, mapping, business rule, authentication.

    `category` is a dotted code such as ``mapping.sku_unknown``; its first part
    (``mapping``, ``validation``, ``business``, ``auth``, ``config``, ``remote``)
    groups exceptions on the desk. `hint` tells the operator how to fix it.
    """

    def __init__(
        self,
        category: str,
        detail: str,
        hint: str = "",
        *,
        severity: Severity = Severity.HIGH,
        owner: Owner | None = None,
        context: dict | None = None,
    ) -> None:
        super().__init__(f"{category}: {detail}")
        self.category = category
        self.detail = detail
        self.hint = hint
        self.severity = severity
        self.owner = owner or default_owner(category)
        self.context = context or {}


_TENANT_FAMILIES = {"mapping", "validation", "business"}


def default_owner(category: str) -> Owner:
    """Mapping, validation and business-rule problems are the distributor's to fix;
    connection, credential, configuration and defect problems are the partner's."""
    return Owner.TENANT if category.split(".", 1)[0] in _TENANT_FAMILIES else Owner.PARTNER
