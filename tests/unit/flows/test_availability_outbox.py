"""Publishing decisions without I/O: how urgent a value is against what the channel shows,
and how a channel's answer is sorted per item."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crossdock.connectors.amazon.listings_read import decode_search
from crossdock.connectors.inventory_publishing import ItemFailure, PublishResult
from crossdock.connectors.shopify.inventory_levels import decode_levels
from crossdock.domain.availability_rules import Urgency, urgency_against
from crossdock.flows.availability.outcome import Entry, sort_result

D = Decimal


@pytest.mark.parametrize(
    "quantity, shown, given, expected",
    [
        (D(0), D(5), "decrease", Urgency.TO_ZERO),
        (D(0), None, None, Urgency.TO_ZERO),
        (D(3), D(5), "low_stock", Urgency.LOW_STOCK),
        (D(3), D(5), "decrease", Urgency.DECREASE),
        (D(8), D(5), "low_stock", Urgency.INCREASE),  # low for the rule, but more than the channel shows
        (D(8), D(12), "increase", Urgency.DECREASE),  # decided as an increase, yet below the channel's figure
        (D(8), None, None, Urgency.DECREASE),  # first listing
        (D(5), D(5), "increase", Urgency.INCREASE),
    ],
)
def test_urgency_is_judged_against_what_the_channel_shows(quantity, shown, given, expected):
    assert urgency_against(quantity, shown, given) is expected


def test_an_item_is_refused_if_one_of_its_listings_is_and_pending_while_a_feed_holds_it():
    entries = [
        Entry("A-1@1", "A", D(4), 1), Entry("A-2@1", "A", D(4), 1),
        Entry("B@2", "B", D(0), 2), Entry("C@3", "C", D(7), 3), Entry("S@4", "S", D(2), 4),
    ]  # fmt: skip
    result = PublishResult(
        accepted=["A-1@1", "B@2"],
        failed={
            "A-2@1": ItemFailure("mapping.sku_unknown", "no A-2"),
            "S@4": ItemFailure("remote.stale_quantity", "x"),
        },
        pending="token",
    )
    out = sort_result(entries, result)
    assert [s.item for s in out.accepted] == ["B"]
    assert list(out.failed) == ["A"] and out.failed["A"][0].key == "A-2@1"
    assert [e.item for e in out.pending] == ["C"] and [e.item for e in out.stale] == ["S"]


def test_an_update_neither_taken_nor_refused_without_a_feed_is_refused():
    out = sort_result([Entry("X@1", "X", D(1), 1)], PublishResult())
    assert out.failed["X"][1].category == "remote.unconfirmed"


def test_shopify_levels_and_amazon_listings_decode_to_channel_levels():
    answer = {"nodes": [
        {"id": "gid://shopify/InventoryItem/9", "sku": "A",
         "inventoryLevel": {"quantities": [{"name": "available", "quantity": 4}]}},
        {"id": "gid://shopify/InventoryItem/8", "sku": "B", "inventoryLevel": None},
        {"id": "gid://shopify/InventoryItem/7", "sku": "Z", "inventoryLevel": None},
    ]}  # fmt: skip
    levels = decode_levels(answer, ["A", "B", "C"])
    assert {k: (v.quantity, v.listing_ref) for k, v in levels.items()} == {
        "A": (4, "gid://shopify/InventoryItem/9"),
        "B": (None, "gid://shopify/InventoryItem/8"),
    }
    body = {"items": [
        {"sku": "A", "fulfillmentAvailability": [{"fulfillmentChannelCode": "AMAZON_NA", "quantity": 50},
                                                 {"fulfillmentChannelCode": "DEFAULT", "quantity": 3}]},
        {"sku": "B", "fulfillmentAvailability": [{"fulfillmentChannelCode": "AMAZON_NA", "quantity": 9}]},
    ]}  # fmt: skip
    assert {k: v.quantity for k, v in decode_search(body, ["A", "B"]).items()} == {"A": 3, "B": None}
