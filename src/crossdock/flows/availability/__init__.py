"""Publishing availability to channels: coalesced latest-wins per channel and item, batched
into each channel's bulk API within its limits, most urgent first; and reconciliation,
which compares what each channel shows with what it should show and corrects it.

    inventory.changed (flows.inventory) │ availability.publish
        ─► publish_queue (latest wins) ─► availability.flush (one per connection)
        ─► publisher.publish(batch) ─► confirmed │ availability.check (feeds) │ availability.item (refused)
    availability.reconcile (scheduled, page by page) ─► corrections into publish_queue + drift report
"""

from __future__ import annotations

from crossdock.engine.handlers import Registry
from crossdock.flows.availability import check, failures, flush, kinds, queue, reconcile


def register(registry: Registry) -> None:
    registry.add(kinds.PUBLISH, queue.publish)
    registry.add(kinds.FLUSH, flush.flush)
    registry.add(kinds.CHECK, check.check)
    registry.add(kinds.ITEM, failures.item_failed)
    registry.add(kinds.RECONCILE, reconcile.reconcile)
