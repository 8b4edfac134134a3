"""The Walmart inventory reader against the sandbox seller, in process, over real HTTP: it reads
what the bulk inventory feed set, leaves out SKUs Walmart does not hold, keeps to the
getInventory limit on both sides, and turns a malformed answer into a typed error."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from crossdock.connectors.inventory_publishing import StockUpdate
from crossdock.connectors.inventory_reading import ChannelLevel, InventoryReader
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.walmart.client import Answer
from crossdock.connectors.walmart.config import RateLimit, WalmartConfig
from crossdock.connectors.walmart.inventory import WalmartInventoryPublisher
from crossdock.connectors.walmart.inventory_read import WalmartInventoryReader
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.sandbox.app import create_sandbox_app
from crossdock.sandbox.state import SandboxConfig, WalmartSellerConfig
from tests.support.clock import FakeClock

SELLER = WalmartSellerConfig()
ODD_SKU = "CD 2001/blue+XL"  # a space and reserved characters Walmart wants percent-encoded


def sku(i: int) -> str:
    return f"CD-{1001 + i}"


class Seller:
    """The sandbox seller and a reader (and publisher) of one connection to it."""

    def __init__(self, server: TestServer, session: aiohttp.ClientSession, clock: FakeClock) -> None:
        self.server, self.session, self.clock = server, session, clock
        self.cache: dict[str, Any] = {}

    def config(self, **overrides: Any) -> WalmartConfig:
        return WalmartConfig(base_url=str(self.server.make_url("/walmart")), client_id=SELLER.client_id,
                             client_secret=SELLER.client_secret, **overrides)  # fmt: skip

    def context(self) -> ConnectorContext:
        return ConnectorContext("walmart-1", "t", self.session, lambda r: None, self.cache, self.clock)

    def reader(self, **overrides: Any) -> WalmartInventoryReader:
        return WalmartInventoryReader(self.config(**overrides), self.context())

    async def stock(self, levels: dict[str, int]) -> None:
        """Quantities set the way Crossdock sets them: one bulk inventory feed, processed."""
        publisher = WalmartInventoryPublisher(self.config(), self.context())
        updates = [StockUpdate(s, s, q, None, s) for s, q in levels.items()]
        result = await publisher.publish(updates)
        done = await publisher.check(result.pending)
        assert done is not None and sorted(done.accepted) == sorted(levels)

    async def faults(self, spec: dict[str, Any]) -> None:
        async with self.session.post(self.server.make_url("/_sandbox/faults"), json={"walmart": spec}) as r:
            assert r.status == 200

    async def state(self) -> dict[str, Any]:
        async with self.session.get(self.server.make_url("/_sandbox/state")) as r:
            return (await r.json())["walmart"]


@pytest.fixture
async def make_seller():
    servers: list[TestServer] = []
    session = aiohttp.ClientSession()
    clock = FakeClock(1_780_000_000.0)

    async def make(**seller: Any) -> Seller:
        walmart = WalmartSellerConfig(feed_processing_s=0, known_skus=(ODD_SKU,), **seller)
        server = TestServer(create_sandbox_app(SandboxConfig(clock=clock, catalog_size=10, walmart=walmart)))
        await server.start_server()
        servers.append(server)
        return Seller(server, session, clock)

    yield make
    for server in servers:
        await server.close()
    await session.close()


async def test_reader_reads_what_the_inventory_feed_set(make_seller):
    seller = await make_seller()
    await seller.stock({sku(1): 4, sku(2): 0, ODD_SKU: 9})
    reader = seller.reader()
    assert isinstance(reader, InventoryReader) and reader.max_read == 1
    levels = await reader.read([sku(2), ODD_SKU, sku(1), sku(3), "NOT-SOLD-HERE", sku(1)])
    assert levels == {
        sku(1): ChannelLevel(sku(1), 4),
        sku(2): ChannelLevel(sku(2), 0),
        ODD_SKU: ChannelLevel(ODD_SKU, 9),
        sku(3): ChannelLevel(sku(3), 0),  # sold by the seller, never stocked by a feed
    }  # NOT-SOLD-HERE: Walmart answers 404 CONTENT_NOT_FOUND, so it is not listed
    calls = (await seller.state())["calls"]
    assert calls["by_route"]["GET /walmart/v3/inventory"] == 5  # one call a SKU, duplicates read once
    assert calls["by_status"]["404"] == 1


async def test_reader_asks_for_the_connections_ship_node(make_seller):
    seller = await make_seller()
    await seller.stock({sku(1): 6})
    assert await seller.reader(ship_node="100009").read([sku(1)]) == {sku(1): ChannelLevel(sku(1), 6)}


async def test_reads_stop_at_the_client_side_limit_before_walmart_says_429(make_seller):
    seller = await make_seller()
    reader = seller.reader(rate_limits={"getInventory": RateLimit(per_minute=6, burst=3)})
    with pytest.raises(ThrottledError) as raised:
        await reader.read([sku(i) for i in range(5)])
    assert raised.value.local and 9 <= raised.value.retry_after <= 10
    state = await seller.state()
    assert state["calls"]["by_route"]["GET /walmart/v3/inventory"] == 3
    assert state["inventory_reads_throttled"] == 0


async def test_walmarts_429_on_inventory_reads_throttles_the_connection(make_seller):
    seller = await make_seller(inventory_reads_per_minute=2)
    reader = seller.reader(rate_limits={"getInventory": RateLimit(per_minute=1000)})
    with pytest.raises(ThrottledError) as raised:
        await reader.read([sku(i) for i in range(3)])
    assert not raised.value.local and raised.value.retry_after >= 1
    assert (await seller.state())["inventory_reads_throttled"] == 1
    with pytest.raises(ThrottledError) as again:  # the client's bucket now waits out Walmart's Retry-After
        await reader.read([sku(0)])
    assert again.value.local and (await seller.state())["inventory_reads_throttled"] == 1
    seller.clock.advance(60)
    assert await reader.read([sku(0)]) == {sku(0): ChannelLevel(sku(0), 0)}


@pytest.mark.parametrize("kind", ["truncated", "html", "empty"])
async def test_a_malformed_answer_is_a_transient_error(make_seller, kind):
    seller = await make_seller()
    reader = seller.reader()
    await reader.read([sku(1)])  # token cached: the fault hits getInventory itself
    await seller.faults({"malformed": {"next": 1, "kind": kind}})
    with pytest.raises(TransientError):
        await reader.read([sku(1)])
    assert await reader.read([sku(1)]) == {sku(1): ChannelLevel(sku(1), 0)}


class Answers:
    """A Walmart client that gives canned answers (what the sandbox cannot be made to say)."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)

    async def call(self, *args: Any, **kwargs: Any) -> Answer:
        return self.answers.pop(0)


async def test_a_404_that_does_not_name_an_unknown_sku_is_a_permanent_error(make_seller):
    reader = (await make_seller()).reader()
    reader.client = Answers(Answer(404, {}, None))  # type: ignore[assignment]
    with pytest.raises(PermanentError) as raised:
        await reader.read([sku(1)])
    assert raised.value.category == "remote.not_found"


async def test_an_answer_for_another_sku_is_a_codec_error(make_seller):
    reader = (await make_seller()).reader()
    reader.client = Answers(Answer(200, {}, {"sku": sku(2), "quantity": {"unit": "EACH", "amount": 1}}))  # type: ignore[assignment]
    with pytest.raises(PermanentError) as raised:
        await reader.read([sku(1)])
    assert raised.value.category == "validation.vendor_payload"
