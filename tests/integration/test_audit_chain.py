"""The audit log is a hash chain: tampering is detected, concurrent appends never fork it."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from crossdock.cli import app
from crossdock.store import audit
from crossdock.store.db import make_engine
from crossdock.store.tables import audit_log


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def append_many(engine, n: int, actor: str = "ops") -> list[int]:
    ids = []
    for i in range(n):
        with engine.begin() as conn:
            ids.append(
                audit.append(conn, actor, "test.action", tenant_id="acme", target=f"t{i}", details={"i": i})
            )
    return ids


def test_entries_link_to_their_predecessor(engine):
    append_many(engine, 3)
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings().all()
    assert rows[0]["prev_hash"] == audit.GENESIS
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
    assert audit.verify(engine) == audit.VerifyResult(True, 3)


def test_an_empty_log_verifies(engine):
    assert audit.verify(engine) == audit.VerifyResult(True, 0)


def test_verify_detects_an_edited_entry(engine):
    ids = append_many(engine, 4)
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == ids[1]).values(actor="mallory"))
    result = audit.verify(engine)
    assert (result.ok, result.first_broken_id) == (False, ids[1])


def test_verify_detects_an_edit_whose_hash_was_recomputed(engine):
    ids = append_many(engine, 4)
    with engine.begin() as conn:
        row = dict(conn.execute(select(audit_log).where(audit_log.c.id == ids[1])).mappings().one())
        row["details"] = json.dumps({"i": 99})
        conn.execute(
            update(audit_log)
            .where(audit_log.c.id == ids[1])
            .values(details=row["details"], hash=audit.entry_hash(row["prev_hash"], row))
        )
    result = audit.verify(engine)
    assert (result.ok, result.first_broken_id) == (False, ids[2])


def test_verify_detects_a_deleted_entry(engine):
    ids = append_many(engine, 4)
    with engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id == ids[2]))
    result = audit.verify(engine)
    assert (result.ok, result.first_broken_id) == (False, ids[3])


def test_details_are_redacted_before_they_are_written(engine):
    with engine.begin() as conn:
        audit.append(
            conn, "ops", "connection.update", details={"config": {"bearer_token": "tok-123", "url": "u"}}
        )
    with engine.connect() as conn:
        details = json.loads(conn.execute(select(audit_log.c.details)).scalar_one())
    assert details == {"config": {"bearer_token": "***", "url": "u"}}


def test_concurrent_appends_never_fork_the_chain(engine):
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            append_many(engine, 15, actor=name)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with engine.connect() as conn:
        prev_hashes = conn.execute(select(audit_log.c.prev_hash)).scalars().all()
    assert len(prev_hashes) == len(set(prev_hashes)) == 60
    assert audit.verify(engine) == audit.VerifyResult(True, 60)


def test_crossdock_audit_verify_exits_1_on_a_tampered_log(engine, db_url, monkeypatch):
    monkeypatch.setenv("CROSSDOCK_DATABASE_URL", db_url)
    ids = append_many(engine, 2)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True
    with engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == ids[0]).values(target="elsewhere"))
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1 and f"broken at entry {ids[0]}" in broken.output
