"""The listings feed window the hub keeps: Amazon's 5 per 5 minutes, or as configured."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.amazon.feeds import ListingsFeeds
from crossdock.errors import ThrottledError

BASE = {"endpoint": "https://sellingpartnerapi-na.amazon.com", "client_id": "c", "client_secret": "s",
        "refresh_token": "r", "marketplace_ids": ["ATVPDKIKX0DER"]}  # fmt: skip


def feeds(now: list[float], **window) -> ListingsFeeds:
    ctx = SimpleNamespace(cache={}, clock=lambda: now[0])
    return ListingsFeeds(SimpleNamespace(config=AmazonConfig(**BASE, **window), ctx=ctx))


def test_five_feeds_per_five_minutes_by_default():
    now = [1000.0]
    f = feeds(now)
    for _ in range(5):
        f.reserve_slot()
    with pytest.raises(ThrottledError) as refused:
        f.reserve_slot()
    assert refused.value.retry_after == pytest.approx(300.0) and refused.value.local
    now[0] += 300.0  # the first slot leaves the window
    f.reserve_slot()


def test_a_faster_clock_configures_a_shorter_window():
    now = [1000.0]
    f = feeds(now, listings_feeds_per_window=2, listings_feed_window_seconds=3.0)
    f.reserve_slot()
    f.reserve_slot()
    with pytest.raises(ThrottledError) as refused:
        f.reserve_slot()
    assert refused.value.retry_after == pytest.approx(3.0)
    now[0] += 3.0
    f.reserve_slot()
