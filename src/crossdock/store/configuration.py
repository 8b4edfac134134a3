"""Applying a configuration file to the database, in one transaction.

Tenants and connections are upserted, each tenant's routes replaced, throttles upserted
(keeping their live bucket state) with one slot row per allowed concurrent call, and
each mapping or rule section the file has replaces the stored one (`store.mappings`). Literal
secrets are sealed as `enc:` tokens before they are written. Comparison is on the
decrypted values, so applying the same file again reports everything unchanged and
writes nothing: no new config version and no audit entry. Objects in the database but
absent from the file are reported as "not in file" and left alone.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, delete, select, text

from crossdock.configuration.loader import ConfigError, ConfigErrors
from crossdock.configuration.schema import ConnectionBase, CrossdockConfig, Tenant, dump
from crossdock.configuration.secrets import SecretBox, SecretError, map_tokens
from crossdock.connectors.kinds import CONFIG_MODELS
from crossdock.store import audit
from crossdock.store.catalog import ensure_catalog_schedule
from crossdock.store.db import insert_into
from crossdock.store.drift import ensure_reconciliation
from crossdock.store.inventory import RULES_NAME, ensure_daily_recompute, request_recompute
from crossdock.store.mappings import apply_sections
from crossdock.store.pricing import ensure_price_polling
from crossdock.store.schedules import ensure_polling
from crossdock.store.tables import config_versions, connections, routes, tenants, throttle_slots, throttles

# pg_advisory_xact_lock key serializing applies ("apply" in ASCII).
APPLY_LOCK_KEY = 0x6170706C79


class Status(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REMOVED = "removed"  # a throttle dropped from the file: the connection is unlimited again
    NOT_IN_FILE = "not in file"  # in the database, absent from the file; left as is


@dataclass(frozen=True)
class Change:
    object: str  # tenant | connection | throttle | routes
    id: str
    tenant_id: str
    status: Status


@dataclass(frozen=True)
class ApplyReport:
    changes: list[Change]
    version_id: int | None  # None when nothing changed

    @property
    def changed(self) -> bool:
        return any(c.status in (Status.CREATED, Status.UPDATED, Status.REMOVED) for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "version_id": self.version_id,
            "changes": [asdict(c) for c in self.changes],
        }


@dataclass(frozen=True)
class StoredConnection:
    tenant_id: str
    id: str
    kind: str
    enabled: bool
    config: BaseModel | dict[str, Any]  # secrets still sealed (`enc:`) or `env:` references


def _changes_listings(change: Any) -> bool:
    """A section whose change changes what channels may list (rules, SKUs, pack sizes)."""
    if change.status == "unchanged":
        return False
    return change.object in ("mappings.sku", "mappings.uom") or (change.object, change.id) == ("rules", RULES_NAME)


def apply_config(
    engine: Engine, parsed: CrossdockConfig, source_path: str, raw_text: str, actor: str, box: SecretBox
) -> ApplyReport:
    now = time.time()
    with engine.begin() as conn:
        _lock(conn, APPLY_LOCK_KEY)
        _check_ownership(conn, parsed, source_path)
        changes: list[Change] = []
        for tenant in parsed.tenants:
            changes += _apply_tenant(conn, tenant, box, now)
            sections = apply_sections(conn, tenant, actor, now)
            ensure_polling(conn, tenant, now)
            ensure_catalog_schedule(conn, tenant, now)
            repriced = any(c.object == "rules" and c.id == "pricing" and c.status != "unchanged" for c in sections)
            ensure_price_polling(conn, tenant, now, changed=repriced)
            ensure_reconciliation(conn, tenant, now)
            ensure_daily_recompute(conn, tenant, now)
            if any(_changes_listings(c) for c in sections):
                request_recompute(conn, tenant.id, now)
            changes += [Change(c.object, c.id, tenant.id, Status(c.status)) for c in sections]
        changes += _not_in_file(conn, parsed)
        report = ApplyReport(changes, None)
        if not report.changed:
            return report
        version_id = _store_version(conn, parsed, source_path, raw_text, actor, box, now)
        summary = {s.value: [f"{c.object}:{c.id}" for c in changes if c.status == s] for s in Status}
        summary = {k: v for k, v in summary.items() if v and k != Status.UNCHANGED}
        details = {"version_id": version_id, "sha256": _sha256(raw_text), **summary}
        audit.append(conn, actor, "config.apply", target=source_path, details=details)
        return ApplyReport(changes, version_id)


def _lock(conn: Connection, key: int) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _check_ownership(conn: Connection, parsed: CrossdockConfig, source: str) -> None:
    """Connection ids are global: one already owned by another tenant cannot move."""
    owners = dict(conn.execute(select(connections.c.id, connections.c.tenant_id)).all())
    errors = [
        ConfigError(
            source,
            None,
            f"tenants[{i}].connections[{j}].id",
            f"connection {c.id!r} already belongs to tenant {owners[c.id]!r}",
        )
        for i, t in enumerate(parsed.tenants)
        for j, c in enumerate(t.connections)
        if owners.get(c.id, t.id) != t.id
    ]
    if errors:
        raise ConfigErrors(errors)


def _apply_tenant(conn: Connection, tenant: Tenant, box: SecretBox, now: float) -> list[Change]:
    row = conn.execute(select(tenants).where(tenants.c.id == tenant.id)).mappings().first()
    same = row is not None and row["name"] == tenant.name and _same(box, row["settings"], tenant.settings)
    status = _status(row, same)
    if status != Status.UNCHANGED:
        settings = _json(box.seal_secrets(tenant.settings))
        values = dict(id=tenant.id, name=tenant.name, settings=settings, created_at=now, updated_at=now)
        _upsert(conn, tenants, values, ["id"], ["name", "settings", "updated_at"])
    changes = [Change("tenant", tenant.id, tenant.id, status)]
    for connection in tenant.connections:
        changes.append(_apply_connection(conn, tenant.id, connection, box, now))
        throttle = _apply_throttle(conn, tenant.id, connection)
        changes += [throttle] if throttle else []
    changes.append(_apply_routes(conn, tenant))
    return changes


def _apply_connection(
    conn: Connection, tenant_id: str, c: ConnectionBase, box: SecretBox, now: float
) -> Change:
    key = (connections.c.tenant_id == tenant_id) & (connections.c.id == c.id)
    row = conn.execute(select(connections).where(key)).mappings().first()
    config = c.config.model_dump(mode="json")
    same = (
        row is not None
        and row["kind"] == c.kind
        and bool(row["enabled"]) == c.enabled
        and _same(box, row["config"], config)
    )
    status = _status(row, same)
    if status != Status.UNCHANGED:
        sealed = _json(box.seal_secrets(config, c.kind))
        values = dict(tenant_id=tenant_id, id=c.id, kind=c.kind, enabled=c.enabled, config=sealed)
        values |= dict(created_at=now, updated_at=now)
        _upsert(conn, connections, values, ["tenant_id", "id"], ["kind", "enabled", "config", "updated_at"])
    return Change("connection", c.id, tenant_id, status)


def _apply_throttle(conn: Connection, tenant_id: str, c: ConnectionBase) -> Change | None:
    key = (throttles.c.tenant_id == tenant_id) & (throttles.c.connection_id == c.id)
    slot_key = (throttle_slots.c.tenant_id == tenant_id) & (throttle_slots.c.connection_id == c.id)
    row = conn.execute(select(throttles).where(key)).mappings().first()
    slots = set(conn.execute(select(throttle_slots.c.slot).where(slot_key)).scalars())
    if c.throttle is None:
        if row is None:
            return None
        conn.execute(delete(throttles).where(key))
        conn.execute(delete(throttle_slots).where(slot_key))
        return Change("throttle", c.id, tenant_id, Status.REMOVED)
    t = c.throttle
    wanted = set(range(t.max_concurrency))
    limits = dict(rate=t.rate, burst=t.burst, max_concurrency=t.max_concurrency)
    same = row is not None and all(row[k] == v for k, v in limits.items())
    status = _status(row, same and slots == wanted)
    if status == Status.UNCHANGED:
        return Change("throttle", c.id, tenant_id, status)
    values = dict(tenant_id=tenant_id, connection_id=c.id, tat=0.0, paused_until=0.0, waits=0, **limits)
    # The bucket's live state (tat, paused_until, waits) survives a change of limits.
    _upsert(conn, throttles, values, ["tenant_id", "connection_id"], ["rate", "burst", "max_concurrency"])
    conn.execute(delete(throttle_slots).where(slot_key & (throttle_slots.c.slot >= t.max_concurrency)))
    new = [
        {"tenant_id": tenant_id, "connection_id": c.id, "slot": s, "holder": None, "expires_at": 0.0}
        for s in sorted(wanted - slots)
    ]
    if new:
        conn.execute(throttle_slots.insert(), new)
    return Change("throttle", c.id, tenant_id, status)


def _apply_routes(conn: Connection, tenant: Tenant) -> Change:
    key = routes.c.tenant_id == tenant.id
    cols = (routes.c.source_connection_id, routes.c.topic, routes.c.target_connection_id)
    existing = {tuple(r) for r in conn.execute(select(*cols).where(key)).all()}
    wanted = {(r.source, topic, r.target) for r in tenant.routes for topic in r.topics}
    status = Status.UNCHANGED if existing == wanted else (Status.UPDATED if existing else Status.CREATED)
    if status != Status.UNCHANGED:
        conn.execute(delete(routes).where(key))
        rows = [
            {"tenant_id": tenant.id, "source_connection_id": s, "topic": t, "target_connection_id": d}
            for s, t, d in sorted(wanted)
        ]
        if rows:
            conn.execute(routes.insert(), rows)
    return Change("routes", f"{len(wanted)} route(s)", tenant.id, status)


def _not_in_file(conn: Connection, parsed: CrossdockConfig) -> list[Change]:
    tenant_ids = {t.id for t in parsed.tenants}
    conn_ids = {c.id for t in parsed.tenants for c in t.connections}
    extra_tenants = [
        Change("tenant", tid, tid, Status.NOT_IN_FILE)
        for tid in conn.execute(select(tenants.c.id).order_by(tenants.c.id)).scalars()
        if tid not in tenant_ids
    ]
    rows = conn.execute(select(connections.c.tenant_id, connections.c.id).order_by(connections.c.id)).all()
    extra_conns = [
        Change("connection", cid, tid, Status.NOT_IN_FILE) for tid, cid in rows if cid not in conn_ids
    ]
    return extra_tenants + extra_conns


def _store_version(conn, parsed, source_path, raw_text, actor, box, now) -> int:
    """The file as applied, normalized to JSON with every secret sealed (never plaintext;
    comments are not kept since they could hold secrets). sha256 is of the file's text."""
    content = _pretty(box.seal_secrets(dump(parsed)))
    values = dict(applied_at=now, actor=actor, source=source_path, sha256=_sha256(raw_text), content=content)
    return conn.execute(
        config_versions.insert().values(**values).returning(config_versions.c.id)
    ).scalar_one()


def rotate_secrets(engine: Engine, box: SecretBox) -> dict[str, int]:
    """Re-encrypt every `enc:` token (connections, tenant settings, config versions) with
    the ring's newest key, in one transaction. Returns the number of rows rewritten."""
    with engine.begin() as conn:
        _lock(conn, APPLY_LOCK_KEY)
        return {
            "connections": _rotate_column(conn, box, connections.c.config, _json),
            "tenants": _rotate_column(conn, box, tenants.c.settings, _json),
            "config_versions": _rotate_column(conn, box, config_versions.c.content, _pretty),
        }


def _rotate_column(conn: Connection, box: SecretBox, column, encode) -> int:
    table, rewritten = column.table, 0
    pk = list(table.primary_key.columns)
    for row in conn.execute(select(*pk, column).where(column.contains("enc:"))).all():
        value = encode(box.rotate_all(json.loads(row[-1])))
        conn.execute(
            table.update()
            .where(*[c == v for c, v in zip(pk, row[:-1], strict=True)])
            .values({column.name: value})
        )
        rewritten += 1
    return rewritten


def load_connection(engine: Engine, connection_id: str) -> StoredConnection | None:
    """One connection as stored; its secrets are still sealed (open them at use time)."""
    with engine.connect().execution_options(readonly=True) as conn, conn.begin():
        row = conn.execute(select(connections).where(connections.c.id == connection_id)).mappings().first()
    if row is None:
        return None
    data = json.loads(row["config"])
    model = CONFIG_MODELS.get(row["kind"])
    config = model.model_validate(data) if model else data
    return StoredConnection(row["tenant_id"], row["id"], row["kind"], bool(row["enabled"]), config)


def _upsert(conn: Connection, table, values: dict[str, Any], keys: list[str], update: list[str]) -> None:
    stmt = insert_into(conn, table).values(**values)
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in update}))


def _same(box: SecretBox, stored: str, wanted: Any) -> bool:
    """Stored JSON equals `wanted` once every `enc:` token on both sides is decrypted.
    A stored token the ring cannot open counts as different (it will be resealed)."""
    try:
        stored_plain = map_tokens(json.loads(stored), box.open)
    except (SecretError, ValueError):
        return False
    return stored_plain == map_tokens(wanted, box.open)


def _status(row: Any, same: bool) -> Status:
    return Status.CREATED if row is None else (Status.UNCHANGED if same else Status.UPDATED)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _sha256(raw_text: str) -> str:
    return hashlib.sha256(raw_text.encode()).hexdigest()
