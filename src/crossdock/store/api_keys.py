"""API keys for the REST API: created once (the plaintext is shown then and never again),
verified by hash, revoked, listed.

A key is `cdk_` + 32 random bytes (URL-safe base64). Only its SHA-256 is stored: a fast,
unsalted hash is right here because the key is a uniformly random 256-bit secret, not a
password — there is nothing to guess or to precompute, so a slow password hash would
only cost every API request time. Lookup is by the hash (unique index), so comparing
never touches the plaintext. Creating and revoking are audited."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, insert, select, update

from crossdock.access import ALL_TENANTS, Principal, Role
from crossdock.store import audit
from crossdock.store.read_models import unknown_tenants
from crossdock.store.tables import api_keys

KEY_PREFIX = "cdk_"
SHOWN_CHARS = 8  # the start of a key kept in clear, so listings can tell keys apart
TOUCH_EVERY = 60.0  # seconds: last_used_at is refreshed at most this often


class ApiKeyError(ValueError):
    """A key cannot be created as asked (unknown role, no tenants, `*` for a tenant role)."""


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    key_prefix: str
    role: Role
    tenants: tuple[str, ...]
    created_at: float
    created_by: str
    revoked_at: float | None = None
    last_used_at: float | None = None

    @property
    def principal(self) -> Principal:
        return Principal(
            name=f"api-key:{self.id}:{self.name}", role=self.role, tenants=frozenset(self.tenants)
        )

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "key_prefix": self.key_prefix,
            "role": self.role.value,
            "tenants": list(self.tenants),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "revoked_at": self.revoked_at,
            "last_used_at": self.last_used_at,
        }


@dataclass(frozen=True)
class Created:
    key: ApiKey
    plaintext: str  # shown once


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create(
    conn: Connection, name: str, role: Role | str, tenants: list[str], actor: str, now: float
) -> Created:
    """A new key; the plaintext is in the answer and nowhere else."""
    role, scope = _checked(name, role, tenants)
    if unknown := unknown_tenants(conn, scope):
        raise ApiKeyError(f"no tenant {', '.join(unknown)}: apply the tenant first (crossdock apply)")
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    values = {
        "name": name.strip(),
        "key_prefix": plaintext[:SHOWN_CHARS],
        "key_hash": hash_key(plaintext),
        "role": role.value,
        "tenants": orjson.dumps(list(scope)).decode(),
        "created_at": now,
        "created_by": actor,
    }
    key_id = conn.execute(insert(api_keys).values(**values).returning(api_keys.c.id)).scalar_one()
    details = {
        "name": values["name"],
        "role": role.value,
        "tenants": list(scope),
        "prefix": values["key_prefix"],
    }
    audit.append(conn, actor, "api_key.create", target=f"api_key:{key_id}", details=details)
    key = ApiKey(key_id, values["name"], values["key_prefix"], role, scope, now, actor)
    return Created(key, plaintext)


MAX_NAME = 160


def _checked(name: str, role: Role | str, tenants: list[str]) -> tuple[Role, tuple[str, ...]]:
    # The key acts as `api-key:<id>:<name>`, recorded as who did what (200 characters at most).
    if not name or not name.strip() or len(name.strip()) > MAX_NAME or "\x00" in name:
        raise ApiKeyError(f"a key's name is 1 to {MAX_NAME} characters, without NUL")
    try:
        role = Role(role)
    except ValueError:
        raise ApiKeyError(f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}") from None
    scope = tuple(dict.fromkeys(t.strip() for t in tenants if t and t.strip()))
    if not scope:
        raise ApiKeyError("a key needs at least one tenant, or all tenants (partner roles)")
    if ALL_TENANTS in scope:
        if role not in (Role.PARTNER_ADMIN, Role.PARTNER_OPERATOR):
            raise ApiKeyError(f"only partner roles may act for all tenants, not {role.value}")
        scope = (ALL_TENANTS,)
    return role, scope


def lookup(conn: Connection, plaintext: str) -> ApiKey | None:
    """The live (unrevoked) key with this plaintext, or None."""
    if not plaintext or not plaintext.startswith(KEY_PREFIX):
        return None
    row = conn.execute(
        select(api_keys).where(api_keys.c.key_hash == hash_key(plaintext), api_keys.c.revoked_at.is_(None))
    ).first()
    return _key(row) if row else None


def verify(conn: Connection, plaintext: str) -> Principal | None:
    found = lookup(conn, plaintext)
    return found.principal if found else None


def touch(conn: Connection, key_id: int, now: float) -> None:
    """Record use; callers skip it when `last_used_at` is fresher than TOUCH_EVERY."""
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))


def revoke(conn: Connection, key_id: int, actor: str, now: float) -> bool:
    """False when there is no such live key."""
    done = conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    if done:
        audit.append(conn, actor, "api_key.revoke", target=f"api_key:{key_id}", details={"at": now})
    return bool(done)


def list_keys(conn: Connection, include_revoked: bool = False) -> list[ApiKey]:
    q = select(api_keys).order_by(api_keys.c.id)
    if not include_revoked:
        q = q.where(api_keys.c.revoked_at.is_(None))
    return [_key(r) for r in conn.execute(q)]


def _key(r) -> ApiKey:
    return ApiKey(
        id=r.id,
        name=r.name,
        key_prefix=r.key_prefix,
        role=Role(r.role),
        tenants=tuple(orjson.loads(r.tenants)),
        created_at=r.created_at,
        created_by=r.created_by,
        revoked_at=r.revoked_at,
        last_used_at=r.last_used_at,
    )
