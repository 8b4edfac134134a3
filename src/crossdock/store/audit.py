"""The audit log: append-only, each entry chained to the previous one by its hash.

`hash = sha256(prev_hash + canonical JSON of the entry)`, so editing, deleting or
reordering a row breaks the chain from that row on; `verify` finds the first break.
Appends are serialized so the chain never forks: on PostgreSQL by a transaction-level
advisory lock taken before the last hash is read, on SQLite by the write lock every
write transaction takes up front (BEGIN IMMEDIATE). Details are redacted before they
are written: the log never holds a secret.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from crossdock.configuration.secrets import redact
from crossdock.store.tables import audit_log

GENESIS = "0" * 64
_HEAD = select(func.max(audit_log.c.id))
# pg_advisory_xact_lock key owned by the audit chain ("audit" in ASCII).
AUDIT_LOCK_KEY = 0x6175646974


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int  # entries checked
    first_broken_id: int | None = None
    reason: str | None = None


def head(conn: Connection) -> int:
    """The id of the latest entry (0: none). Appends are serialized and every configuration
    change appends in its own transaction, so a reader that sees the same head has seen the
    same configuration: the flows use it to know when their cached configuration is stale."""
    return conn.execute(_HEAD).scalar() or 0


def append(
    conn: Connection,
    actor: str,
    action: str,
    tenant_id: str | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Add one entry inside the caller's transaction; returns its id."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
    prev = conn.execute(select(audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)).scalar()
    row = {
        "at": time.time(),
        "actor": actor,
        "tenant_id": tenant_id,
        "action": action,
        "target": target,
        "details": _canonical(redact(details or {})),
    }
    prev_hash = prev or GENESIS
    row["prev_hash"] = prev_hash
    row["hash"] = entry_hash(prev_hash, row)
    return conn.execute(audit_log.insert().values(**row).returning(audit_log.c.id)).scalar_one()


def entry_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The hash of one entry, from the stored column values (details as stored text)."""
    body = {k: row[k] for k in ("at", "actor", "tenant_id", "action", "target", "details")}
    return hashlib.sha256((prev_hash + _canonical(body)).encode()).hexdigest()


def verify(engine: Engine) -> VerifyResult:
    """Walk the chain in id order; report the first entry whose links or hash are wrong."""
    count, prev_hash = 0, GENESIS
    with engine.connect().execution_options(readonly=True) as conn, conn.begin():
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings()
        for row in rows:
            count += 1
            if row["prev_hash"] != prev_hash:
                return VerifyResult(False, count, row["id"], "prev_hash does not match the previous entry")
            if entry_hash(prev_hash, dict(row)) != row["hash"]:
                return VerifyResult(False, count, row["id"], "hash does not match the entry's content")
            prev_hash = row["hash"]
    return VerifyResult(True, count)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
