"""Pricing: base price lists from the ERP, effective-dated prices, each channel's price by its
rules with an explanation, approval of large changes, and publication to the channels.

    pricing.poll ─► pricing.base_changed ─┐
    pricing.entries ──────────────────────┼─► pricing.changed (per item) ─► pricing.publish
    pricing.due (entry starts / ends) ────┤        │ (over the threshold)      (per connection)
    pricing.recompute (rules changed) ────┘        │
                                                   └─► price approval ─► approved ─┘
    pricing.publish ─► (feed) pricing.publish.check ─► confirmed | pricing.publish.failed (per item)

For people: `approvals.approve` / `approvals.reject` (API, console, CLI), `entries_message`."""

from __future__ import annotations

from crossdock.engine.handlers import Registry
from crossdock.engine.retry import RetryPolicy
from crossdock.flows.pricing import base, compute, kinds, publish
from crossdock.flows.pricing.approvals import approve, reject
from crossdock.flows.pricing.base import entries_message, request_digest

# Channel and ERP outages last minutes to hours: back off up to 10 minutes, give up after a day.
OUTAGE_TOLERANT = RetryPolicy(base_seconds=2.0, cap_seconds=600.0, max_attempts=40, max_age_seconds=24 * 3600)

__all__ = ["approve", "entries_message", "kinds", "register", "reject", "request_digest"]


def register(registry: Registry) -> None:
    registry.add(kinds.POLL, base.poll, OUTAGE_TOLERANT)
    registry.add(kinds.BASE_CHANGED, base.base_changed)
    registry.add(kinds.ENTRIES, base.entries)
    registry.add(kinds.CHANGED, compute.item_changed)
    registry.add(kinds.RECOMPUTE, base.recompute)
    registry.add(kinds.DUE, compute.entry_due)
    registry.add(kinds.PUBLISH, publish.publish, OUTAGE_TOLERANT)
    registry.add(kinds.CHECK, publish.check, OUTAGE_TOLERANT)
    registry.add(kinds.FAILED, publish.item_failed, OUTAGE_TOLERANT)
