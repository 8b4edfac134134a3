"""Pricing data: the tenant's pricing rules, base prices, effective-dated price entries, and
the price list poll declared by `crossdock apply` (channel prices: `store.channel_prices`).

Handlers read these through `ctx.read` and write them as staged effects, so a change
commits with the message that caused it. Prices are stored as decimal text.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select, update

from crossdock.configuration.pricing import PricingSection
from crossdock.domain.pricing import BasePrice, PriceEntry
from crossdock.records import NewMessage
from crossdock.store import messages as message_store
from crossdock.store.schedules import upsert_schedule
from crossdock.store.tables import (
    base_prices,
    connections,
    price_entries,
    tenant_rules,
    tenants,
)

RULES_NAME = "pricing"  # the tenant_rules document holding the `pricing:` section


def pricing_section(conn: Connection, tenant_id: str) -> PricingSection | None:
    key = (tenant_rules.c.tenant_id == tenant_id, tenant_rules.c.name == RULES_NAME)
    text = conn.execute(select(tenant_rules.c.value).where(*key)).scalar()
    return PricingSection.model_validate_json(text) if text else None


# --------------------------------------------------------------------------- base prices


def _base(r: Any) -> BasePrice:
    return BasePrice(
        r.item_code, Decimal(r.price), r.currency, Decimal(r.cost) if r.cost is not None else None
    )


def read_base(conn: Connection, tenant_id: str, items: Collection[str] | None = None) -> dict[str, BasePrice]:
    """Base prices by item (every item when `items` is None)."""
    t = base_prices
    q = select(t).where(t.c.tenant_id == tenant_id)
    if items is not None:
        q = q.where(t.c.item_code.in_(sorted(items)))
    return {r.item_code: _base(r) for r in conn.execute(q.order_by(t.c.item_code))}


def save_base(
    conn: Connection, tenant_id: str, rows: Iterable[BasePrice], source: str | None, now: float
) -> None:
    t = base_prices
    for b in rows:
        values = {
            "currency": b.currency,
            "price": str(b.price),
            "cost": str(b.cost) if b.cost is not None else None,
            "source": source,
            "updated_at": now,
        }
        key = (t.c.tenant_id == tenant_id, t.c.item_code == b.item)
        if conn.execute(update(t).where(*key).values(**values)).rowcount == 0:
            conn.execute(insert(t).values(tenant_id=tenant_id, item_code=b.item, **values))


def priced_items(conn: Connection, tenant_id: str, after: str | None, limit: int) -> list[str]:
    """Items with a base price or a live entry, by item code, after `after`."""
    found: set[str] = set()
    for t in (base_prices, price_entries):
        q = select(t.c.item_code).where(t.c.tenant_id == tenant_id)
        if t is price_entries:
            q = q.where(t.c.cancelled_at.is_(None))
        if after is not None:
            q = q.where(t.c.item_code > after)
        found.update(conn.execute(q.distinct().order_by(t.c.item_code).limit(limit)).scalars())
    return sorted(found)[:limit]


# --------------------------------------------------------------------------- price entries


def _entry(r: Any) -> PriceEntry:
    return PriceEntry(r.ref, r.item_code, Decimal(r.price), r.starts_at, r.ends_at, r.connection_id)


def read_entries(conn: Connection, tenant_id: str, item: str) -> list[PriceEntry]:
    """The item's entries that are not cancelled (past ones too: they are simply not in force)."""
    t = price_entries
    rows = conn.execute(
        select(t).where(t.c.tenant_id == tenant_id, t.c.item_code == item, t.c.cancelled_at.is_(None))
    )
    return [_entry(r) for r in rows]


def live_entries(conn: Connection, tenant_id: str, refs: Collection[str]) -> list[PriceEntry]:
    """The entries with these refs that are not cancelled."""
    t = price_entries
    rows = conn.execute(
        select(t).where(t.c.tenant_id == tenant_id, t.c.ref.in_(sorted(refs)), t.c.cancelled_at.is_(None))
    )
    return [_entry(r) for r in rows]


def save_entries(
    conn: Connection, tenant_id: str, entries: Iterable[PriceEntry], actor: str, now: float
) -> None:
    """Add each entry, or replace the one with the same ref (a cancelled one comes back)."""
    t = price_entries
    for e in entries:
        values = {
            "item_code": e.item,
            "connection_id": e.connection_id,
            "price": str(e.price),
            "starts_at": e.starts_at,
            "ends_at": e.ends_at,
            "cancelled_at": None,
            "cancelled_by": None,
        }
        key = (t.c.tenant_id == tenant_id, t.c.ref == e.ref)
        if conn.execute(update(t).where(*key).values(**values)).rowcount == 0:
            conn.execute(
                insert(t).values(tenant_id=tenant_id, ref=e.ref, created_at=now, created_by=actor, **values)
            )


def cancel_entry(conn: Connection, tenant_id: str, ref: str, actor: str, now: float) -> PriceEntry | None:
    """Cancel an entry (it stops being in force at once); None when there is no live one."""
    t = price_entries
    key = (t.c.tenant_id == tenant_id, t.c.ref == ref, t.c.cancelled_at.is_(None))
    row = conn.execute(select(t).where(*key)).first()
    if row is None:
        return None
    conn.execute(update(t).where(*key).values(cancelled_at=now, cancelled_by=actor))
    return _entry(row)


def list_entries(conn: Connection, tenant_id: str, item: str | None = None, limit: int = 500) -> list[dict]:
    t = price_entries
    q = select(t).where(t.c.tenant_id == tenant_id)
    if item is not None:
        q = q.where(t.c.item_code == item)
    rows = conn.execute(q.order_by(t.c.starts_at.desc(), t.c.ref).limit(limit))
    return [
        {
            "ref": r.ref,
            "item": r.item_code,
            "connection_id": r.connection_id,
            "price": r.price,
            "starts_at": r.starts_at,
            "ends_at": r.ends_at,
            "created_at": r.created_at,
            "created_by": r.created_by,
            "cancelled_at": r.cancelled_at,
            "cancelled_by": r.cancelled_by,
        }
        for r in rows
    ]


# --------------------------------------------------------------------------- the price list poll

POLL_KIND = "pricing.poll"  # flows.pricing.kinds.POLL
RECOMPUTE_KIND = "pricing.recompute"  # flows.pricing.kinds.RECOMPUTE


def ensure_price_polling(conn: Connection, tenant: Any, now: float, changed: bool = False) -> None:
    """At `crossdock apply`: a poll schedule for the tenant's price list source, and (when the
    pricing rules `changed`) a recompute of every priced item."""
    section = getattr(tenant, "pricing", None)
    if changed and section is not None:
        key = f"pricing-rules:{now}"
        message_store.insert(conn, [NewMessage(tenant.id, RECOMPUTE_KIND, key, {}, correlation_id=key)], now)
    source = section.source if section is not None else None
    if source is None:
        return
    enabled = any(c.id == source.connection and c.enabled for c in tenant.connections)
    payload = {"connection_id": source.connection}
    name = f"prices:{source.connection}"
    upsert_schedule(conn, tenant.id, name, POLL_KIND, source.poll_seconds, payload, now=now, enabled=enabled)


def tenant_connections(conn: Connection, tenant_id: str) -> set[str] | None:
    """The tenant's connection ids; None for an unknown tenant."""
    if conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).scalar() is None:
        return None
    return set(conn.execute(select(connections.c.id).where(connections.c.tenant_id == tenant_id)).scalars())
