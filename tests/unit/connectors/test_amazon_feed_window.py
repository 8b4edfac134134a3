"""The listings feed window the hub keeps: Amazon's 5 per 5 minutes, or as configured."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.amazon.feeds import WINDOW_KEY, ListingsFeeds
from crossdock.errors import ThrottledError, TransientError

BASE = {"endpoint": "https://sellingpartnerapi-na.amazon.com", "client_id": "c", "client_secret": "s",
        "refresh_token": "r", "marketplace_ids": ["ATVPDKIKX0DER"]}  # fmt: skip


def feeds(now: list[float], **window) -> ListingsFeeds:
    ctx = SimpleNamespace(cache={}, clock=lambda: now[0], quota=None)
    return ListingsFeeds(SimpleNamespace(config=AmazonConfig(**BASE, **window), ctx=ctx))


def test_five_feeds_per_five_minutes_by_default():
    now = [1000.0]
    f = feeds(now)
    for _ in range(5):
        asyncio.run(f.reserve_slot())
    with pytest.raises(ThrottledError) as refused:
        asyncio.run(f.reserve_slot())
    assert refused.value.retry_after == pytest.approx(300.0) and refused.value.local
    now[0] += 300.0  # the first slot leaves the window
    asyncio.run(f.reserve_slot())


def test_a_faster_clock_configures_a_shorter_window():
    now = [1000.0]
    f = feeds(now, listings_feeds_per_window=2, listings_feed_window_seconds=3.0)
    asyncio.run(f.reserve_slot())
    asyncio.run(f.reserve_slot())
    with pytest.raises(ThrottledError) as refused:
        asyncio.run(f.reserve_slot())
    assert refused.value.retry_after == pytest.approx(3.0)
    now[0] += 3.0
    asyncio.run(f.reserve_slot())


# -- a publish that fails before its feed exists gives its slot back ---------------------------

class Scripted:
    """The connection's SP-API client: answers per operation, or raises what the script says."""

    def __init__(self, ctx, script: dict) -> None:
        self.ctx, self.config, self.script, self.calls = ctx, AmazonConfig(**BASE), script, []

    async def call(self, operation, method, path, body=None, **_):
        self.calls.append(operation)
        outcome = self.script[operation]
        if isinstance(outcome, BaseException):
            raise outcome
        return SimpleNamespace(body=outcome)


def scripted(script: dict) -> ListingsFeeds:
    ctx = SimpleNamespace(cache={}, clock=lambda: 1000.0, quota=None)
    f = ListingsFeeds(Scripted(ctx, script))

    async def transfer(method, url, data):
        return b""

    f._transfer = transfer
    return f


STAMPS = f"quota.{WINDOW_KEY}"  # the process's own count (a bare context has no shared quota)
DOC = {"feedDocumentId": "d1", "url": "https://s3.example/put"}


@pytest.mark.parametrize(
    "script",
    [
        {"createFeedDocument": ThrottledError(0.4, "paused by the other side", local=True)},
        {"createFeedDocument": TransientError("connection reset")},
        {"createFeedDocument": DOC, "createFeed": ThrottledError(2.0, "QuotaExceeded")},
    ],
    ids=["gate-refused-document", "document-failed", "createFeed-throttled"],
)
def test_a_feed_never_created_gives_its_slot_back(script):
    f = scripted(script)
    with pytest.raises((ThrottledError, TransientError)):
        asyncio.run(f.submit({"messages": []}, ["ATVPDKIKX0DER"]))
    assert len(f.ctx.cache[STAMPS]) == 0
    f.client.script = {"createFeedDocument": DOC, "createFeed": {"feedId": "F1"}}
    assert asyncio.run(f.submit({"messages": []}, ["ATVPDKIKX0DER"])) == "F1"
    assert len(f.ctx.cache[STAMPS]) == 1  # one feed, one slot


def test_a_feed_whose_creation_answer_is_lost_keeps_its_slot():
    f = scripted({"createFeedDocument": DOC, "createFeed": TransientError("timed out", ambiguous=True)})
    with pytest.raises(TransientError):
        asyncio.run(f.submit({"messages": []}, ["ATVPDKIKX0DER"]))
    assert len(f.ctx.cache[STAMPS]) == 1  # Amazon may have created it: the slot stays spent
