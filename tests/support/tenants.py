"""Tenants for tests that need one to exist and nothing else (an API key or a console user
names its tenants, and Crossdock refuses an unknown one)."""

from __future__ import annotations

import time

from sqlalchemy import Engine, insert, select

from crossdock.store.tables import tenants


def ensure_tenants(engine: Engine, *ids: str) -> None:
    """Each tenant of `ids`, created bare (no connections, no settings) when missing."""
    now = time.time()
    with engine.begin() as c:
        known = set(c.execute(select(tenants.c.id).where(tenants.c.id.in_(ids))).scalars())
        for tenant_id in ids:
            if tenant_id not in known:
                c.execute(insert(tenants).values(id=tenant_id, name=tenant_id, settings="{}", created_at=now, updated_at=now))
