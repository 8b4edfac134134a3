"""The console's catalog page over HTTP on SQLite and PostgreSQL: listings per channel
connection as stacked bars drawn to scale, the listings that need attention with their
problem, one item's record and listings, the item code search, and tenant isolation."""

from __future__ import annotations

import json
import re
import time
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from crossdock import bootstrap
from crossdock.access import Role
from crossdock.api.app import create_app
from crossdock.api.console import catalog as page
from crossdock.domain.catalog import ChannelMapping, ItemRecord, Source
from crossdock.flows.catalog.listings import build
from crossdock.store import catalog as store
from crossdock.store import users as accounts
from crossdock.store.tables import connections, tenants
from tests.integration.test_console import PASSWORD, sign_in

NOW = time.time()
HINGE = {
    "code": "CD-7",
    "title": "Hinge",
    "identifiers": {"ean": "4006381333931"},
    "images": ["https://img/7.jpg"],
}
REFUSED = {
    "category": "catalog.listing_rejected",
    "detail": "Amazon refused the listing of item CD-8 (SKU CD-8) on acme-amz, feed F1 message 2: bad value",
    "hint": "Correct item_name of item CD-8.",
    "owner": "tenant",
    "attributes": ["item_name"],
}


def blocked_detail(item: dict) -> str:
    """The problem the real listing builder records for an Amazon listing without a brand."""
    mapping = ChannelMapping.for_channel("amazon", product_type=Source.const("HOME"))
    channel = SimpleNamespace(connection_id="acme-amz", kind="amazon", mapping=mapping)
    return build(channel, None, ItemRecord.from_plain(item)).blocked_detail


def listing(c, tenant: str, cid: str, item: str, status: str, age: float, **values) -> None:
    published = {"published_digest": "d", "published_at": NOW - age} if status == "published" else {}
    store.put_listing(c, tenant, cid, item, expect=None, now=NOW - age, sku=item, status=status,
                      digest="d", **published | values)  # fmt: skip


def seed(c) -> None:
    """acme-shop: 6 published, 2 queued; acme-amz: 1 submitted, 2 blocked, 1 rejected;
    acme-idle (Shopify) nothing yet; acme-erp is no channel. globex has one blocked listing."""
    for tid in ("acme", "globex"):
        c.execute(
            insert(tenants).values(id=tid, name=tid.title(), settings="{}", created_at=NOW, updated_at=NOW)
        )
    for tid, cid, kind in (
        ("acme", "acme-shop", "shopify"),
        ("acme", "acme-amz", "amazon"),
        ("acme", "acme-idle", "shopify"),
        ("acme", "acme-erp", "erp-rest"),
        ("globex", "globex-shop", "shopify"),
    ):
        c.execute(
            insert(connections).values(
                tenant_id=tid, id=cid, kind=kind, config="{}", created_at=NOW, updated_at=NOW
            )
        )
    store.save_items(c, "acme", [("CD-7", json.dumps(HINGE), "r7")], "acme-erp", NOW)
    store.save_items(c, "globex", [("GX-1", json.dumps({"code": "GX-1"}), "g1")], None, NOW)
    for n in range(6):
        listing(
            c, "acme", "acme-shop", f"SHOP-{n}", "published", 500, channel_ref=f"gid://shopify/Product/{n}"
        )
    listing(c, "acme", "acme-shop", "SHOP-6", "queued", 400, queued_at=NOW - 400)
    listing(c, "acme", "acme-shop", "CD-7", "queued", 400, queued_at=NOW - 400)
    listing(c, "acme", "acme-amz", "SHOP-0", "submitted", 300, feed_id="F2")
    listing(c, "acme", "acme-amz", "CD-7", "blocked", 200, detail=blocked_detail(HINGE))
    listing(
        c, "acme", "acme-amz", "CD-9", "blocked", 300, detail=blocked_detail({"code": "CD-9", "title": "Lid"})
    )
    listing(c, "acme", "acme-amz", "CD-8", "rejected", 100, feed_id="F1", detail=json.dumps(REFUSED))
    listing(c, "globex", "globex-shop", "GX-1", "blocked", 100, detail=json.dumps({"missing": ["title"]}))
    for name, role, scope in (
        ("olga", Role.PARTNER_OPERATOR, ["*"]),
        ("tina", Role.TENANT_ADMIN, ["acme"]),
        ("vic", Role.TENANT_VIEWER, ["acme"]),
    ):
        accounts.create_user(c, name, accounts.hash_password(PASSWORD), role, scope, "test", NOW)


@pytest.fixture
def client(settings):
    hub = bootstrap.build(settings)
    with hub.engine.begin() as c:
        seed(c)
    with TestClient(create_app(hub, run_workers=False)) as c:
        yield c
    hub.close()


def bar(html: str, connection_id: str) -> dict[str, float]:
    """status → width in percent of the connection's stacked bar."""
    row = re.search(rf'<tr id="bar-{connection_id}">(.*?)</tr>', html, re.S).group(1)
    return {s: float(w) for s, w in re.findall(r'class="seg cat-(\w+)" style="width: ([\d.]+)%"', row)}


def counts(html: str, connection_id: str) -> list[int]:
    """published, submitted, queued, blocked, rejected, total."""
    row = re.search(rf'<tr id="bar-{connection_id}">(.*?)</tr>', html, re.S).group(1)
    return [int(n) for n in re.findall(r'<td class="num[^"]*">(?:<strong>)?(\d+)', row)]


def attention(html: str) -> list[tuple[str, str, str]]:
    """(connection, item, status) of the listed rows, in order."""
    table = re.search(r'<table class="grid" id="listings">(.*?)</table>', html, re.S)
    if table is None:
        return []
    return re.findall(
        r"<td>([\w-]+)</td>\s*<td><a [^>]*>([^<]+)</a></td>.*?>(\w+)</span>", table.group(1), re.S
    )


def test_each_connection_gets_a_stacked_bar_of_its_listing_counts_drawn_to_scale(client):
    sign_in(client, "tina")
    answer = client.get("/console/tenants/acme/catalog")
    assert answer.status_code == 200
    html = answer.text
    assert counts(html, "acme-shop") == [6, 0, 2, 0, 0, 8]
    assert counts(html, "acme-amz") == [0, 1, 0, 2, 1, 4]
    # widths are shares of the largest connection's total (8), so bars compare across connections
    assert bar(html, "acme-shop") == {"published": 75.0, "queued": 25.0}
    assert bar(html, "acme-amz") == {"submitted": 12.5, "blocked": 25.0, "rejected": 12.5}
    assert counts(html, "acme-idle") == [0, 0, 0, 0, 0, 0] and bar(html, "acme-idle") == {}
    assert 'id="bar-acme-erp"' not in html  # an ERP is no channel
    assert 'href="/console/tenants/acme/catalog" class="on">Catalog</a>' in html


def test_blocked_and_rejected_listings_need_attention_newest_first_with_their_problem(client):
    sign_in(client, "vic")  # looking needs no more than the viewer role
    html = client.get("/console/tenants/acme/catalog").text
    assert attention(html) == [
        ("acme-amz", "CD-8", "rejected"),
        ("acme-amz", "CD-7", "blocked"),
        ("acme-amz", "CD-9", "blocked"),
    ]
    assert (
        "missing brand" in html and "required attribute missing: brand (no value in item field brand)" in html
    )
    assert "refused item_name" in html
    assert 'href="/console/tenants/acme/catalog/items/CD-7"' in html
    assert 'id="more"' not in html


def test_a_long_attention_list_says_how_many_more_there_are(client, monkeypatch):
    monkeypatch.setattr(page, "LIMIT", 2)
    sign_in(client, "tina")
    html = client.get("/console/tenants/acme/catalog").text
    assert [item for _, item, _ in attention(html)] == ["CD-8", "CD-7"]
    assert re.search(r'id="more">1 more not shown', html)


def test_the_item_page_shows_the_record_and_each_connections_listing(client):
    sign_in(client, "tina")
    answer = client.get("/console/tenants/acme/catalog/items/CD-7")
    assert answer.status_code == 200
    html = answer.text
    record = re.search(r'id="record">(.*?)</table>', html, re.S).group(1)
    fields = dict(re.findall(r'<td class="mono">([\w.]+)</td><td>([^<]*)</td>', record))
    assert fields == {
        "code": "CD-7",
        "title": "Hinge",
        "identifiers.ean": "4006381333931",
        "images.0": "https://img/7.jpg",
    }
    listings = re.search(r'id="item-listings">(.*?)</table>', html, re.S).group(1)
    assert re.findall(r"<td><strong>([\w-]+)</strong></td>.*?>(\w+)</span>", listings, re.S) == [
        ("acme-amz", "blocked"),
        ("acme-shop", "queued"),
    ]
    assert "missing brand" in listings and "catalog.attribute_missing" in listings
    shop = client.get("/console/tenants/acme/catalog/items/SHOP-1").text
    assert "gid://shopify/Product/1" in shop and ">current<" in shop
    assert "has no record of this item" in shop


def test_an_unknown_item_answers_404(client):
    sign_in(client, "tina")
    answer = client.get("/console/tenants/acme/catalog/items/NOPE")
    assert answer.status_code == 404 and "Not found" in answer.text


def test_search_finds_every_listing_of_items_starting_with_the_prefix(client):
    sign_in(client, "tina")
    html = client.get("/console/tenants/acme/catalog", params={"q": "cd-"}).text
    assert sorted(attention(html)) == [
        ("acme-amz", "CD-7", "blocked"),
        ("acme-amz", "CD-8", "rejected"),
        ("acme-amz", "CD-9", "blocked"),
        ("acme-shop", "CD-7", "queued"),
    ]
    exact = client.get("/console/tenants/acme/catalog", params={"q": "SHOP-6"}).text
    assert attention(exact) == [("acme-shop", "SHOP-6", "queued")]
    for nothing in ("%", "D-", "GX"):  # wildcards are literal; a prefix, not a substring; no other tenant
        assert attention(client.get("/console/tenants/acme/catalog", params={"q": nothing}).text) == []


def test_another_tenants_catalog_and_items_answer_404(client):
    sign_in(client, "tina")
    for url in (
        "/console/tenants/globex/catalog",
        "/console/tenants/globex/catalog/items/GX-1",
        "/console/tenants/acme/catalog/items/GX-1",
    ):
        assert (url, client.get(url).status_code) == (url, 404)
    client.cookies.clear()
    sign_in(client, "olga")  # the partner sees every tenant, but not one that does not exist
    assert client.get("/console/tenants/globex/catalog/items/GX-1").status_code == 200
    assert client.get("/console/tenants/nowhere/catalog").status_code == 404


def test_catalog_pages_need_a_session(client):
    for url in ("/console/tenants/acme/catalog", "/console/tenants/acme/catalog/items/CD-7"):
        answer = client.get(url, follow_redirects=False)
        assert (url, answer.status_code, answer.headers.get("location")) == (url, 303, "/console/login")


def test_a_problem_that_is_not_json_is_shown_as_written():
    row = store.ListingRow("acme-amz", "CD-1", "CD-1", store.BLOCKED, "d", detail="brand is missing")
    assert page.listing_view(row)["reason"] == {
        "headline": "",
        "detail": "brand is missing",
        "hint": "",
        "category": "",
    }
