"""Read models for the web console's pages: tenants, the overview of flows, the desk page.

Every query names its tenant(s) first so it runs on an index led by `tenant_id`, and
every list is a page (keyset where it can be). Read-only; actions live elsewhere
(`store.exceptions`, `store.users`). The SLA clocks are in `store.console_sla`, one
order's timeline and connection health in `store.console_trail`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, Integer, cast, func, select

from crossdock.access import ALL_TENANTS, Principal
from crossdock.records import Status
from crossdock.store import console_sla
from crossdock.store.queries import (
    ExceptionFilter,
    ExceptionRecord,
    actions_of,
    get_exception,
    group_by_category,
    matching,
)
from crossdock.store.tables import exception_actions, exceptions, lanes, messages, tenants

COUNT_CAP = 100_000  # backlogs are counted up to this, then shown as "100000+"
WINDOW_MINUTES = 60


# --------------------------------------------------------------------------- tenants


def visible_tenants(conn: Connection, who: Principal, limit: int = 50, after: str = "") -> list[dict]:
    """The tenants `who` may see, by id, one page after `after`."""
    q = select(tenants.c.id, tenants.c.name).where(tenants.c.id > after).order_by(tenants.c.id).limit(limit)
    if not (who.is_partner and ALL_TENANTS in who.tenants):
        q = q.where(tenants.c.id.in_(sorted(who.tenants - {ALL_TENANTS})))
    return [dict(r._mapping) for r in conn.execute(q)]


def tenant_name(conn: Connection, tenant_id: str) -> str | None:
    return conn.execute(select(tenants.c.name).where(tenants.c.id == tenant_id)).scalar()


def open_exceptions_by_tenant(conn: Connection, tenant_ids: list[str]) -> dict[str, int]:
    if not tenant_ids:
        return {}
    q = (
        select(exceptions.c.tenant_id, func.count())
        .where(exceptions.c.tenant_id.in_(tenant_ids), exceptions.c.status == "open")
        .group_by(exceptions.c.tenant_id)
    )
    return {t: n for t, n in conn.execute(q)}


# --------------------------------------------------------------------------- overview


@dataclass(frozen=True)
class StreamHealth:
    """One flow (stream) of one tenant, as the overview shows it."""

    stream: str
    ready: int  # capped at COUNT_CAP + 1
    running: int
    parked: int
    oldest_due_at: float | None  # when the longest-waiting due message became due
    oldest_created_at: float | None
    done_per_minute: list[int] = field(default_factory=list)  # oldest minute first

    @property
    def done_last_hour(self) -> int:
        return sum(self.done_per_minute)


def streams_of(conn: Connection, tenant_id: str) -> list[str]:
    return list(
        conn.execute(
            select(lanes.c.stream).where(lanes.c.tenant_id == tenant_id).order_by(lanes.c.stream)
        ).scalars()
    )


def stream_health(conn: Connection, tenant_id: str, stream: str, now: float) -> StreamHealth:
    def lane(status: Status):
        return (
            messages.c.tenant_id == tenant_id,
            messages.c.stream == stream,
            messages.c.status == status.value,
        )

    oldest = conn.execute(
        select(messages.c.next_attempt_at, messages.c.created_at)
        .where(*lane(Status.READY), messages.c.next_attempt_at <= now)
        .order_by(messages.c.next_attempt_at)
        .limit(1)
    ).first()
    return StreamHealth(
        stream=stream,
        ready=_capped_count(conn, lane(Status.READY)),
        running=_capped_count(conn, lane(Status.RUNNING)),
        parked=_capped_count(conn, lane(Status.PARKED)),
        oldest_due_at=oldest.next_attempt_at if oldest else None,
        oldest_created_at=oldest.created_at if oldest else None,
        done_per_minute=_done_per_minute(conn, lane(Status.DONE), now),
    )


def _capped_count(conn: Connection, where: tuple) -> int:
    inner = select(messages.c.id).where(*where).limit(COUNT_CAP + 1).subquery()
    return conn.execute(select(func.count()).select_from(inner)).scalar_one()


def _done_per_minute(conn: Connection, where: tuple, now: float) -> list[int]:
    """Messages finished per minute over the last hour, read from the claim index alone.

    A DONE message keeps the `next_attempt_at` of its last claim, which is its lease
    expiry: at most one lease after the moment it finished. So the minute is exact to
    within one lease (seconds), and the query never touches the table itself."""
    start = now - WINDOW_MINUTES * 60
    offset = (messages.c.next_attempt_at - start) / 60
    bucket = func.floor(offset) if conn.dialect.name == "postgresql" else cast(offset, Integer)
    bucket = cast(bucket, Integer).label("bucket")
    q = select(bucket, func.count()).where(*where, messages.c.next_attempt_at >= start).group_by(bucket)
    counts = [0] * WINDOW_MINUTES
    for b, n in conn.execute(q):
        counts[min(max(int(b), 0), WINDOW_MINUTES - 1)] += n
    return counts


def exceptions_by_category(conn: Connection, tenant_id: str) -> dict[str, int]:
    return group_by_category(conn, ExceptionFilter.for_tenant(tenant_id))


# --------------------------------------------------------------------------- the desk


@dataclass(frozen=True)
class DeskPage:
    rows: list[ExceptionRecord]
    groups: dict[str, int]  # every match (not just this page) counted per category
    total: int
    next_before: int | None  # keyset: pass as `before` for the next page


def desk_page(conn: Connection, flt: ExceptionFilter, before: int | None = None, limit: int = 50) -> DeskPage:
    """Matching exceptions, newest first, one keyset page, with counts per category."""
    where = matching(flt)
    if before is not None:
        where.append(exceptions.c.id < before)
    q = select(exceptions).where(*where).order_by(exceptions.c.id.desc()).limit(limit + 1)
    rows = [_exception(r) for r in conn.execute(q)]
    groups = group_by_category(conn, flt)
    more = len(rows) > limit
    rows = rows[:limit]
    return DeskPage(rows, groups, sum(groups.values()), rows[-1].id if more else None)


def _exception(r) -> ExceptionRecord:
    values = dict(r._mapping)
    values["context"] = orjson.loads(values["context"] or "{}")
    return ExceptionRecord(**values)


def recent_actions(conn: Connection, tenant_ids: list[str] | None, limit: int = 20) -> list[dict]:
    """Who did what on the desk, newest first; `None` is every tenant (partner with `*`)."""
    q = select(exception_actions).order_by(exception_actions.c.id.desc()).limit(limit)
    if tenant_ids is not None:
        q = q.where(exception_actions.c.tenant_id.in_(tenant_ids))
    return [dict(r._mapping) for r in conn.execute(q)]


# --------------------------------------------------------------------------- one page, one read


@dataclass(frozen=True)
class Overview:
    tenant_id: str
    tenant_name: str
    streams: list[StreamHealth]
    categories: dict[str, int]
    clocks: list  # console_sla.Clock
    overdue_orders: list[dict]


def overview(conn: Connection, tenant_id: str, now: float) -> Overview | None:
    """Everything the overview page shows for one tenant; None if there is no such tenant."""
    name = tenant_name(conn, tenant_id)
    if name is None:
        return None
    return Overview(
        tenant_id=tenant_id,
        tenant_name=name,
        streams=[stream_health(conn, tenant_id, s, now) for s in streams_of(conn, tenant_id)],
        categories=exceptions_by_category(conn, tenant_id),
        clocks=console_sla.clocks(conn, tenant_id, now),
        overdue_orders=console_sla.overdue_orders(conn, tenant_id, now),
    )


def tenants_page(conn: Connection, who: Principal, after: str = "", limit: int = 50) -> list[dict]:
    """The tenants `who` sees, each with its open exception count."""
    rows = visible_tenants(conn, who, limit, after)
    counts = open_exceptions_by_tenant(conn, [r["id"] for r in rows])
    return [{**r, "open_exceptions": counts.get(r["id"], 0)} for r in rows]


def exception_view(conn: Connection, exception_id: int) -> dict | None:
    """One exception with its message (payload included) and who did what to it."""
    rec = get_exception(conn, exception_id)
    if rec is None:
        return None
    msg = conn.execute(
        select(messages).where(messages.c.tenant_id == rec.tenant_id, messages.c.id == rec.message_id)
    ).first()
    return {
        "exception": rec,
        "message": dict(msg._mapping) if msg else None,
        "actions": actions_of(conn, rec.tenant_id, rec.id),
    }
