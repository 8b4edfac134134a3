"""A channel or ERP that says "slow down" pauses its connection for every worker."""

from __future__ import annotations

import pytest

from crossdock.errors import ThrottledError
from crossdock.flows.orders.connect import PausesOnThrottle


class _Ctx:
    def __init__(self) -> None:
        self.paused: list[tuple[str, float]] = []

    async def pause(self, connection_id: str, seconds: float) -> None:
        self.paused.append((connection_id, seconds))


class _Erp:
    channel = "erp"

    def __init__(self, error: ThrottledError) -> None:
        self.error = error

    async def create_sales_order(self, request):
        raise self.error


async def test_a_429_from_the_other_side_pauses_the_connection_for_everyone():
    ctx = _Ctx()
    erp = PausesOnThrottle(_Erp(ThrottledError(7.0, "429")), ctx, "acme-erp")
    with pytest.raises(ThrottledError):
        await erp.create_sales_order(object())
    assert ctx.paused == [("acme-erp", 7.0)] and erp.channel == "erp"


async def test_a_locally_predicted_limit_does_not_pause_the_connection():
    ctx = _Ctx()
    erp = PausesOnThrottle(_Erp(ThrottledError(3.0, "bucket", local=True)), ctx, "acme-erp")
    with pytest.raises(ThrottledError):
        await erp.create_sales_order(object())
    assert ctx.paused == []
