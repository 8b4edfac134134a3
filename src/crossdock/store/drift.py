"""Reconciliation: what a channel should show per item (the value availability last handed
to publishing), what it was seen showing, and one drift report per run (how many items,
how far off, since when). Written as staged effects of `availability.reconcile` steps;
read by the API (`GET /api/v1/tenants/{t}/availability/drift`) and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, and_, exists, func, literal_column, select, update

from crossdock.store.db import insert_into
from crossdock.store.publishing import RECONCILE_KIND, Listing, _listing
from crossdock.store.schedules import upsert_schedule
from crossdock.store.tables import channel_availability, channel_listings, drift_reports, publish_queue

READABLE_KINDS = frozenset({"shopify", "amazon", "walmart"})  # connection kinds reconciliation can read
SAMPLE_SIZE = 20


@dataclass(frozen=True, slots=True)
class Expected:
    """One item of a reconciliation page: what the channel should show, and whether a value
    is still on its way there (queued, or in a feed being processed): then it is not judged."""

    item: str
    expected: Decimal
    listing: Listing | None
    busy: bool


def expected_page(
    conn: Connection, tenant_id: str, connection_id: str, after: str | None, limit: int
) -> list[Expected]:
    stmt = _expected(tenant_id, connection_id).order_by(channel_availability.c.item_code).limit(limit)
    if after is not None:
        stmt = stmt.where(channel_availability.c.item_code > after)
    return [_expected_row(r) for r in conn.execute(stmt)]


def still_expected(conn: Connection, tenant_id: str, connection_id: str, page: list[Expected]) -> set[str]:
    """The items of `page` whose expected figure is what it was and that are still not busy.
    A reconciliation reads the page, then the channel over the network; an item published
    meanwhile (a sell-out sent while the channel was read) must not be "corrected" back to
    the figure read before it, nor its observation recorded as confirmed."""
    was = {e.item: e.expected for e in page}
    items, same = sorted(was), set()
    for start in range(0, len(items), 500):
        stmt = _expected(tenant_id, connection_id).where(channel_availability.c.item_code.in_(items[start : start + 500]))
        same |= {e.item for e in map(_expected_row, conn.execute(stmt)) if not e.busy and e.expected == was[e.item]}
    return same


def _expected(tenant_id: str, connection_id: str):
    a, lst, q = channel_availability.c, channel_listings.c, publish_queue.c
    queued = (
        select(literal_column("1"))
        .where(q.tenant_id == a.tenant_id, q.connection_id == a.connection_id, q.item_code == a.item_code)
        .exists()
    )
    return (
        select(a.item_code, a.published, queued.label("queued"), channel_listings)
        .select_from(
            channel_availability.outerjoin(
                channel_listings,
                and_(
                    lst.tenant_id == a.tenant_id,
                    lst.connection_id == a.connection_id,
                    lst.item_code == a.item_code,
                ),
            )
        )
        .where(a.tenant_id == tenant_id, a.connection_id == connection_id, a.published.is_not(None))
    )


def _expected_row(r: Any) -> Expected:
    listing = _listing(r) if r.tenant_id is not None else None
    busy = bool(r.queued) or (listing is not None and listing.in_flight)
    return Expected(r[0], Decimal(r.published), listing, busy)


@dataclass(frozen=True, slots=True)
class Observation:
    item: str
    observed: Decimal
    listing_ref: str | None
    drifted: bool
    drift_since: float | None  # kept from an earlier run while the item stays off


def record_observations(
    conn: Connection, tenant_id: str, connection_id: str, seen: list[Observation], now: float
) -> None:
    """What the channel shows becomes the confirmed figure (what a compare-and-set compares with)."""
    if not seen:
        return
    stmt = insert_into(conn, channel_listings)
    columns = ["observed", "observed_at", "confirmed", "confirmed_at", "drift_since", "remote_ref"]
    set_ = {k: stmt.excluded[k] for k in columns}
    set_["remote_ref"] = func.coalesce(stmt.excluded.remote_ref, channel_listings.c.remote_ref)
    stmt = stmt.on_conflict_do_update(index_elements=["tenant_id", "connection_id", "item_code"], set_=set_)
    rows = [
        {
            "tenant_id": tenant_id,
            "connection_id": connection_id,
            "item_code": o.item,
            "observed": str(o.observed),
            "observed_at": now,
            "confirmed": str(o.observed),
            "confirmed_at": now,
            "drift_since": o.drift_since if o.drifted else None,
            "remote_ref": o.listing_ref,
        }
        for o in seen
    ]
    conn.execute(stmt, rows)


# --------------------------------------------------------------------------- drift reports


@dataclass
class PageStats:
    """What one reconciliation step found; added to its run's report."""

    checked: int = 0
    drifted: int = 0
    missing: int = 0
    total: Decimal = Decimal(0)
    largest: Decimal = Decimal(0)
    oldest_since: float | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)

    def add(self, item: str, expected: Decimal, observed: Decimal, since: float) -> None:
        diff = abs(observed - expected)
        self.drifted += 1
        self.total += diff
        self.largest = max(self.largest, diff)
        self.oldest_since = since if self.oldest_since is None else min(self.oldest_since, since)
        self.sample.append({"item": item, "expected": str(expected), "observed": str(observed),
                            "difference": str(observed - expected), "since": since})  # fmt: skip


@dataclass(frozen=True)
class DriftReport:
    run_id: str
    connection_id: str
    state: str
    started_at: float
    finished_at: float | None
    items_checked: int
    items_drifted: int
    items_missing: int
    total_abs_diff: Decimal
    max_abs_diff: Decimal
    oldest_drift_since: float | None
    sample: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "connection_id": self.connection_id,
            "state": self.state,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "items_checked": self.items_checked,
            "items_drifted": self.items_drifted,
            "items_missing": self.items_missing,
            "total_abs_diff": str(self.total_abs_diff),
            "max_abs_diff": str(self.max_abs_diff),
            "oldest_drift_since": self.oldest_drift_since,
            "sample": self.sample,
        }


def start_report(conn: Connection, tenant_id: str, run_id: str, connection_id: str, now: float) -> None:
    stmt = insert_into(conn, drift_reports).values(
        tenant_id=tenant_id, run_id=run_id, connection_id=connection_id, state="running", started_at=now,
        items_checked=0, items_drifted=0, items_missing=0, total_abs_diff="0", max_abs_diff="0", sample="[]",
    )  # fmt: skip
    conn.execute(stmt.on_conflict_do_nothing())


def add_to_report(conn: Connection, tenant_id: str, run_id: str, page: PageStats, cursor: str | None, *,
                  done: bool, now: float) -> None:  # fmt: skip
    d = drift_reports.c
    key = (d.tenant_id == tenant_id, d.run_id == run_id)
    r = conn.execute(select(drift_reports).where(*key).with_for_update()).first()
    if r is None:
        return
    sample = orjson.loads(r.sample) + page.sample
    sample.sort(key=lambda s: (-abs(Decimal(s["difference"])), s["item"]))
    oldest = [t for t in (r.oldest_drift_since, page.oldest_since) if t is not None]
    values: dict[str, Any] = {
        "items_checked": r.items_checked + page.checked,
        "items_drifted": r.items_drifted + page.drifted,
        "items_missing": r.items_missing + page.missing,
        "total_abs_diff": str(Decimal(r.total_abs_diff) + page.total),
        "max_abs_diff": str(max(Decimal(r.max_abs_diff), page.largest)),
        "oldest_drift_since": min(oldest) if oldest else None,
        "sample": orjson.dumps(sample[:SAMPLE_SIZE]).decode(),
        "cursor": cursor,
    }
    if done:
        values.update(state="done", finished_at=now)
    conn.execute(update(drift_reports).where(*key).values(**values))


def _report(r: Any) -> DriftReport:
    return DriftReport(
        r.run_id, r.connection_id, r.state, r.started_at, r.finished_at, r.items_checked, r.items_drifted,
        r.items_missing, Decimal(r.total_abs_diff), Decimal(r.max_abs_diff), r.oldest_drift_since,
        orjson.loads(r.sample),
    )  # fmt: skip


def list_reports(
    conn: Connection, tenant_id: str, connection_id: str | None = None, limit: int = 50
) -> list[DriftReport]:
    """The latest reports first."""
    d = drift_reports.c
    q = select(drift_reports).where(d.tenant_id == tenant_id)
    if connection_id is not None:
        q = q.where(d.connection_id == connection_id)
    q = q.order_by(d.started_at.desc(), d.run_id.desc()).limit(limit)
    return [_report(r) for r in conn.execute(q)]


def get_report(conn: Connection, tenant_id: str, run_id: str) -> DriftReport | None:
    d = drift_reports.c
    r = conn.execute(select(drift_reports).where(d.tenant_id == tenant_id, d.run_id == run_id)).first()
    return _report(r) if r is not None else None


def running(conn: Connection, tenant_id: str, connection_id: str) -> bool:
    d = drift_reports.c
    q = select(literal_column("1")).where(
        d.tenant_id == tenant_id, d.connection_id == connection_id, d.state == "running"
    )
    return bool(conn.execute(select(exists(q))).scalar())


# --------------------------------------------------------------------------- schedules


def ensure_reconciliation(conn: Connection, tenant: Any, now: float) -> None:
    """A reconciliation schedule per channel of the tenant's availability section whose
    connection can be read (declared by `crossdock apply`); `reconcile_every_seconds: 0`
    switches it off."""
    section = getattr(tenant, "availability", None)
    if section is None:
        return
    kinds = {c.id: (c.kind, c.enabled) for c in tenant.connections}
    for connection_id, channel in section.channels.items():
        kind, enabled = kinds.get(connection_id, (None, False))
        if kind not in READABLE_KINDS:
            continue
        every = channel.publishing.reconcile_every_seconds
        upsert_schedule(
            conn, tenant.id, f"reconcile:{connection_id}", RECONCILE_KIND, every or 86_400.0,
            {"connection_id": connection_id}, now=now, first_run_at=now + (every or 86_400.0),
            enabled=enabled and every > 0,
        )  # fmt: skip


def connections_with_reports(conn: Connection, tenant_id: str) -> Iterable[str]:
    d = drift_reports.c
    return conn.execute(select(d.connection_id).where(d.tenant_id == tenant_id).distinct()).scalars()


def reconcile_problem(conn: Connection, tenant_id: str, connection_id: str) -> str | None:
    """Why `connection_id` of `tenant_id` cannot be reconciled now (None: it can)."""
    from crossdock.store.inventory import availability_section
    from crossdock.store.tables import connections

    c = connections.c
    row = conn.execute(
        select(c.kind, c.enabled).where(c.tenant_id == tenant_id, c.id == connection_id)
    ).first()
    if row is None:
        return f"tenant {tenant_id} has no connection {connection_id!r}"
    if row.kind not in READABLE_KINDS:
        return f"connection {connection_id} is of kind {row.kind!r}; reconciliation reads {', '.join(sorted(READABLE_KINDS))}"
    if not row.enabled:
        return f"connection {connection_id} is disabled"
    section = availability_section(conn, tenant_id)
    if section is None or connection_id not in section.channels:
        return f"connection {connection_id} is not a channel of tenant {tenant_id}'s availability section"
    return None
