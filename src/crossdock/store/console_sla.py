"""SLA clocks for the console: work a channel or the ERP is waiting on, against its deadline.

Three clocks, each per channel:
- acknowledge: orders not yet acknowledged to the channel (the order's `acknowledged_at`
  is unset; it is set before the ERP step, so only orders not yet posted are read), from
  the channel's order time (`placed_at`, else arrival), e.g. Walmart: 4 hours;
- post: orders not yet posted to the ERP (`received` or `validated`);
- confirm: shipments that left a warehouse but are not yet confirmed to the channel,
  e.g. Amazon: 24 hours.

Deadlines come from `DEFAULT_SLAS`, overridden per tenant by its settings
(`settings: {sla: {walmart: {ack_minutes: 240}, "*": {post_minutes: 30}}}` in the
configuration file), so a tenant's contract never needs a code change.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Connection, and_, case, cast, func, literal, select, type_coerce

from crossdock.store.orders import tenant_settings
from crossdock.store.tables import orders, shipments

_UNPOSTED = ("received", "validated")
_UNACKED = ("received", "on_hold", "validated")  # acknowledged, at the latest, before the ERP step


@dataclass(frozen=True)
class ChannelSla:
    """Deadlines in minutes from the order's (or shipment's) arrival; None: no clock."""

    ack_minutes: float | None = None
    post_minutes: float | None = 60
    confirm_minutes: float | None = 24 * 60


DEFAULT_SLAS: dict[str, ChannelSla] = {
    "*": ChannelSla(),
    "amazon": ChannelSla(post_minutes=60, confirm_minutes=24 * 60),
    "walmart": ChannelSla(ack_minutes=4 * 60, post_minutes=60, confirm_minutes=24 * 60),
    "shopify": ChannelSla(post_minutes=60, confirm_minutes=48 * 60),
}


def policies(settings: dict) -> dict[str, ChannelSla]:
    """The code's defaults with the tenant's `sla` settings laid over them. `crossdock apply`
    checks them (configuration.settings); a value it would refuse, stored before it did, is
    left out rather than failing every page that shows a clock."""
    result = dict(DEFAULT_SLAS)
    sla = settings.get("sla")
    for channel, values in (sla if isinstance(sla, dict) else {}).items():
        if isinstance(values, dict):
            known = {k: v for k, v in values.items() if k in ChannelSla.__dataclass_fields__ and _minutes(v)}
            result[channel] = dataclasses.replace(result.get(channel, result["*"]), **known)
    return result


def _minutes(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool) and value > 0)


@dataclass(frozen=True)
class Clock:
    name: str  # ack | post | confirm
    channel: str
    deadline_minutes: float
    waiting: int
    overdue: int
    oldest_at: float | None


def clocks(conn: Connection, tenant_id: str, now: float) -> list[Clock]:
    """Every clock with something waiting, most overdue first."""
    slas = policies(tenant_settings(conn, tenant_id))
    found = _ack_clocks(conn, tenant_id, now, slas)
    found += _order_clocks(conn, tenant_id, now, slas, "post", _UNPOSTED)
    found += _shipment_clocks(conn, tenant_id, now, slas)
    return sorted(found, key=lambda c: (-c.overdue, c.oldest_at or now))


def _deadline(slas: dict[str, ChannelSla], channel: str, name: str) -> float | None:
    return getattr(slas.get(channel, slas["*"]), f"{name}_minutes")


def _cutoff(column, slas: dict[str, ChannelSla], name: str, now: float):
    """SQL: the arrival time before which an item of this row's channel is overdue."""
    default = _deadline(slas, "*", name)
    whens = {ch: now - m * 60 for ch, s in slas.items() if ch != "*" and (m := getattr(s, f"{name}_minutes"))}
    otherwise = literal(now - default * 60 if default else -1.0)
    return case(whens, value=column, else_=otherwise) if whens else otherwise


def _order_clocks(conn, tenant_id, now, slas, name, stages) -> list[Clock]:
    c = orders.c
    overdue = func.sum(case((c.created_at < _cutoff(c.channel, slas, name, now), 1), else_=0))
    q = (
        select(c.channel, func.count(), overdue, func.min(c.created_at))
        .where(c.tenant_id == tenant_id, c.stage.in_(stages))
        .group_by(c.channel)
    )
    return _clocks(conn.execute(q), slas, name)


def _document_field(conn: Connection, name: str):
    """SQL: a top-level field of the order's JSON document, as text (NULL when absent or null)."""
    document = orders.c.document
    as_json = cast(document, JSON) if conn.dialect.name == "postgresql" else type_coerce(document, JSON)
    return as_json[name].as_string()


def _ack_clocks(conn, tenant_id, now, slas) -> list[Clock]:
    """Orders not yet acknowledged, per channel with an `ack` deadline, timed from the
    channel's order time. Few rows: only orders not yet posted are read."""
    c = orders.c
    q = select(c.channel, c.created_at, _document_field(conn, "placed_at")).where(
        c.tenant_id == tenant_id, c.stage.in_(_UNACKED), _document_field(conn, "acknowledged_at").is_(None)
    )
    if not _deadline(slas, "*", "ack"):
        q = q.where(c.channel.in_([ch for ch, s in slas.items() if ch != "*" and s.ack_minutes]))
    found: dict[str, Clock] = {}
    for channel, created_at, placed in conn.execute(q):
        deadline = _deadline(slas, channel, "ack")
        if not deadline:
            continue
        since = _timestamp(placed) or created_at
        clock = found.get(channel) or Clock("ack", channel, deadline, 0, 0, since)
        found[channel] = dataclasses.replace(
            clock,
            waiting=clock.waiting + 1,
            overdue=clock.overdue + (since < now - deadline * 60),
            oldest_at=min(clock.oldest_at or since, since),
        )
    return list(found.values())


def _timestamp(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


def _shipment_clocks(conn, tenant_id, now, slas) -> list[Clock]:
    s, o = shipments.c, orders.c
    overdue = func.sum(case((s.created_at < _cutoff(o.channel, slas, "confirm", now), 1), else_=0))
    q = (
        select(o.channel, func.count(), overdue, func.min(s.created_at))
        .select_from(shipments.join(orders, and_(o.tenant_id == s.tenant_id, o.order_ref == s.order_ref)))
        .where(s.tenant_id == tenant_id, s.confirmed_at.is_(None))
        .group_by(o.channel)
    )
    return _clocks(conn.execute(q), slas, "confirm")


def _clocks(rows, slas, name) -> list[Clock]:
    found = []
    for channel, waiting, overdue, oldest in rows:
        deadline = _deadline(slas, channel, name)
        if deadline:
            found.append(Clock(name, channel, deadline, waiting, int(overdue or 0), oldest))
    return found


def overdue_orders(conn: Connection, tenant_id: str, now: float, limit: int = 10) -> list[dict]:
    """The oldest orders not yet posted to the ERP, with how late each one is (if at all)."""
    slas = policies(tenant_settings(conn, tenant_id))
    q = (
        select(orders.c.order_ref, orders.c.channel, orders.c.stage, orders.c.created_at, orders.c.problem)
        .where(orders.c.tenant_id == tenant_id, orders.c.stage.in_(_UNPOSTED))
        .order_by(orders.c.created_at)
        .limit(limit)
    )
    result = []
    for r in conn.execute(q):
        deadline = _deadline(slas, r.channel, "post")
        late = (now - r.created_at) / 60 - deadline if deadline else None
        result.append({**r._mapping, "late_minutes": late})
    return result
