"""Configuration as code: `crossdock apply` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from crossdock.cli import app
from crossdock.configuration import ConfigErrors, SecretBox, load_text
from crossdock.configuration.secrets import map_tokens
from crossdock.store import audit
from crossdock.store.configuration import Status, apply_config, load_connection, rotate_secrets
from crossdock.store.db import make_engine
from crossdock.store.tables import (
    audit_log,
    config_versions,
    connections,
    metadata,
    routes,
    throttle_slots,
    throttles,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "crossdock.yaml"
EXAMPLE_TEXT = EXAMPLE.read_text()
SECRETS = re.findall(r"whsec_[A-Za-z0-9+/=]+", EXAMPLE_TEXT)
BEARER = "s3cr3t-bearer-value"


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def box():
    return SecretBox([Fernet.generate_key().decode()])


def apply(engine, box, text=EXAMPLE_TEXT, actor="ops@test"):
    return apply_config(engine, load_text(text, "crossdock.yaml"), "crossdock.yaml", text, actor, box)


def count(engine, table):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def all_text(engine) -> str:
    """Every value of every row of every table, as one string."""
    with engine.connect() as conn:
        return "\n".join(repr(row) for t in metadata.sorted_tables for row in conn.execute(select(t)).all())


def test_first_apply_creates_every_object(engine, box):
    report = apply(engine, box)
    assert {c.status for c in report.changes} == {Status.CREATED}
    assert {(c.object, c.id) for c in report.changes} >= {("tenant", "acme"), ("connection", "acme-erp")}
    assert report.version_id is not None
    assert count(engine, routes) == 3 and count(engine, throttles) == 2
    assert count(engine, throttle_slots) == 4 + 2


def test_applying_the_same_file_twice_reports_unchanged_and_writes_nothing(engine, box):
    apply(engine, box)
    again = apply(engine, box, actor="someone-else")
    assert {c.status for c in again.changes} == {Status.UNCHANGED}
    assert again.version_id is None and not again.changed
    assert count(engine, config_versions) == 1 and count(engine, audit_log) == 1


def test_changed_throttle_keeps_bucket_state_and_resizes_slots(engine, box):
    apply(engine, box)
    with engine.begin() as conn:
        conn.execute(
            update(throttles)
            .where(throttles.c.connection_id == "acme-erp")
            .values(tat=123.0, paused_until=9.0)
        )
    report = apply(
        engine,
        box,
        EXAMPLE_TEXT.replace(
            "rate: 10, burst: 20, max_concurrency: 4", "rate: 5, burst: 20, max_concurrency: 2"
        ),
    )
    assert [c.status for c in report.changes if c.object == "throttle" and c.id == "acme-erp"] == [
        Status.UPDATED
    ]
    with engine.connect() as conn:
        row = conn.execute(select(throttles).where(throttles.c.connection_id == "acme-erp")).mappings().one()
        slots = conn.execute(
            select(throttle_slots.c.slot).where(throttle_slots.c.connection_id == "acme-erp")
        ).scalars()
        assert (row["rate"], row["tat"], row["paused_until"]) == (5.0, 123.0, 9.0)
        assert sorted(slots) == [0, 1]
    assert count(engine, config_versions) == 2


def test_routes_are_replaced_and_absent_connections_are_reported_not_deleted(engine, box):
    apply(engine, box)
    globex_start = EXAMPLE_TEXT.index("  - id: globex")
    text = EXAMPLE_TEXT[:globex_start].replace(
        'topics: ["orders/*"]', 'topics: ["orders/create", "returns/*"]'
    )
    report = apply(engine, box, text)
    status = {(c.object, c.id): c.status for c in report.changes}
    assert status[("routes", "2 route(s)")] == Status.UPDATED
    assert status[("connection", "globex-erp")] == Status.NOT_IN_FILE
    assert status[("tenant", "globex")] == Status.NOT_IN_FILE
    assert load_connection(engine, "globex-erp") is not None
    with engine.connect() as conn:
        topics = conn.execute(select(routes.c.topic).where(routes.c.tenant_id == "acme")).scalars()
        assert sorted(topics) == ["orders/create", "returns/*"]


def test_a_connection_id_cannot_move_to_another_tenant(engine, box):
    apply(engine, box)
    text = EXAMPLE_TEXT.replace("id: acme-erp", "id: acme-erp-2").replace("to: acme-erp", "to: acme-erp-2")
    text = text.replace("id: globex-erp", "id: acme-erp").replace("to: globex-erp", "to: acme-erp")
    with pytest.raises(ConfigErrors, match="connection 'acme-erp' already belongs to tenant 'acme'"):
        apply(engine, box, text)


def test_secrets_never_reach_the_database_in_plaintext(engine, box, db_url):
    text = EXAMPLE_TEXT.replace(
        "headers: {X-Tenant: acme}", f"headers: {{X-Tenant: acme}}\n          bearer_token: {BEARER}"
    )
    apply(engine, box, text)
    dump = all_text(engine)
    for secret in [*SECRETS, BEARER]:
        assert secret not in dump
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert not any(secret.encode() in raw for secret in [*SECRETS, BEARER])


def test_config_version_holds_sealed_secrets_that_open_to_the_file_values(engine, box):
    apply(engine, box)
    with engine.connect() as conn:
        content = conn.execute(select(config_versions.c.content)).scalar_one()
    assert not any(s in content for s in SECRETS)
    doc = json.loads(content)
    sealed = doc["tenants"][0]["connections"][0]["config"]["secret"]
    assert sealed.startswith("enc:") and box.open(sealed) == SECRETS[0]


def test_env_references_are_stored_as_references(engine, box):
    apply(engine, box, EXAMPLE_TEXT.replace(SECRETS[0], "env:ACME_WEBHOOK_SECRET"))
    stored = load_connection(engine, "acme-events")
    assert stored.config.secret == "env:ACME_WEBHOOK_SECRET"
    assert (
        box.open_secrets(stored.config.model_dump(), stored.kind, env={"ACME_WEBHOOK_SECRET": "x" * 20})[
            "secret"
        ]
        == "x" * 20
    )


def test_load_connection_returns_the_sealed_config(engine, box):
    apply(engine, box)
    stored = load_connection(engine, "acme-events")
    assert (stored.tenant_id, stored.kind, stored.enabled) == ("acme", "webhook", True)
    assert (
        stored.config.secret.startswith("enc:") and box.open(stored.config.secret, strict=True) == SECRETS[0]
    )
    assert load_connection(engine, "nope") is None


def test_rotation_leaves_every_secret_readable_with_only_the_new_key(engine, box):
    apply(engine, box)
    new = Fernet.generate_key().decode()
    counts = rotate_secrets(engine, SecretBox([new, *box.keys]))
    assert counts == {"connections": 2, "tenants": 0, "config_versions": 1}
    only_new, only_old = SecretBox([new]), SecretBox(box.keys)
    with engine.connect() as conn:
        stored = [
            *conn.execute(select(connections.c.config)).scalars(),
            *conn.execute(select(config_versions.c.content)).scalars(),
        ]
    opened: list[str] = []
    for text in stored:
        map_tokens(json.loads(text), lambda t: opened.append(only_new.open(t)) or t)
    assert sorted(set(opened)) == sorted(SECRETS)
    with pytest.raises(Exception, match="cannot be decrypted"):
        only_old.open(load_connection(engine, "acme-events").config.secret)


def test_apply_after_rotation_is_still_unchanged(engine, box):
    apply(engine, box)
    rotated = SecretBox([Fernet.generate_key().decode(), *box.keys])
    rotate_secrets(engine, rotated)
    assert not apply(engine, SecretBox(rotated.keys[:1])).changed


def test_apply_is_audited_in_the_hash_chain(engine, box):
    apply(engine, box)
    with engine.connect() as conn:
        entry = conn.execute(select(audit_log)).mappings().one()
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "ops@test",
        "config.apply",
        "crossdock.yaml",
    )
    assert "connection:acme-events" in json.loads(entry["details"])["created"]
    assert audit.verify(engine).ok


# --- the command line ---------------------------------------------------------------


@pytest.fixture
def cli_env(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_DATABASE_URL", db_url)
    monkeypatch.setenv("CROSSDOCK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CROSSDOCK_SECRET_KEY", raising=False)
    return tmp_path / "var"


def test_crossdock_apply_end_to_end_on_the_example(cli_env, db_url):
    runner = CliRunner()
    first = runner.invoke(app, ["apply", "-f", str(EXAMPLE), "--actor", "ci"])
    assert first.exit_code == 0, first.output
    assert "acme-events" in first.output and "created" in first.output
    second = runner.invoke(app, ["apply", "-f", str(EXAMPLE), "--json"])
    assert second.exit_code == 0, second.output
    report = json.loads(second.stdout)
    assert report["changed"] is False and {c["status"] for c in report["changes"]} == {"unchanged"}
    assert not any(s in first.output + second.output for s in SECRETS)
    assert (cli_env / "secret.key").exists()


def test_crossdock_apply_reports_every_error_and_exits_2(cli_env, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE_TEXT.replace("rate: 10", "rate: 0").replace("tolerance_seconds: 300", "tolerence: 300")
    )
    result = CliRunner().invoke(app, ["apply", "-f", str(bad)])
    assert result.exit_code == 2
    assert (
        f"{bad}:23: tenants[0].connections[1].throttle.rate: Input should be greater than 0" in result.output
    )
    assert (
        f"{bad}:16: tenants[0].connections[0].config.tolerence: Extra inputs are not permitted"
        in result.output
    )
    assert not any(s in result.output for s in SECRETS)


def test_crossdock_secrets_rotate_with_the_key_file(cli_env, db_url):
    runner = CliRunner()
    assert runner.invoke(app, ["apply", "-f", str(EXAMPLE)]).exit_code == 0
    old_keys = (cli_env / "secret.key").read_text().split()
    result = runner.invoke(app, ["secrets", "rotate", "--actor", "ops"])
    assert result.exit_code == 0, result.output
    keys = (cli_env / "secret.key").read_text().split()
    assert keys[1:] == old_keys and len(keys) == 2
    engine = make_engine(db_url)
    try:
        secret = load_connection(engine, "acme-events").config.secret
        assert SecretBox(keys[:1]).open(secret) == SECRETS[0]
        with engine.connect() as conn:
            assert (
                conn.execute(select(audit_log.c.action).order_by(audit_log.c.id.desc())).first()[0]
                == "secrets.rotate"
            )
        assert audit.verify(engine).ok
    finally:
        engine.dispose()
    assert not any(s in result.output for s in SECRETS)


def test_crossdock_secrets_rotate_with_the_env_ring_prints_the_ring_to_set(cli_env, monkeypatch, db_url):
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("CROSSDOCK_SECRET_KEY", key)
    runner = CliRunner()
    assert runner.invoke(app, ["apply", "-f", str(EXAMPLE)]).exit_code == 0
    result = runner.invoke(app, ["secrets", "rotate"])
    assert result.exit_code == 0, result.output
    ring = re.search(r"CROSSDOCK_SECRET_KEY=(\S+)", result.output).group(1).split(",")
    assert ring[1:] == [key] and len(ring) == 2
    monkeypatch.setenv("CROSSDOCK_SECRET_KEY", ",".join(ring))
    assert runner.invoke(app, ["secrets", "rotate", "--reencrypt"]).exit_code == 0
    engine = make_engine(db_url)
    try:
        assert SecretBox(ring[:1]).open(load_connection(engine, "acme-events").config.secret) == SECRETS[0]
    finally:
        engine.dispose()
