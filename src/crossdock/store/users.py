"""Console users: accounts with an argon2id password, and the sessions of signed-in browsers.

A session token is 32 random bytes handed to the browser once; the table keeps only
its SHA-256, so a copy of the database opens no session. Every sign-in, good or bad,
is written to the audit log by `record_login`. Password hashing is deliberately slow:
callers run `check_password` outside any database transaction.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, insert, select, update

from crossdock.access import ALL_TENANTS, Principal, Role
from crossdock.store import audit
from crossdock.store.read_models import unknown_tenants
from crossdock.store.tables import console_sessions, users

_HASHER = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106 low-memory)
MIN_PASSWORD = 10


class UserError(Exception):
    """A user could not be created or changed; the message says why in operator words."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role
    tenants: tuple[str, ...]
    created_at: float
    disabled_at: float | None
    last_login_at: float | None
    password_hash: str = ""

    @property
    def principal(self) -> Principal:
        return Principal(name=f"user:{self.username}", role=self.role, tenants=frozenset(self.tenants))


def _user(r) -> User:
    return User(
        id=r.id,
        username=r.username,
        role=Role(r.role),
        tenants=tuple(orjson.loads(r.tenants)),
        created_at=r.created_at,
        disabled_at=r.disabled_at,
        last_login_at=r.last_login_at,
        password_hash=r.password_hash,
    )


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """Checked when the username is unknown, so a miss costs as much as a wrong password."""
    return _HASHER.hash(secrets.token_hex(16))


def check_password(user: User | None, password: str) -> bool:
    """Slow on purpose, and as slow for an unknown or disabled user as for a wrong password."""
    try:
        ok = _HASHER.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        ok = False
    return ok and user is not None and user.disabled_at is None


def create_user(
    conn: Connection,
    username: str,
    password_hash: str,
    role: Role,
    tenants: list[str],
    actor: str,
    now: float,
) -> int:
    """Partner roles may hold every tenant (`*`); tenant roles need named tenants."""
    username = username.strip()
    if not username or len(username) > 190:  # acts as `user:<name>`, recorded in 200 characters
        raise UserError("a username is 1 to 190 characters")
    partner = role in (Role.PARTNER_ADMIN, Role.PARTNER_OPERATOR)
    if ALL_TENANTS in tenants and not partner:
        raise UserError(f"a {role.value} cannot see every tenant; name its tenants")
    if not tenants:
        raise UserError("give the user's tenants (or every tenant, for partner roles)")
    if unknown := unknown_tenants(conn, tenants):
        raise UserError(f"no tenant {', '.join(unknown)}: apply the tenant first (crossdock apply)")
    if get_user(conn, username) is not None:
        raise UserError(f"user {username} already exists")
    values = {
        "username": username,
        "password_hash": password_hash,
        "role": role.value,
        "tenants": orjson.dumps(sorted(set(tenants))).decode(),
        "created_at": now,
    }
    user_id = conn.execute(insert(users).values(**values).returning(users.c.id)).scalar_one()
    details = {"role": role.value, "tenants": sorted(set(tenants))}
    audit.append(conn, actor, "user.create", target=f"user:{username}", details=details)
    return user_id


def get_user(conn: Connection, username: str) -> User | None:
    r = conn.execute(select(users).where(users.c.username == username.strip())).first()
    return _user(r) if r else None


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(users).order_by(users.c.username))]


def disable_user(conn: Connection, username: str, actor: str, now: float) -> bool:
    """Disable the account and close its sessions; False if there is no such active user."""
    user = get_user(conn, username)
    if user is None or user.disabled_at is not None:
        return False
    conn.execute(update(users).where(users.c.id == user.id).values(disabled_at=now))
    conn.execute(delete(console_sessions).where(console_sessions.c.user_id == user.id))
    audit.append(conn, actor, "user.disable", target=f"user:{user.username}", details={})
    return True


def record_login(
    conn: Connection, username: str, user: User | None, ok: bool, remote: str, now: float
) -> None:
    """Audit one sign-in attempt; a good one also stamps `last_login_at`."""
    if ok and user is not None:
        conn.execute(update(users).where(users.c.id == user.id).values(last_login_at=now))
    reason = (
        "ok"
        if ok
        else ("unknown_user" if user is None else "disabled" if user.disabled_at else "bad_password")
    )
    audit.append(
        conn,
        f"user:{username[:190]}",
        "console.login" if ok else "console.login_failed",
        target=f"user:{username[:190]}",
        details={"result": reason, "remote": remote},
    )


# --------------------------------------------------------------------------- sessions


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(conn: Connection, user_id: int, now: float, ttl_seconds: float) -> str:
    """A new session for the user; answers the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(console_sessions).values(
            token_hash=token_hash(token), user_id=user_id, created_at=now, expires_at=now + ttl_seconds
        )
    )
    conn.execute(delete(console_sessions).where(console_sessions.c.expires_at < now))  # sweep old ones
    return token


def session_user(conn: Connection, token: str, now: float) -> User | None:
    """The enabled user of a live session, or None."""
    q = (
        select(users)
        .join(console_sessions, console_sessions.c.user_id == users.c.id)
        .where(
            console_sessions.c.token_hash == token_hash(token),
            console_sessions.c.expires_at > now,
            users.c.disabled_at.is_(None),
        )
    )
    r = conn.execute(q).first()
    return _user(r) if r else None


def close_session(conn: Connection, token: str) -> None:
    conn.execute(delete(console_sessions).where(console_sessions.c.token_hash == token_hash(token)))


def csrf_token(session_token: str) -> str:
    """The per-session CSRF token: derived from the session token, so nothing more is stored,
    and useless to anyone who cannot already read the (HttpOnly) session cookie."""
    return hmac.new(session_token.encode(), b"crossdock-console-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(session_token), presented or "")
