"""The buyer's address of an Amazon order: a Restricted Data Token, then getOrderAddress,
against the real sandbox seller account, in process, over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

from crossdock.connectors.amazon import codec
from crossdock.errors import PermanentError, ThrottledError
from tests.integration import test_amazon_connector as base

make_world = base.make_world  # the fixtures of the connector tests
world = base.world
ACCOUNT = base.ACCOUNT


def calls(world: base.World, suffix: str) -> list[int | None]:
    return [r.status_code for r in world.lineage if (r.url or "").split("?")[0].endswith(suffix)]


async def test_order_address_is_the_full_shipping_address_behind_an_rdt(world):
    order_id, items = world.order()
    address = await world.channel.order_address(order_id)
    assert address == world.sandbox.amazon.addresses[order_id]
    listed = world.sandbox.amazon.orders[order_id]
    order = codec.decode_order(listed, items, address)
    assert order.ship_to is not None and order.ship_to.is_complete()
    assert (order.ship_to.name, order.ship_to.line1) == (address["Name"], address["AddressLine1"])
    without = codec.decode_order(listed, items)
    assert without.ship_to is not None and "line1" in without.ship_to.missing_fields()
    assert calls(world, "/restrictedDataToken") == [200] and calls(world, "/address") == [200]


async def test_rdt_is_cached_per_path_until_shortly_before_it_expires(world):
    first, _ = world.order()
    second, _ = world.order()
    for _ in range(3):
        await world.channel.order_address(first)
    assert len(world.sandbox.amazon.rdts) == 1  # one RDT serves the path's calls
    await world.channel.order_address(second)
    assert len(world.sandbox.amazon.rdts) == 2  # a path of its own, an RDT of its own
    world.clock.advance(ACCOUNT.rdt_ttl_s - 30)  # in its last minute: replaced before Amazon refuses it
    await world.channel.order_address(first)
    assert len(world.sandbox.amazon.rdts) == 3
    assert not any(r.status_code == 403 for r in world.lineage)
    # Expired entries leave the cache when a new RDT is cached.
    world.clock.advance(60)
    await world.channel.order_address(second)
    [cached] = [v for k, v in world.channel.ctx.cache.items() if k.startswith("amazon.rdt.")]
    assert len(cached) == 2 and all(s.expires_at > world.clock() for s in cached.values())


async def test_concurrent_callers_share_one_rdt(world):
    order_id, _ = world.order()
    await asyncio.gather(*(world.channel.order_address(order_id) for _ in range(5)))
    assert len(world.sandbox.amazon.rdts) == 1


async def test_revoked_rdt_is_replaced_and_the_call_repeated(world):
    order_id, _ = world.order()
    await world.channel.order_address(order_id)
    world.sandbox.amazon.rdts.clear()  # Amazon forgets the RDT before its time
    assert await world.channel.order_address(order_id) == world.sandbox.amazon.addresses[order_id]
    assert calls(world, "/address") == [200, 403, 200]
    assert len(world.sandbox.amazon.tokens) == 1  # the LWA token was fine: only the RDT renewed


async def test_rdt_refused_twice_is_a_permanent_auth_error(world, monkeypatch):
    order_id, _ = world.order()
    monkeypatch.setattr(world.sandbox.amazon, "rdts", _Forgetful())
    with pytest.raises(PermanentError) as caught:
        await world.channel.order_address(order_id)
    assert caught.value.category == "auth.invalid_credentials"
    assert "Direct-to-Consumer" in caught.value.hint


class _Forgetful(dict):
    """An RDT store that never keeps what it is given (an app without the restricted role)."""

    def __setitem__(self, key, value) -> None:
        return None


async def test_pending_order_has_no_address_yet(world):
    order_id, _ = world.order()
    world.sandbox.amazon.orders[order_id]["OrderStatus"] = "Pending"
    assert await world.channel.order_address(order_id) is None


async def test_unknown_order_is_not_found(world):
    with pytest.raises(PermanentError) as caught:
        await world.channel.order_address("111-0000000-0000000")
    assert caught.value.category == "remote.not_found"


async def test_address_throttled_then_served_at_the_stated_rate(make_world):
    world = await make_world(speed=1.0)
    order_id, _ = world.order()
    world.sandbox.amazon.buckets["getOrderAddress"].tokens = 0.0
    with pytest.raises(ThrottledError) as caught:
        await world.channel.order_address(order_id)
    assert caught.value.retry_after == pytest.approx(1 / 0.5, rel=0.01)


async def test_lineage_keeps_the_address_and_no_token(world):
    order_id, _ = world.order()
    await world.channel.order_address(order_id)
    tokens = [*world.sandbox.amazon.tokens, *world.sandbox.amazon.rdts]
    world.sandbox.amazon.rdts.clear()
    await world.channel.order_address(order_id)
    tokens += world.sandbox.amazon.rdts
    assert len(tokens) == 3  # one access token, two RDTs
    text = repr(world.lineage)
    for secret in (ACCOUNT.client_secret, ACCOUNT.refresh_token, *tokens):
        assert secret not in text
    address = world.sandbox.amazon.addresses[order_id]
    [answer, *_] = [r for r in world.lineage if (r.url or "").endswith("/address")]
    assert address["AddressLine1"] in answer.response_body  # personal data: lineage retention purges it
    [grant, *_] = [r for r in world.lineage if (r.url or "").endswith("/restrictedDataToken")]
    assert '"restrictedDataToken":"***"' in grant.response_body and "/address" in grant.request_body


def test_the_tokens_api_rate_is_not_configurable():
    """A configuration key naming a token is sealed as a secret; Amazon's header rules instead."""
    from pydantic import ValidationError

    from crossdock.connectors.amazon.config import AmazonConfig

    settings = {"endpoint": "https://sp.example", "client_id": "c", "client_secret": "s",
                "refresh_token": "r", "marketplace_ids": ["ATVPDKIKX0DER"]}  # fmt: skip
    AmazonConfig(**settings, rate_limits={"getOrderAddress": {"rate": 50, "burst": 30}})
    with pytest.raises(ValidationError):
        AmazonConfig(**settings, rate_limits={"createRestrictedDataToken": {"rate": 100, "burst": 10}})
