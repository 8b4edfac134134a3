"""Read models for the operator surface (CLI, API, console): exceptions on the desk,
messages with their lineage. Read-only; the desk's actions live in `store.exceptions`."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import orjson
from sqlalchemy import Connection, false, func, select

from crossdock.store.tables import exception_actions, exceptions, lineage, messages


@dataclass(frozen=True)
class ExceptionFilter:
    """Which exceptions an operator means. Empty fields do not restrict; `status=None` is any.

    `category` ending in `.` or `*` is a prefix (`mapping.` → every mapping problem)."""

    tenant_ids: tuple[str, ...] = ()
    category: str | None = None
    kind: str | None = None
    connection_id: str | None = None
    status: str | None = "open"
    severity: str | None = None
    owner: str | None = None
    ids: tuple[int, ...] = ()
    message_ids: tuple[int, ...] = ()
    first_seen_from: float | None = None
    first_seen_to: float | None = None
    last_seen_from: float | None = None
    last_seen_to: float | None = None

    @classmethod
    def for_tenant(cls, tenant_id: str, **fields) -> ExceptionFilter:
        return cls(tenant_ids=(tenant_id,), **fields)


def matching(flt: ExceptionFilter, *, status: str | None = None) -> list:
    """WHERE conditions for `flt`; `status` adds a status every action insists on."""
    c = exceptions.c
    conds: list = []
    if flt.tenant_ids:
        conds.append(c.tenant_id.in_(flt.tenant_ids))
    if flt.category:
        prefix = flt.category.rstrip("*")
        is_prefix = flt.category.endswith(("*", "."))
        conds.append(c.category.startswith(prefix, autoescape=True) if is_prefix else c.category == prefix)
    for column, value in (
        (c.kind, flt.kind),
        (c.connection_id, flt.connection_id),
        (c.status, flt.status),
        (c.severity, flt.severity),
        (c.owner, flt.owner),
        (c.status, status),
    ):
        if value is not None:
            conds.append(column == value)
    if flt.ids:
        conds.append(c.id.in_(flt.ids))
    if flt.message_ids:
        conds.append(c.message_id.in_(flt.message_ids))
    for column, low, high in (
        (c.first_seen_at, flt.first_seen_from, flt.first_seen_to),
        (c.last_seen_at, flt.last_seen_from, flt.last_seen_to),
    ):
        if low is not None:
            conds.append(column >= low)
        if high is not None:
            conds.append(column < high)
    if flt.status is not None and status is not None and flt.status != status:
        conds.append(false())
    return conds


@dataclass(frozen=True)
class ExceptionRecord:
    id: int
    tenant_id: str
    message_id: int
    kind: str
    correlation_id: str | None
    connection_id: str | None
    category: str
    severity: str
    owner: str
    summary: str
    hint: str
    context: dict
    attempts: int
    first_seen_at: float
    last_seen_at: float
    last_error: str | None
    status: str
    resolution: str | None
    closed_by: str | None
    closed_at: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def _record(r) -> ExceptionRecord:
    values = dict(r._mapping)
    values["context"] = orjson.loads(values["context"] or "{}")
    return ExceptionRecord(**values)


def list_exceptions(
    conn: Connection, flt: ExceptionFilter, limit: int = 100, offset: int = 0
) -> list[ExceptionRecord]:
    """Newest first."""
    q = select(exceptions).where(*matching(flt)).order_by(exceptions.c.id.desc()).limit(limit).offset(offset)
    return [_record(r) for r in conn.execute(q)]


def group_by_category(conn: Connection, flt: ExceptionFilter) -> dict[str, int]:
    """Matching exceptions counted per category, largest first."""
    n = func.count().label("n")
    q = select(exceptions.c.category, n).where(*matching(flt)).group_by(exceptions.c.category)
    return dict(sorted(((r.category, r.n) for r in conn.execute(q)), key=lambda kv: (-kv[1], kv[0])))


def count_open(conn: Connection, flt: ExceptionFilter) -> int:
    return conn.execute(
        select(func.count()).select_from(exceptions).where(*matching(flt, status="open"))
    ).scalar_one()


def get_exception(
    conn: Connection, exception_id: int, tenant_id: str | None = None
) -> ExceptionRecord | None:
    q = select(exceptions).where(exceptions.c.id == exception_id)
    if tenant_id is not None:
        q = q.where(exceptions.c.tenant_id == tenant_id)
    r = conn.execute(q).first()
    return _record(r) if r else None


def actions_of(conn: Connection, tenant_id: str, exception_id: int) -> list[dict]:
    q = (
        select(exception_actions)
        .where(exception_actions.c.tenant_id == tenant_id, exception_actions.c.exception_id == exception_id)
        .order_by(exception_actions.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(q)]


# --------------------------------------------------------------------------- messages

_LIST_COLUMNS = [c for c in messages.c if c.name != "payload"]


def list_messages(
    conn: Connection,
    *,
    tenant_id: str | None = None,
    stream: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[dict]:
    """Newest first, without payloads."""
    q = select(*_LIST_COLUMNS).order_by(messages.c.id.desc()).limit(limit)
    for column, value in (
        (messages.c.tenant_id, tenant_id),
        (messages.c.stream, stream),
        (messages.c.kind, kind),
        (messages.c.status, status),
    ):
        if value is not None:
            q = q.where(column == value)
    return [dict(r._mapping) for r in conn.execute(q)]


def message_detail(conn: Connection, message_id: int, tenant_id: str | None = None) -> dict | None:
    """One message with its payload, lineage records and exceptions (with their actions)."""
    q = select(messages).where(messages.c.id == message_id)
    if tenant_id is not None:
        q = q.where(messages.c.tenant_id == tenant_id)
    row = conn.execute(q).first()
    if row is None:
        return None
    detail = dict(row._mapping)
    tenant = detail["tenant_id"]
    detail["payload"] = _json_or_text(detail["payload"])
    trail = select(lineage).where(lineage.c.tenant_id == tenant, lineage.c.message_id == message_id)
    detail["lineage"] = [dict(r._mapping) for r in conn.execute(trail.order_by(lineage.c.id))]
    found = select(exceptions).where(exceptions.c.tenant_id == tenant, exceptions.c.message_id == message_id)
    detail["exceptions"] = [
        {**_record(r).to_dict(), "actions": actions_of(conn, tenant, r.id)}
        for r in conn.execute(found.order_by(exceptions.c.id))
    ]
    return detail


def _json_or_text(text: str):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
