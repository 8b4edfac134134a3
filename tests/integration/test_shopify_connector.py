"""The Shopify connector against the sandbox store, over real HTTP.

"""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from crossdock.connectors.capabilities import ChannelOrderRef, SalesChannel
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.shopify import client as shopify_client
from crossdock.connectors.shopify.config import ShopifyConfig
from crossdock.connectors.shopify.connector import FULFILLMENT_CREATE, KIND, ORDER_FULFILMENT, ShopifyChannel
from crossdock.domain.shipments import Package, Shipment, ShipmentLine
from crossdock.errors import PermanentError, ThrottledError, TransientError
from crossdock.records import LineageRecord
from crossdock.sandbox import shopify_graphql, shopify_mutations
from crossdock.sandbox.app import SANDBOX, create_sandbox_app
from crossdock.sandbox.state import SandboxConfig, ShopifyStoreConfig

TOKEN = "shpat_integration_secret_token"
SECRET = "integration-app-secret"


class Clock:
    def __init__(self) -> None:
        self.t = 1_780_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def store(clock):
    """The sandbox app (webhooks off) and its Shopify store."""
    shopify = ShopifyStoreConfig(access_token=TOKEN, app_secret=SECRET, topics=(), restore_rate=2.0)
    app = create_sandbox_app(SandboxConfig(clock=clock, shopify=shopify))
    server = TestServer(app)
    await server.start_server()
    yield server, app[SANDBOX]
    await server.close()


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def lineage() -> list[LineageRecord]:
    return []


@pytest.fixture
def make_channel(store, session, lineage, clock):
    server, _ = store

    def make(**overrides) -> ShopifyChannel:
        settings = {
            "shop_domain": "crossdock-sandbox.myshopify.com",
            "base_url": str(server.make_url("/shopify")),
            "access_token": TOKEN,
            "webhook_secret": SECRET,
            # Short enough that the 3-s hangs of the timeout tests time out; long enough for a
            # loaded machine's ordinary answers (0.5 s timed one out in CI).
            "timeout_seconds": 1.5,
            **overrides,
        }
        ctx = ConnectorContext("shopify-1", "tenant-1", session, lineage.append, {}, clock)
        return KIND.build(ShopifyConfig(**settings), ctx)

    return make


@pytest.fixture
def channel(make_channel) -> ShopifyChannel:
    return make_channel()


async def new_order(store, lines=({"sku": "CD-1001", "quantity": 2},)) -> dict:
    server, _ = store
    async with (
        aiohttp.ClientSession() as s,
        s.post(server.make_url("/shopify/_sandbox/orders"), json={"lines": list(lines)}) as resp,
    ):
        return (await resp.json())["orders"][0]


def shipment_of(order: dict, tracking: str = "1Z999AA10123456784", quantity: int | None = None) -> Shipment:
    lines = tuple(
        ShipmentLine(str(li["id"]), Decimal(quantity or li["quantity"]), li["sku"])
        for li in order["line_items"]
    )
    return Shipment(
        shipment_id="WMS-SHP-1",
        order_ref=str(order["id"]),
        lines=lines,
        carrier="UPS",
        tracking_number=tracking,
        tracking_url=f"https://www.ups.com/track?tracknum={tracking}",
        packages=(Package("1", tracking),),
    )


def ref(order: dict) -> ChannelOrderRef:
    return ChannelOrderRef("shopify", str(order["id"]))


def state(store) -> dict:
    return store[1].ctx.snapshot()["shopify"]


def test_channel_implements_the_sales_channel_protocol(channel):
    assert isinstance(channel, SalesChannel)
    assert channel.channel == "shopify" and channel.requires_acknowledgement is False


async def test_confirmed_shipment_becomes_one_fulfillment_with_tracking(
    store, channel
):
    order = await new_order(store)
    shipment = shipment_of(order)

    reference = await channel.confirm_shipment(ref(order), shipment)

    (fulfillment,) = state(store)["fulfillments"]
    assert reference == f"gid://shopify/Fulfillment/{fulfillment['id']}"
    assert fulfillment["tracking_company"] == "UPS"
    assert fulfillment["tracking_numbers"] == ["1Z999AA10123456784"]
    assert fulfillment["line_items"] == [
        {"line_item_id": order["line_items"][0]["id"], "sku": "CD-1001", "quantity": 2}
    ]
    assert state(store)["orders"][str(order["id"])]["fulfillment_status"] == "fulfilled"
    assert await channel.find_shipment_confirmation(ref(order), shipment) == reference


async def test_confirmation_is_not_found_before_it_is_made(store, channel):
    order = await new_order(store)
    assert await channel.find_shipment_confirmation(ref(order), shipment_of(order)) is None


async def test_partial_shipments_are_found_by_their_own_tracking(store, channel):
    order = await new_order(store, [{"sku": "CD-1002", "quantity": 3}])
    first = await channel.confirm_shipment(ref(order), shipment_of(order, "TRACK-A", quantity=1))
    second = await channel.confirm_shipment(ref(order), shipment_of(order, "TRACK-B", quantity=2))

    assert first != second
    assert await channel.find_shipment_confirmation(ref(order), shipment_of(order, "TRACK-B", 2)) == second
    assert state(store)["orders"][str(order["id"])]["fulfillment_status"] == "fulfilled"


async def test_two_shipments_under_one_tracking_number_are_two_fulfillments(store, channel):
    """A carrier's master or PRO number (LTL, consolidated cartons) can carry two shipments:
    the second is no confirmation of the first."""
    order = await new_order(store, [{"sku": "CD-1002", "quantity": 3}])
    first = await channel.confirm_shipment(ref(order), shipment_of(order, "PRO-778", quantity=1))
    second = await channel.confirm_shipment(ref(order), shipment_of(order, "PRO-778", quantity=2))

    assert first != second and len(state(store)["fulfillments"]) == 2
    assert state(store)["orders"][str(order["id"])]["fulfillment_status"] == "fulfilled"
    assert await channel.find_shipment_confirmation(ref(order), shipment_of(order, "PRO-778", 2)) == second


@pytest.mark.parametrize("mode", ["hang", "drop"])
async def test_commit_then_timeout_is_ambiguous_and_never_fulfils_twice(
    store, channel, monkeypatch, mode
):
    _, sandbox = store
    await _post(
        store,
        "/_sandbox/faults",
        {"shopify": {"commit_then_timeout": {"next": 0, "hang_seconds": 3, "mode": mode}}},
    )
    _arm_fault_on_fulfillment(sandbox, monkeypatch)
    order = await new_order(store)
    shipment = shipment_of(order)

    with pytest.raises(TransientError) as caught:
        await channel.confirm_shipment(ref(order), shipment)
    assert caught.value.ambiguous is True

    found = await channel.find_shipment_confirmation(ref(order), shipment)
    (fulfillment,) = state(store)["fulfillments"]
    assert found == f"gid://shopify/Fulfillment/{fulfillment['id']}"
    # Confirming again (a flow that skipped the lookup) answers the same fulfillment, without a second call.
    assert await channel.confirm_shipment(ref(order), shipment) == found
    assert state(store)["fulfillment_requests_per_order"] == {str(order["id"]): 1}


async def test_lookup_refuses_to_guess_when_the_order_answer_has_no_fulfillments(store, channel, monkeypatch):
    original = shopify_graphql.QUERIES["order"]

    def without_fulfillments(store, op):
        node, cost = original(store, op)
        return ({k: v for k, v in node.items() if k != "fulfillments"} if node else node), cost

    monkeypatch.setitem(shopify_graphql.QUERIES, "order", without_fulfillments)
    order = await new_order(store)
    with pytest.raises(PermanentError) as caught:
        await channel.find_shipment_confirmation(ref(order), shipment_of(order))
    assert caught.value.category == "remote.unexpected_answer"


async def test_a_query_timeout_is_transient_but_not_ambiguous(store, channel):
    order = await new_order(store)
    await _post(
        store, "/_sandbox/faults", {"shopify": {"commit_then_timeout": {"next": 1, "hang_seconds": 3}}}
    )
    with pytest.raises(TransientError) as caught:
        await channel.confirm_shipment(ref(order), shipment_of(order))
    assert caught.value.ambiguous is False
    assert state(store)["fulfillment_requests"] == 0


async def test_server_errors_are_transient(store, channel):
    order = await new_order(store)
    await _post(store, "/_sandbox/faults", {"shopify": {"errors": {"next": 1, "status": 503}}})
    with pytest.raises(TransientError):
        await channel.confirm_shipment(ref(order), shipment_of(order))


async def test_shopify_throttle_answer_gives_the_wait_its_bucket_implies(store, channel, clock):
    _, sandbox = store
    order = await new_order(store)
    sandbox.shopify.bucket.available = 10.0  # a nearly empty bucket restoring 2 points/s

    with pytest.raises(ThrottledError) as caught:
        await channel.find_shipment_confirmation(ref(order), shipment_of(order))
    assert sandbox.shopify.bucket.snapshot()["throttled"] == 1
    requested = shopify_graphql.requested_cost(shopify_graphql.parse(ORDER_FULFILMENT.text, {}))
    assert caught.value.retry_after == pytest.approx((requested - 10) / 2.0)
    calls = state(store)["calls"]["total"]

    with pytest.raises(ThrottledError) as again:  # the estimate now knows: nothing is sent
        await channel.find_shipment_confirmation(ref(order), shipment_of(order))
    assert again.value.retry_after == pytest.approx(caught.value.retry_after)
    assert state(store)["calls"]["total"] == calls

    clock.t += again.value.retry_after
    # Sent and answered (no throttle): nothing was confirmed yet.
    assert await channel.find_shipment_confirmation(ref(order), shipment_of(order)) is None
    assert state(store)["calls"]["total"] == calls + 1


async def test_http_429_waits_as_told(store, channel):
    order = await new_order(store)
    await _post(store, "/_sandbox/faults", {"shopify": {"throttle": {"next": 1, "retry_after": 7}}})
    with pytest.raises(ThrottledError) as caught:
        await channel.confirm_shipment(ref(order), shipment_of(order))
    assert caught.value.retry_after == 7.0


async def test_wrong_access_token_is_a_permanent_auth_failure(store, make_channel):
    order = await new_order(store)
    with pytest.raises(PermanentError) as caught:
        await make_channel(access_token="shpat_wrong").confirm_shipment(ref(order), shipment_of(order))
    assert caught.value.category == "auth.invalid_credentials"


async def test_refused_mutation_names_the_fields(channel):
    variables = {
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1"}]
        }
    }
    with pytest.raises(PermanentError) as caught:
        await channel.client.execute(FULFILLMENT_CREATE, variables)
    assert caught.value.category == "remote.rejected"
    assert "fulfillment.lineItemsByFulfillmentOrder.0.fulfillmentOrderId" in caught.value.detail


async def test_shipping_more_than_is_open_is_refused_before_any_mutation(
    store, channel
):
    order = await new_order(store)
    await channel.confirm_shipment(ref(order), shipment_of(order, "TRACK-A"))
    with pytest.raises(shopify_client.AlreadyFulfilled):
        await channel.confirm_shipment(ref(order), shipment_of(order, "TRACK-OTHER"))
    assert state(store)["fulfillment_requests"] == 1


async def test_unknown_line_is_a_mapping_problem(store, channel):
    order = await new_order(store)
    stray = Shipment("S", str(order["id"]), (ShipmentLine("999", Decimal(1)),), tracking_number="T")
    with pytest.raises(PermanentError) as caught:
        await channel.confirm_shipment(ref(order), stray)
    assert caught.value.category == "mapping.line_unknown"


async def test_cancel_lines_sends_nothing_and_leaves_a_lineage_note(store, channel, lineage):
    order = await new_order(store)
    await channel.cancel_lines(ref(order), {str(order["line_items"][0]["id"]): Decimal(1)}, "short pick")
    (note,) = lineage
    assert note.error == "not sent" and "short pick" in note.request_body
    assert state(store)["calls"]["total"] == 0


async def test_every_request_is_in_lineage_with_the_token_redacted(
    store, make_channel, lineage
):
    order = await new_order(store)
    channel = make_channel()
    await channel.confirm_shipment(ref(order), shipment_of(order))
    with pytest.raises(PermanentError):
        await make_channel(access_token="shpat_wrong").find_shipment_confirmation(
            ref(order), shipment_of(order)
        )

    assert [r.status_code for r in lineage] == [200, 200, 401]
    assert all(r.direction == "out" and r.connection_id == "shopify-1" for r in lineage)
    assert all(r.request_headers["X-Shopify-Access-Token"] == "***" for r in lineage)
    text = orjson.dumps([r.__repr__() for r in lineage]).decode()
    assert TOKEN not in text and "shpat_wrong" not in text
    assert "fulfillmentCreate" in lineage[1].request_body and "Fulfillment" in lineage[1].response_body


# -- helpers ---------------------------------------------------------------------------------------


async def _post(store, path: str, body: dict) -> None:
    server, _ = store
    async with aiohttp.ClientSession() as s, s.post(server.make_url(path), json=body) as resp:
        assert resp.status == 200, await resp.text()


def _arm_fault_on_fulfillment(sandbox, monkeypatch) -> None:
    """Fire the configured "commit then time out" on the next fulfillmentCreate, not on the query before it."""
    real = shopify_mutations.MUTATIONS["fulfillmentCreate"]

    def armed(store, op):
        sandbox.faults.faults["shopify"].commit_then_timeout.count = 1
        monkeypatch.setitem(shopify_mutations.MUTATIONS, "fulfillmentCreate", real)
        return real(store, op)

    monkeypatch.setitem(shopify_mutations.MUTATIONS, "fulfillmentCreate", armed)
