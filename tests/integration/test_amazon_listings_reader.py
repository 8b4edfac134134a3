"""The Amazon listings reader over real HTTP against a scripted SP-API: an answer that is not
`ItemSearchResults` is a typed error (a body that is not JSON: asked again; JSON of another
shape: a CodecError naming the field), never "nothing listed"; a paged answer is followed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from crossdock.connectors.amazon.config import AmazonConfig
from crossdock.connectors.amazon.listings_read import AmazonListingsReader
from crossdock.connectors.codec_errors import CodecError
from crossdock.connectors.inventory_reading import ChannelLevel, InventoryReader
from crossdock.connectors.registry import ConnectorContext
from crossdock.errors import TransientError
from tests.support.clock import FakeClock

SELLER = "A1SELLER"


def listing(sku: str, quantity: int) -> dict[str, Any]:
    return {
        "sku": sku,
        "fulfillmentAvailability": [{"fulfillmentChannelCode": "DEFAULT", "quantity": quantity}],
    }


@dataclass
class ScriptedSearch:
    """Answers searchListingsItems from `script` (status, JSON body or raw bytes) in turn."""

    script: list[tuple[int, Any]] = field(default_factory=list)
    seen: list[dict[str, str]] = field(default_factory=list)  # each call's query

    async def token(self, request: web.Request) -> web.Response:
        return web.json_response({"access_token": "Atza|t", "expires_in": 3600})

    async def search(self, request: web.Request) -> web.Response:
        assert request.match_info["seller_id"] == SELLER
        self.seen.append(dict(request.query))
        status, body = self.script.pop(0)
        if isinstance(body, bytes):
            return web.Response(status=status, body=body, content_type="application/json")
        return web.json_response(body, status=status)


@pytest.fixture
async def amazon() -> AsyncIterator[tuple[ScriptedSearch, AmazonListingsReader]]:
    api = ScriptedSearch()
    app = web.Application()
    app.router.add_post("/auth/o2/token", api.token)
    app.router.add_get("/listings/2021-08-01/items/{seller_id}", api.search)
    server = TestServer(app)
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        config = AmazonConfig(
            endpoint=str(server.make_url("")), lwa_endpoint=str(server.make_url("/auth/o2/token")),
            client_id="client", client_secret="secret-value", refresh_token="Atzr|refresh-value",
            marketplace_ids=["ATVPDKIKX0DER"], seller_id=SELLER,
        )  # fmt: skip
        ctx = ConnectorContext(
            "amazon-us", "tenant-1", session, lambda r: None, clock=FakeClock(1_780_000_000.0)
        )
        yield api, AmazonListingsReader(config, ctx)
    await server.close()


async def test_listed_skus_are_read_and_a_valid_empty_answer_lists_nothing(amazon):
    api, reader = amazon
    assert isinstance(reader, InventoryReader)
    api.script += [
        (200, {"numberOfResults": 1, "pagination": {}, "items": [listing("A", 4)]}),
        (200, {"numberOfResults": 0, "items": []}),
    ]
    assert await reader.read(["B", "A"]) == {"A": ChannelLevel("A", 4)}
    assert await reader.read(["C"]) == {}
    assert api.seen[0]["identifiers"] == "A,B" and api.seen[0]["pageSize"] == "20"


@pytest.mark.parametrize(
    "body",
    [b"", b'{"numberOfResults": 1, "items": [{"sku"', b"<html><body>502 Bad Gateway</body></html>"],
    ids=["empty", "truncated", "html"],
)
async def test_an_answer_without_a_json_body_is_asked_again(amazon, body):
    api, reader = amazon
    api.script.append((200, body))
    with pytest.raises(TransientError):
        await reader.read(["A"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payload": {"items": []}}, "items"),
        ([], ""),
        ({"numberOfResults": 1, "items": []}, "items"),
        (
            {"numberOfResults": 1, "items": [{"sku": "A", "fulfillmentAvailability": {}}]},
            "items[0].fulfillmentAvailability",
        ),
    ],
)
async def test_json_of_another_shape_is_a_codec_error_naming_the_field(amazon, body, field):
    api, reader = amazon
    api.script.append((200, body))
    with pytest.raises(CodecError) as raised:
        await reader.read(["A"])
    assert raised.value.field == field and raised.value.category == "validation.vendor_payload"


async def test_a_paged_answer_is_followed_to_its_last_page(amazon):
    api, reader = amazon
    api.script += [
        (200, {"numberOfResults": 2, "pagination": {"nextToken": "n1"}, "items": [listing("A", 1)]}),
        (200, {"numberOfResults": 2, "pagination": {"previousToken": "p1"}, "items": [listing("B", 2)]}),
    ]
    assert await reader.read(["A", "B"]) == {"A": ChannelLevel("A", 1), "B": ChannelLevel("B", 2)}
    assert "pageToken" not in api.seen[0] and api.seen[1]["pageToken"] == "n1"


async def test_pages_that_never_end_are_a_codec_error(amazon):
    api, reader = amazon
    endless = {"numberOfResults": 2, "pagination": {"nextToken": "again"}, "items": []}
    api.script += [(200, endless)] * 2
    with pytest.raises(CodecError) as raised:
        await reader.read(["A", "B"])
    assert raised.value.field == "pagination.nextToken" and len(api.seen) == 2
