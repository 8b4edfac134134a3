"""Catalog publishing: the item master (pulled from the ERP or pushed) becomes each channel's
listing through the tenant's attribute mapping; required attributes are checked before
anything is sent, and an item that fails is its own exception while the rest publishes.
Shopify gets one productSet per item, Amazon listings feeds of up to 25,000 items."""

from __future__ import annotations

from crossdock.engine.handlers import Registry
from crossdock.engine.retry import RetryPolicy
from crossdock.flows.catalog import feeds, intake, kinds, publish

# Channel and ERP outages last minutes to hours: back off up to 10 minutes, give up after a day.
PATIENT = RetryPolicy(base_seconds=2.0, cap_seconds=600.0, max_attempts=40, max_age_seconds=24 * 3600)

__all__ = ["kinds", "register"]


def register(registry: Registry) -> None:
    registry.add(kinds.SYNC, intake.sync, PATIENT)
    registry.add(kinds.ITEMS, intake.items_received, PATIENT)
    registry.add(kinds.PUBLISH_ITEM, publish.publish_item, PATIENT)
    registry.add(kinds.FEED_PUBLISH, feeds.publish_feed, PATIENT)
    registry.add(kinds.FEED_CHECK, feeds.check_feed, PATIENT)
