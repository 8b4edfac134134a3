"""The exception desk on a real engine: retry, edit-and-resubmit and resolve parked messages,
audited, tenant-scoped, keeping per-key order."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlalchemy import select

from crossdock import bootstrap
from crossdock.errors import PermanentError
from crossdock.records import ExceptionStatus, NewMessage, Status
from crossdock.store import audit
from crossdock.store import exceptions as desk
from crossdock.store import messages as store
from crossdock.store.tables import audit_log, exception_actions, exceptions

SKU_MAP: dict[str, str] = {}  # the tenant's "mapping"; tests fix it by adding entries
SEEN: list[tuple[str, int]] = []  # (tenant, n) of handled order steps, in handling order


def _hooks(registry):
    @registry.handler("order.line")
    async def line(msg, ctx):
        sku = ctx.payload["sku"]
        if sku not in SKU_MAP:
            raise PermanentError("mapping.sku_unknown", f"SKU {sku} is not mapped", f"Map {sku}.")
        if ctx.payload.get("bad"):
            raise PermanentError("validation.quantity", "quantity must be positive", "Fix the quantity.")
        SEEN.append((msg.tenant_id, ctx.payload["n"]))


@pytest.fixture
def hub(settings):
    SKU_MAP.clear()
    SEEN.clear()
    h = bootstrap.build(settings, hooks=[_hooks])
    yield h
    h.close()


def _put(hub, tenant: str, key: str, payload: dict, ordering_key: str | None = None) -> int:
    new = NewMessage(
        tenant, "order.line", key, json.dumps(payload), ordering_key=ordering_key, correlation_id=key
    )
    return hub.database.transaction(store.insert, [new], time.time())[0].message_id


def _work(hub) -> None:
    asyncio.run(hub.worker().run_until_idle(timeout=20))


def _message(hub, mid: int):
    with hub.engine.connect() as c:
        return store.get(c, mid)


def _exception_of(hub, mid: int):
    with hub.engine.connect() as c:
        return desk.list_exceptions(c, desk.ExceptionFilter(message_ids=(mid,), status=None))[0]


def _act(hub, fn, *args):
    return hub.database.transaction(fn, *args)


def test_parked_message_is_retried_with_fresh_budget_and_completes(hub):
    mid = _put(hub, "acme", "l-1", {"sku": "A-1", "n": 1})
    _work(hub)
    assert _message(hub, mid).status is Status.PARKED
    exc = _exception_of(hub, mid)
    SKU_MAP["A-1"] = "1001"
    result = _act(
        hub, desk.retry, desk.ExceptionFilter.for_tenant("acme", ids=(exc.id,)), "alice", time.time()
    )
    assert result.exception_ids == [exc.id] and result.message_ids == [mid]
    m = _message(hub, mid)
    assert m.status is Status.READY and m.attempts == 0 and m.first_attempt_at is None
    # the fresh budget does not hide that the step ran: one that acts outside looks first
    assert m.earlier_attempts == 1 and m.tried_before
    assert _exception_of(hub, mid).status == ExceptionStatus.RETRIED
    _work(hub)
    assert _message(hub, mid).status is Status.DONE
    _act(hub, desk.clear_on_success, [("acme", mid)], time.time())
    assert _exception_of(hub, mid).status == ExceptionStatus.CLEARED


def test_bulk_retry_by_category_prefix_completes_all_once_the_mapping_is_fixed(hub):
    mapped = [_put(hub, "acme", f"l-{i}", {"sku": f"S-{i}", "n": i}) for i in range(5)]
    SKU_MAP["Q-1"] = "x"
    invalid = _put(hub, "acme", "l-bad", {"sku": "Q-1", "n": 9, "bad": True})
    _work(hub)
    with hub.engine.connect() as c:
        groups = desk.group_by_category(c, desk.ExceptionFilter.for_tenant("acme"))
    assert groups == {"mapping.sku_unknown": 5, "validation.quantity": 1}
    SKU_MAP.update({f"S-{i}": str(i) for i in range(5)})
    result = _act(
        hub, desk.retry, desk.ExceptionFilter.for_tenant("acme", category="mapping."), "bob", time.time()
    )
    assert result.count == 5
    _work(hub)
    assert all(_message(hub, m).status is Status.DONE for m in mapped)
    assert _message(hub, invalid).status is Status.PARKED
    assert _exception_of(hub, invalid).status == ExceptionStatus.OPEN


def test_a_retried_message_that_fails_again_reopens_its_exception(hub):
    mid = _put(hub, "acme", "l-1", {"sku": "NOPE", "n": 1})
    _work(hub)
    _act(hub, desk.retry, desk.ExceptionFilter.for_tenant("acme"), "alice", time.time())
    _work(hub)
    assert _message(hub, mid).status is Status.PARKED
    assert _exception_of(hub, mid).status == ExceptionStatus.OPEN


def test_resubmitted_message_keeps_its_place_in_the_key_and_original_stays_for_audit(hub):
    SKU_MAP["A"] = "1"
    first = _put(hub, "acme", "o-1.1", {"sku": "A", "n": 1, "bad": True}, ordering_key="o-1")
    later = [_put(hub, "acme", f"o-1.{n}", {"sku": "A", "n": n}, ordering_key="o-1") for n in (2, 3)]
    _work(hub)
    assert SEEN == [] and all(
        _message(hub, m).status is Status.READY for m in later
    )  # held behind the parked one
    exc = _exception_of(hub, first)
    result = _act(
        hub, desk.resubmit, exc.id, json.dumps({"sku": "A", "n": 1}), "carol", time.time(), "qty fixed"
    )
    (new_id,) = result.new_message_ids
    original, copy = _message(hub, first), _message(hub, new_id)
    assert original.status is Status.RESUBMITTED
    assert copy.resubmitted_from == first and copy.seq == original.seq and copy.idempotency_key == "o-1.1#r1"
    assert (copy.ordering_key, copy.correlation_id, copy.stream) == ("o-1", "o-1.1", original.stream)
    assert copy.attempts == 0 and copy.tried_before  # the original's attempts may have acted
    with hub.engine.connect() as c:
        assert (
            c.execute(select(store.messages.c.resubmitted_as).where(store.messages.c.id == first)).scalar()
            == new_id
        )
    assert _exception_of(hub, first).status == ExceptionStatus.RESUBMITTED
    _work(hub)
    assert SEEN == [("acme", 1), ("acme", 2), ("acme", 3)]


def test_resubmit_refuses_a_payload_that_is_not_json(hub):
    mid = _put(hub, "acme", "l-1", {"sku": "X", "n": 1})
    _work(hub)
    exc = _exception_of(hub, mid)
    with pytest.raises(desk.InvalidPayload):
        _act(hub, desk.resubmit, exc.id, "{not json", "carol", time.time(), None)
    assert (
        _message(hub, mid).status is Status.PARKED and _exception_of(hub, mid).status == ExceptionStatus.OPEN
    )


def test_resolve_needs_a_reason_and_releases_the_key(hub):
    SKU_MAP["A"] = "1"
    first = _put(hub, "acme", "o-9.1", {"sku": "A", "n": 1, "bad": True}, ordering_key="o-9")
    second = _put(hub, "acme", "o-9.2", {"sku": "A", "n": 2}, ordering_key="o-9")
    _work(hub)
    flt = desk.ExceptionFilter.for_tenant("acme", message_ids=(first,))
    with pytest.raises(desk.ReasonRequired):
        _act(hub, desk.resolve, flt, "  ", "dave", time.time())
    now = time.time()
    assert _act(hub, desk.resolve, flt, "cancelled by phone", "dave", now).count == 1
    exc = _exception_of(hub, first)
    assert (exc.status, exc.resolution, exc.closed_by, exc.closed_at) == (
        "resolved",
        "cancelled by phone",
        "dave",
        now,
    )
    assert _message(hub, first).status is Status.RESOLVED
    _work(hub)
    assert _message(hub, second).status is Status.DONE and SEEN == [("acme", 2)]


def test_every_action_is_recorded_with_actor_and_time_and_audited(hub):
    ids = [_put(hub, "acme", f"l-{i}", {"sku": "Z", "n": i}) for i in range(3)]
    _work(hub)
    exc = [_exception_of(hub, m).id for m in ids]
    t = time.time()
    _act(hub, desk.retry, desk.ExceptionFilter(ids=(exc[0],)), "alice", t)
    new = _act(hub, desk.resubmit, exc[1], '{"sku": "Z", "n": 1}', "bob", t + 1, "edited").new_message_ids[0]
    _act(hub, desk.resolve, desk.ExceptionFilter(ids=(exc[2],)), "duplicate order", "carol", t + 2)
    with hub.engine.connect() as c:
        acts = c.execute(select(exception_actions).order_by(exception_actions.c.id)).all()
        entries = c.execute(select(audit_log).where(audit_log.c.action.like("exception.%"))).all()
    assert [(a.action, a.actor, a.at, a.exception_id, a.tenant_id) for a in acts] == [
        ("retry", "alice", t, exc[0], "acme"),
        ("resubmit", "bob", t + 1, exc[1], "acme"),
        ("resolve", "carol", t + 2, exc[2], "acme"),
    ]
    assert (
        acts[1].new_message_id == new and acts[1].reason == "edited" and acts[2].reason == "duplicate order"
    )
    assert sorted((e.action, e.actor, e.target, e.tenant_id) for e in entries) == [
        ("exception.resolve", "carol", f"exception:{exc[2]}", "acme"),
        ("exception.resubmit", "bob", f"exception:{exc[1]}", "acme"),
        ("exception.retry", "alice", f"exception:{exc[0]}", "acme"),
    ]
    assert all(e.at > 0 for e in entries) and audit.verify(hub.engine).ok


def test_a_filter_for_one_tenant_never_touches_another(hub):
    a = _put(hub, "tenant-a", "l-1", {"sku": "Q", "n": 1})
    b = _put(hub, "tenant-b", "l-1", {"sku": "Q", "n": 1})
    _work(hub)
    exc_b = _exception_of(hub, b)
    for_a = desk.ExceptionFilter.for_tenant("tenant-a", category="mapping.")
    assert _act(hub, desk.retry, for_a, "alice", time.time()).message_ids == [a]
    assert _act(hub, desk.resolve, for_a, "n/a", "alice", time.time()).count == 0  # nothing open left in A
    with pytest.raises(desk.NotOpen):
        _act(hub, lambda c: desk.resubmit(c, exc_b.id, "{}", "alice", time.time(), tenant_id="tenant-a"))
    assert (
        _act(
            hub, desk.retry, desk.ExceptionFilter.for_tenant("tenant-a", ids=(exc_b.id,)), "x", time.time()
        ).count
        == 0
    )
    assert _message(hub, b).status is Status.PARKED and _exception_of(hub, b).status == ExceptionStatus.OPEN
    with hub.engine.connect() as c:
        assert (
            c.execute(select(exception_actions).where(exception_actions.c.tenant_id == "tenant-b")).all()
            == []
        )
        assert (
            c.execute(select(exceptions.c.status).where(exceptions.c.tenant_id == "tenant-b")).scalar()
            == "open"
        )
