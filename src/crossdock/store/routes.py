"""Relay routes: where events from one connection go, by topic."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from crossdock.store.tables import routes


@dataclass(frozen=True)
class Route:
    topic: str  # a topic or an fnmatch glob such as `orders/*`
    target_connection_id: str


def routes_from(conn: Connection, tenant_id: str, source_connection_id: str) -> tuple[Route, ...]:
    """The routes leaving one connection of one tenant."""
    rows = conn.execute(
        select(routes.c.topic, routes.c.target_connection_id)
        .where(routes.c.tenant_id == tenant_id, routes.c.source_connection_id == source_connection_id)
        .order_by(routes.c.topic, routes.c.target_connection_id)
    ).all()
    return tuple(Route(r.topic, r.target_connection_id) for r in rows)
