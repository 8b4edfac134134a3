"""The connectors' sliding-window quotas (`connectors.quota`) kept in the database, so every
worker process of every machine counts the same submissions: a channel allowing 5 feeds per
5 minutes gets 5, not 5 per process. One short write transaction per feed taken (feeds are a
few an hour), committed before the feed is submitted, so a crash after submitting still
counts it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from crossdock.connectors.quota import QuotaSlot, full
from crossdock.engine.database import Database
from crossdock.store import quotas as store


@dataclass(frozen=True)
class DatabaseQuota:
    database: Database
    tenant_id: str
    connection_id: str

    async def take(self, name: str, most: int, span: float, what: str, now: float) -> QuotaSlot:
        holder = secrets.token_hex(12)
        wait = await self.database.write(
            store.take, self.tenant_id, self.connection_id, name, holder, most, span, now
        )
        if wait > 0:
            raise full(most, span, what, wait)
        return DatabaseSlot(self, name, holder)


@dataclass
class DatabaseSlot:
    quota: DatabaseQuota
    name: str
    holder: str
    settled: bool = False

    async def give_back(self) -> None:
        if not self.settled:
            self.settled = True
            q = self.quota
            await q.database.write(store.give_back, q.tenant_id, q.connection_id, self.name, self.holder)

    def keep(self) -> None:
        self.settled = True
