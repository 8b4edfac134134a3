"""A flush waits out the client's own short throttle estimates instead of ending."""

from __future__ import annotations

import asyncio
import time

import pytest

from crossdock.errors import ThrottledError
from crossdock.flows.availability.flush import _paced


class Channel:
    """Refuses with the given waits (a shrinking bucket estimate), then publishes."""

    def __init__(self, *waits: float, local: bool = True) -> None:
        self.waits, self.local, self.calls = list(waits), local, 0

    async def publish(self, updates):
        self.calls += 1
        if self.waits:
            raise ThrottledError(self.waits.pop(0), "bucket low", local=self.local)
        return "published"


def paced(channel: Channel, started: float | None = None):
    return asyncio.run(_paced(channel, [], time.monotonic() if started is None else started))


def test_a_short_local_estimate_is_waited_out():
    channel = Channel(0.05, 0.02)
    assert paced(channel) == "published"
    assert channel.calls == 3


@pytest.mark.parametrize(
    ("channel", "why"),
    [
        (Channel(0.05, local=False), "the channel itself refused (429): the engine waits"),
        (Channel(5.0), "longer than a flush waits"),
        (Channel(0.05, 0.05), "the estimate did not shrink: an injected clock"),
    ],
)
def test_other_throttles_end_the_flush(channel, why):
    with pytest.raises(ThrottledError):
        paced(channel)


def test_no_wait_beyond_the_flush_time_budget():
    with pytest.raises(ThrottledError):
        paced(Channel(0.5), started=time.monotonic() - 2.9)
