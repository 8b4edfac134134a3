"""Each channel connection's price per item: `computed` (with its explanation), `published`
(handed to the channel) and `confirmed` (the channel took it).

Publishing moves a row through `publish_state`: queued (handed to publishing, waiting for the
connection's next batch) → sent (a feed is processing) → idle (confirmed) or failed. Handlers
read these through `ctx.read` and write them as staged effects. Prices are decimal text.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from crossdock.domain.pricing import ChannelPrice
from crossdock.store.tables import channel_prices, exceptions


class PublishState:
    IDLE = "idle"  # the channel holds what was published (or nothing was published yet)
    QUEUED = "queued"  # waits for the connection's next publication
    SENT = "sent"  # in a feed the channel is still processing
    FAILED = "failed"  # the channel refused it: an exception of its own says why


# The explanation's key for {entry ref: the price published when that entry took over}.
BEFORE_ENTRIES = "before_entries"


@dataclass(frozen=True, slots=True)
class ChannelPriceRecord:
    tenant_id: str
    connection_id: str
    item: str
    currency: str
    computed: Decimal
    computed_at: float
    explanation: dict  # ChannelPrice.to_plain()
    published: Decimal | None = None
    published_at: float | None = None
    confirmed: Decimal | None = None
    confirmed_at: float | None = None
    publish_state: str = PublishState.IDLE

    @property
    def price(self) -> ChannelPrice:
        return ChannelPrice.from_plain(self.explanation)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "connection_id": self.connection_id,
            "item": self.item,
            "currency": self.currency,
            "computed": str(self.computed),
            "computed_at": self.computed_at,
            "published": _text(self.published),
            "published_at": self.published_at,
            "confirmed": _text(self.confirmed),
            "confirmed_at": self.confirmed_at,
            "publish_state": self.publish_state,
            "explanation": self.explanation["explanation"],
            "entry": self.explanation.get("entry"),
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _record(r: Any) -> ChannelPriceRecord:
    return ChannelPriceRecord(
        r.tenant_id, r.connection_id, r.item_code, r.currency, Decimal(r.computed), r.computed_at,
        orjson.loads(r.explanation), _dec(r.published), r.published_at, _dec(r.confirmed), r.confirmed_at,
        r.publish_state,
    )  # fmt: skip


def channel_rows(conn: Connection, tenant_id: str, item: str) -> dict[str, ChannelPriceRecord]:
    """Every channel connection's row for `item`, by connection id."""
    t = channel_prices
    return {
        r.connection_id: _record(r)
        for r in conn.execute(select(t).where(t.c.tenant_id == tenant_id, t.c.item_code == item))
    }


def get_channel_price(
    conn: Connection, tenant_id: str, connection_id: str, item: str
) -> ChannelPriceRecord | None:
    t = channel_prices
    key = (t.c.tenant_id == tenant_id, t.c.connection_id == connection_id, t.c.item_code == item)
    r = conn.execute(select(t).where(*key)).first()
    return _record(r) if r is not None else None


def list_channel_prices(
    conn: Connection, tenant_id: str, *, item: str | None = None, connection_id: str | None = None,
    limit: int = 200, after: tuple[str, str] | None = None,
) -> list[ChannelPriceRecord]:  # fmt: skip
    """By (item, connection), from after `after`."""
    t = channel_prices
    q = select(t).where(t.c.tenant_id == tenant_id)
    if item is not None:
        q = q.where(t.c.item_code == item)
    if connection_id is not None:
        q = q.where(t.c.connection_id == connection_id)
    if after is not None:
        q = q.where(
            (t.c.item_code > after[0]) | ((t.c.item_code == after[0]) & (t.c.connection_id > after[1]))
        )
    rows = conn.execute(q.order_by(t.c.item_code, t.c.connection_id).limit(limit))
    return [_record(r) for r in rows]


def save_computed(
    conn: Connection, price: ChannelPrice, tenant_id: str, now: float, before_entries: dict | None = None
) -> None:
    """Store the computed price and its explanation (the row is created when new), with the
    price published before each entry in force took over (`BEFORE_ENTRIES`)."""
    t = channel_prices
    key = (t.c.tenant_id == tenant_id, t.c.connection_id == price.connection_id, t.c.item_code == price.item)
    explanation = price.to_plain()
    if before_entries:
        explanation[BEFORE_ENTRIES] = before_entries
    values = {
        "currency": price.currency,
        "computed": str(price.price),
        "computed_at": now,
        "explanation": orjson.dumps(explanation).decode(),
    }
    if conn.execute(update(t).where(*key).values(**values)).rowcount == 0:
        conn.execute(
            insert(t).values(
                tenant_id=tenant_id, connection_id=price.connection_id, item_code=price.item,
                publish_state=PublishState.IDLE, **values,
            )
        )  # fmt: skip


def queue_publication(
    conn: Connection, tenant_id: str, connection_id: str, item: str, price: Decimal, now: float
) -> None:
    """Hand `price` to publishing: the connection's next batch takes it."""
    t = channel_prices
    key = (t.c.tenant_id == tenant_id, t.c.connection_id == connection_id, t.c.item_code == item)
    values = {"published": str(price), "published_at": now, "publish_state": PublishState.QUEUED}
    conn.execute(update(t).where(*key).values(**values))


@dataclass(frozen=True, slots=True)
class Queued:
    item: str
    price: Decimal
    currency: str


def queued(conn: Connection, tenant_id: str, connection_id: str, limit: int) -> list[Queued]:
    """Prices waiting for the connection's next publication, by item."""
    t = channel_prices
    rows = conn.execute(
        select(t.c.item_code, t.c.published, t.c.currency)
        .where(t.c.tenant_id == tenant_id, t.c.connection_id == connection_id)
        .where(t.c.publish_state == PublishState.QUEUED, t.c.published.is_not(None))
        .order_by(t.c.item_code)
        .limit(limit)
    )
    return [Queued(r.item_code, Decimal(r.published), r.currency) for r in rows]


def mark(
    conn: Connection, tenant_id: str, connection_id: str, item: str, price: Decimal, state: str, now: float
) -> None:
    """Move the row to `state` if it still publishes `price`; IDLE also records `price` as
    confirmed. A newer price stays as it is, so a late answer about an older one (two feeds
    processed out of order) never turns `confirmed` back."""
    t = channel_prices
    key = (t.c.tenant_id == tenant_id, t.c.connection_id == connection_id, t.c.item_code == item)
    values: dict[str, Any] = {"publish_state": state}
    if state == PublishState.IDLE:
        values |= {"confirmed": str(price), "confirmed_at": now}
    conn.execute(update(t).where(*key, t.c.published == str(price)).values(**values))


def _confirmed_since(tenant_id: str, connection_id: str, items: list[str], since: float) -> tuple:
    t = channel_prices.c
    return (
        t.tenant_id == tenant_id,
        t.connection_id == connection_id,
        t.item_code.in_(items),
        t.publish_state == PublishState.IDLE,
        t.confirmed_at >= since,
    )


def overtaken(
    conn: Connection, tenant_id: str, connection_id: str, fed: dict[str, Decimal], submitted_at: float
) -> list[str]:
    """Items of a feed submitted at `submitted_at` (item → its price in the feed) that the
    channel took another price for at once since (`patchListingsItem`, an operator's retry):
    the feed, processed after that, put its older price back on the channel."""
    t = channel_prices.c
    items, found = sorted(fed), []
    for start in range(0, len(items), 500):
        where = _confirmed_since(tenant_id, connection_id, items[start : start + 500], submitted_at)
        for r in conn.execute(select(t.item_code, t.confirmed).where(*where)):
            if r.confirmed is not None and Decimal(r.confirmed) != fed[r.item_code]:
                found.append(r.item_code)
    return found


def publish_again(
    conn: Connection, tenant_id: str, connection_id: str, items: list[str], submitted_at: float
) -> None:
    """Queue the published price of these `overtaken` items again (unless they moved on since)."""
    for start in range(0, len(items), 500):
        where = _confirmed_since(tenant_id, connection_id, items[start : start + 500], submitted_at)
        conn.execute(update(channel_prices).where(*where).values(publish_state=PublishState.QUEUED))


def was_parked(conn: Connection, tenant_id: str, message_id: int) -> bool:
    """Has this message been parked before (so it runs now because an operator retried it)?"""
    t = exceptions
    found = conn.execute(
        select(t.c.id).where(t.c.tenant_id == tenant_id, t.c.message_id == message_id).limit(1)
    ).first()
    return found is not None
