"""Catalog data: the item master and each channel connection's listing state.

Listing rows change by compare-and-set on their `digest` (and status where it matters): a
handler read a row, built a listing and staged a write; when another handler changed the
row meanwhile, the write raises `StaleListing` (transient), so the message runs again on
fresh data instead of overwriting a newer listing with an older one."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, func, select, update

from crossdock.configuration.catalog import CatalogSection
from crossdock.errors import Owner, PermanentError, TransientError
from crossdock.records import ExceptionStatus, NewMessage
from crossdock.store import messages as message_store
from crossdock.store.db import insert_into
from crossdock.store.schedules import upsert_schedule
from crossdock.store.tables import (
    catalog_items,
    catalog_listings,
    connections,
    exceptions,
    schedules,
    tenant_rules,
)

RULES_NAME = "catalog"  # the tenant_rules document holding the `catalog:` section
SYNC_SCHEDULE = "catalog-sync"
SYNC_KIND = "catalog.sync"

QUEUED, SUBMITTED, PUBLISHED, BLOCKED, REJECTED = "queued", "submitted", "published", "blocked", "rejected"
_CHUNK = 500  # item codes per IN (...) query


class StaleListing(TransientError):
    """The listing row changed since it was read; the message runs again on fresh data."""


# --------------------------------------------------------------------------- settings


def catalog_section(conn: Connection, tenant_id: str) -> CatalogSection | None:
    """The tenant's `catalog:` section (None when it has none)."""
    key = (tenant_rules.c.tenant_id == tenant_id, tenant_rules.c.name == RULES_NAME)
    text = conn.execute(select(tenant_rules.c.value).where(*key)).scalar()
    if text is None:
        return None
    try:
        return CatalogSection.model_validate_json(text)
    except ValidationError as exc:
        raise PermanentError(
            "config.catalog_invalid",
            f"the stored catalog section of tenant {tenant_id} is invalid: {exc.error_count()} error(s)",
            "Fix the tenant's catalog: section and apply the configuration again.",
            owner=Owner.PARTNER,
        ) from exc


def connection_kinds(conn: Connection, tenant_id: str) -> dict[str, str]:
    c = connections.c
    return dict(conn.execute(select(c.id, c.kind).where(c.tenant_id == tenant_id)).all())


def ensure_catalog_schedule(conn: Connection, tenant: Any, now: float) -> None:
    """The tenant's item master pull (declared by `crossdock apply`): on when the catalog has
    a source and an interval, off otherwise."""
    section = getattr(tenant, "catalog", None)
    interval = section.sync_interval_seconds if section is not None else None
    if interval is None or section.source is None:
        c = schedules.c
        conn.execute(
            update(schedules).where(c.tenant_id == tenant.id, c.name == SYNC_SCHEDULE).values(enabled=False)
        )
        return
    payload = {"connection_id": section.source}
    upsert_schedule(conn, tenant.id, SYNC_SCHEDULE, SYNC_KIND, interval, payload, now=now)


def request_sync(conn: Connection, tenant_id: str, connection_id: str | None, key: str, now: float) -> int:
    """Queue a pull of the tenant's item master (`crossdock catalog sync`); answers the message id.
    LookupError when the tenant has no catalog source and none is named."""
    section = catalog_section(conn, tenant_id)
    source = connection_id or (section.source if section else None)
    if not source:
        raise LookupError(f"tenant {tenant_id} has no catalog source; name one with --connection")
    if source not in connection_kinds(conn, tenant_id):
        raise LookupError(f"tenant {tenant_id} has no connection {source!r}")
    new = NewMessage(
        tenant_id,
        SYNC_KIND,
        key,
        {"connection_id": source},
        ordering_key=f"sync/{source}",
        correlation_id=key,
        connection_id=source,
    )
    return message_store.insert(conn, [new], now)[0].message_id


# --------------------------------------------------------------------------- the item master


@dataclass(frozen=True)
class ItemRow:
    item_code: str
    record: dict[str, Any]
    digest: str
    source: str | None
    updated_at: float


def read_items(conn: Connection, tenant_id: str, codes: Iterable[str]) -> dict[str, ItemRow]:
    c = catalog_items.c
    found: dict[str, ItemRow] = {}
    wanted = list(dict.fromkeys(codes))
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(
            select(catalog_items).where(
                c.tenant_id == tenant_id, c.item_code.in_(wanted[start : start + _CHUNK])
            )
        )
        for r in rows:
            found[r.item_code] = ItemRow(r.item_code, json.loads(r.record), r.digest, r.source, r.updated_at)
    return found


def item_digests(conn: Connection, tenant_id: str, codes: Iterable[str]) -> dict[str, str]:
    c = catalog_items.c
    found: dict[str, str] = {}
    wanted = list(dict.fromkeys(codes))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(
            conn.execute(
                select(c.item_code, c.digest).where(c.tenant_id == tenant_id, c.item_code.in_(chunk))
            ).all()
        )
    return found


def save_items(
    conn: Connection, tenant_id: str, records: list[tuple[str, str, str]], source: str | None, now: float
) -> None:
    """Insert or replace item master records: (code, record as JSON text, digest)."""
    if not records:
        return
    rows = [
        {
            "tenant_id": tenant_id,
            "item_code": code,
            "record": text,
            "digest": dg,
            "source": source,
            "updated_at": now,
        }
        for code, text, dg in records
    ]
    stmt = insert_into(conn, catalog_items)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "item_code"],
            set_={
                "record": stmt.excluded.record,
                "digest": stmt.excluded.digest,
                "source": stmt.excluded.source,
                "updated_at": stmt.excluded.updated_at,
            },
        ),
        rows,
    )


# --------------------------------------------------------------------------- listings


@dataclass(frozen=True)
class ListingRow:
    connection_id: str
    item_code: str
    sku: str | None
    status: str
    digest: str
    published_digest: str | None = None
    document: str | None = None
    feed_id: str | None = None
    feed_message: int | None = None
    channel_ref: str | None = None
    detail: str | None = None
    queued_at: float | None = None
    published_at: float | None = None
    updated_at: float = 0.0

    @property
    def detail_plain(self) -> dict[str, Any]:
        """Why the listing is blocked or was refused (written as JSON; text that is not, as
        written, so a damaged row shows instead of failing the page or the API)."""
        if not self.detail:
            return {}
        try:
            found = json.loads(self.detail)
        except ValueError:
            return {"detail": self.detail}
        return found if isinstance(found, dict) else {"detail": self.detail}


def _row(r: Any) -> ListingRow:
    m = dict(r._mapping)
    m.pop("tenant_id", None)
    return ListingRow(**m)


def read_listings(
    conn: Connection, tenant_id: str, codes: Iterable[str], connection_id: str | None = None
) -> dict[tuple[str, str], ListingRow]:
    """(connection id, item code) → listing row, for these items (on one connection, or all)."""
    c = catalog_listings.c
    found: dict[tuple[str, str], ListingRow] = {}
    wanted = list(dict.fromkeys(codes))
    for start in range(0, len(wanted), _CHUNK):
        query = select(catalog_listings).where(
            c.tenant_id == tenant_id, c.item_code.in_(wanted[start : start + _CHUNK])
        )
        if connection_id is not None:
            query = query.where(c.connection_id == connection_id)
        for r in conn.execute(query):
            found[(r.connection_id, r.item_code)] = _row(r)
    return found


def holder_of(conn: Connection, tenant_id: str, connection_id: str, channel_ref: str, other_than: str) -> str | None:
    """The item, other than `other_than`, whose listing on the connection is the channel's
    `channel_ref` (None: no other item)."""
    c = catalog_listings.c
    return conn.execute(
        select(c.item_code).where(
            c.tenant_id == tenant_id,
            c.connection_id == connection_id,
            c.channel_ref == channel_ref,
            c.item_code != other_than,
        ).limit(1)
    ).scalar()


def put_listing(
    conn: Connection,
    tenant_id: str,
    connection_id: str,
    item_code: str,
    *,
    expect: str | None,
    now: float,
    **values: Any,
) -> None:
    """Write a listing row; `expect` is the digest read before (None: there was no row).
    Raises StaleListing when the row is no longer what was read."""
    c = catalog_listings.c
    values["updated_at"] = now
    if expect is None:
        row = {"tenant_id": tenant_id, "connection_id": connection_id, "item_code": item_code, **values}
        stmt = insert_into(conn, catalog_listings).values(**row).on_conflict_do_nothing()
        if conn.execute(stmt.returning(c.item_code)).first() is None:
            raise StaleListing(f"listing of {item_code} on {connection_id} was written meanwhile")
        return
    moved = conn.execute(
        update(catalog_listings)
        .where(
            c.tenant_id == tenant_id,
            c.connection_id == connection_id,
            c.item_code == item_code,
            c.digest == expect,
        )
        .values(**values)
        .returning(c.item_code)
    ).first()
    if moved is None:
        raise StaleListing(f"listing of {item_code} on {connection_id} changed meanwhile")


def queued(conn: Connection, tenant_id: str, connection_id: str, limit: int) -> list[ListingRow]:
    """Listings waiting for the connection's next feed, oldest first."""
    c = catalog_listings.c
    rows = conn.execute(
        select(catalog_listings)
        .where(c.tenant_id == tenant_id, c.connection_id == connection_id, c.status == QUEUED)
        .order_by(c.queued_at, c.item_code)
        .limit(limit)
    )
    return [_row(r) for r in rows]


def count_queued(conn: Connection, tenant_id: str, connection_id: str) -> int:
    c = catalog_listings.c
    where = (c.tenant_id == tenant_id, c.connection_id == connection_id, c.status == QUEUED)
    return int(conn.execute(select(func.count()).select_from(catalog_listings).where(*where)).scalar() or 0)


def mark_submitted(
    conn: Connection,
    tenant_id: str,
    connection_id: str,
    feed_id: str,
    entries: list[tuple[str, str, int]],
    now: float,
) -> None:
    """(item, digest, message number) of each listing sent in `feed_id`; a listing queued again
    with other content meanwhile stays queued (its newer version goes in the next feed)."""
    c = catalog_listings.c
    for item, dg, number in entries:
        conn.execute(
            update(catalog_listings)
            .where(
                c.tenant_id == tenant_id,
                c.connection_id == connection_id,
                c.item_code == item,
                c.digest == dg,
                c.status == QUEUED,
            )
            .values(status=SUBMITTED, feed_id=feed_id, feed_message=number, updated_at=now)
        )


def in_feed(conn: Connection, tenant_id: str, connection_id: str, feed_id: str) -> list[ListingRow]:
    c = catalog_listings.c
    rows = conn.execute(
        select(catalog_listings)
        .where(
            c.tenant_id == tenant_id,
            c.connection_id == connection_id,
            c.feed_id == feed_id,
            c.status == SUBMITTED,
        )
        .order_by(c.feed_message)
    )
    return [_row(r) for r in rows]


def settle_feed(
    conn: Connection,
    tenant_id: str,
    connection_id: str,
    feed_id: str,
    accepted: list[tuple[str, str]],
    rejected: list[tuple[str, str, dict[str, Any]]],
    now: float,
) -> None:
    """Outcome of a processed feed: (item, digest) accepted; (item, digest, why) refused. Only
    rows still submitted in this feed change."""
    c = catalog_listings.c

    def where(item: str, dg: str) -> tuple:
        return (
            c.tenant_id == tenant_id,
            c.connection_id == connection_id,
            c.item_code == item,
            c.digest == dg,
            c.feed_id == feed_id,
            c.status == SUBMITTED,
        )

    for item, dg in accepted:
        conn.execute(
            update(catalog_listings)
            .where(*where(item, dg))
            .values(
                status=PUBLISHED,
                published_digest=dg,
                published_at=now,
                document=None,
                detail=None,
                updated_at=now,
            )
        )
    for item, dg, why in rejected:
        conn.execute(
            update(catalog_listings)
            .where(*where(item, dg))
            .values(status=REJECTED, document=None, detail=json.dumps(why), updated_at=now)
        )


def was_retried(conn: Connection, tenant_id: str, message_id: int) -> bool:
    """Whether an operator sent this message back after it was parked (exception desk retry)."""
    c = exceptions.c
    where = (c.tenant_id == tenant_id, c.message_id == message_id, c.status == ExceptionStatus.RETRIED.value)
    return conn.execute(select(c.id).where(*where).limit(1)).first() is not None


# --------------------------------------------------------------------------- read model


def item_status(conn: Connection, tenant_id: str, item_code: str) -> dict[str, Any] | None:
    """The read model behind `GET /api/v1/tenants/{t}/catalog/items/{item}`: the record and
    each channel connection's listing of it. None when neither exists."""
    items = read_items(conn, tenant_id, [item_code])
    listings = read_listings(conn, tenant_id, [item_code])
    if not items and not listings:
        return None
    item = items.get(item_code)
    return {
        "item": item_code,
        "record": item.record if item else None,
        "source": item.source if item else None,
        "updated_at": item.updated_at if item else None,
        "channels": [
            {
                "connection_id": row.connection_id,
                "sku": row.sku,
                "status": row.status,
                "current": row.published_digest is not None and row.published_digest == row.digest,
                "published_at": row.published_at,
                "queued_at": row.queued_at,
                "feed_id": row.feed_id,
                "channel_ref": row.channel_ref,
                "problem": row.detail_plain or None,
                "updated_at": row.updated_at,
            }
            for _key, row in sorted(listings.items())
        ],
    }


# --------------------------------------------------------------------------- console read models

LISTING_STATUSES = (PUBLISHED, SUBMITTED, QUEUED, BLOCKED, REJECTED)  # done → in flight → stuck
NEEDS_ATTENTION = (BLOCKED, REJECTED)  # a person has to act before these listings move


def listing_counts(conn: Connection, tenant_id: str) -> dict[str, dict[str, int]]:
    """connection id → status → number of listings. One GROUP BY whose columns lead
    `ix_catalog_listings_queue` (tenant, connection, status), so it is answered from the index."""
    c = catalog_listings.c
    query = (
        select(c.connection_id, c.status, func.count())
        .where(c.tenant_id == tenant_id)
        .group_by(c.connection_id, c.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for connection_id, status, n in conn.execute(query):
        counts.setdefault(connection_id, {})[status] = int(n)
    return counts


def _listing_filter(
    tenant_id: str, connection_ids: list[str] | None, statuses: list[str] | None, prefix: str
) -> list[Any]:
    c = catalog_listings.c
    where: list[Any] = [c.tenant_id == tenant_id]
    if connection_ids is not None:
        where.append(c.connection_id.in_(connection_ids))
    if statuses is not None:
        where.append(c.status.in_(statuses))
    if prefix:
        # Case-insensitive on both databases (SQLite's LIKE ignores ASCII case, PostgreSQL's
        # does not), so a search finds the same items wherever the hub runs.
        where.append(c.item_code.istartswith(prefix, autoescape=True))
    return where


def find_listings(
    conn: Connection,
    tenant_id: str,
    *,
    statuses: Iterable[str] | None,
    connection_ids: Iterable[str] | None = None,
    prefix: str = "",
    limit: int = 200,
) -> tuple[list[ListingRow], int]:
    """Listings in `statuses` (None: any) of items whose code starts with `prefix`, the most
    recently changed first, at most `limit`; and how many match in all. Naming the tenant's
    connections (`listing_counts` knows them) lets PostgreSQL seek the few blocked listings in
    `ix_catalog_listings_queue` (tenant, connection, status) instead of reading all of them."""
    c = catalog_listings.c
    where = _listing_filter(
        tenant_id,
        None if connection_ids is None else list(connection_ids),
        None if statuses is None else list(statuses),
        prefix,
    )
    rows = conn.execute(
        select(catalog_listings)
        .where(*where)
        .order_by(c.updated_at.desc(), c.connection_id, c.item_code)
        .limit(limit)
    )
    found = [_row(r) for r in rows]
    if len(found) < limit:
        return found, len(found)
    total = conn.execute(select(func.count()).select_from(catalog_listings).where(*where)).scalar()
    return found, int(total or 0)
