"""`crossdock users`: console accounts created, listed and disabled from the command line."""

from __future__ import annotations

import json
import time

from sqlalchemy import select
from typer.testing import CliRunner

from crossdock.cli import app
from crossdock.store import users as accounts
from crossdock.store.db import make_engine
from crossdock.store.tables import audit_log, console_sessions, users
from tests.support.tenants import ensure_tenants


def test_users_are_created_listed_and_disabled_and_disabling_ends_their_sessions(settings):
    env = {"CROSSDOCK_DATABASE_URL": settings.database_url, "CROSSDOCK_VAR_DIR": str(settings.var_dir)}
    run = CliRunner().invoke
    args = ["users", "create", "ann", "--role", "tenant_viewer", "--tenant", "acme", "--password-stdin"]
    unknown = run(app, args, input="a long enough secret\n", env=env)
    assert unknown.exit_code == 2 and "no tenant acme" in unknown.output
    engine = make_engine(settings.database_url)
    ensure_tenants(engine, "acme")
    engine.dispose()
    made = run(
        app,
        [
            "users",
            "create",
            "vic",
            "--role",
            "tenant_viewer",
            "--tenant",
            "acme",
            "--password-stdin",
            "--actor",
            "ops",
        ],
        input="a long enough secret\n",
        env=env,
    )
    assert made.exit_code == 0, made.output
    refused = run(
        app,
        ["users", "create", "eve", "--role", "tenant_viewer", "--all-tenants", "--password-stdin"],
        input="a long enough secret\n",
        env=env,
    )
    assert refused.exit_code == 2 and "cannot see every tenant" in refused.output
    short = run(
        app,
        ["users", "create", "sam", "--role", "partner_operator", "--all-tenants", "--password-stdin"],
        input="short\n",
        env=env,
    )
    assert short.exit_code == 2 and "at least" in short.output
    listed = json.loads(run(app, ["users", "list", "--json"], env=env).output)
    assert [(u["username"], u["role"], u["tenants"]) for u in listed] == [("vic", "tenant_viewer", ["acme"])]

    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as c:
            user = accounts.get_user(c, "vic")
            assert user.password_hash.startswith("$argon2id$")
            assert accounts.check_password(user, "a long enough secret")
            token = accounts.open_session(c, user.id, time.time(), 3600)
            assert accounts.session_user(c, token, time.time()).username == "vic"
        assert run(app, ["users", "disable", "vic", "--actor", "ops"], env=env).exit_code == 0
        with engine.connect() as c:
            assert accounts.session_user(c, token, time.time()) is None
            assert c.execute(select(console_sessions)).all() == []
            assert c.execute(select(users.c.disabled_at)).scalar() is not None
            assert not accounts.check_password(accounts.get_user(c, "vic"), "a long enough secret")
            audited = [(r.actor, r.action) for r in c.execute(select(audit_log).order_by(audit_log.c.id))]
        assert audited == [("ops", "user.create"), ("ops", "user.disable")]
    finally:
        engine.dispose()
