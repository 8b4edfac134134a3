"""Retries follow the error's class: the policy as values, then the engine driving it on a fake clock."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import select

from crossdock import bootstrap
from crossdock.domain.errors import QuantityRuleViolation
from crossdock.engine import retry
from crossdock.engine.retry import Park, RetryAt, RetryPolicy
from crossdock.errors import Owner, PermanentError, Severity, ThrottledError, TransientError
from crossdock.records import NewMessage, Status
from crossdock.store import messages as store
from crossdock.store.tables import exceptions
from tests.support.clock import FakeClock

NOW = 1_700_000_000.0
POLICY = RetryPolicy(base_seconds=2.0, cap_seconds=60.0, max_attempts=8, max_age_seconds=3600.0)


class TopOfRange:
    """An rng that always draws the upper bound and remembers what it was asked."""

    def __init__(self, fraction: float = 1.0) -> None:
        self.fraction = fraction
        self.asked: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.asked.append((a, b))
        return a + (b - a) * self.fraction


def decide(error: BaseException, attempts: int, *, age: float = 0.0, rng=None, policy: RetryPolicy = POLICY):
    return policy.decide(error, attempts=attempts, first_attempt_at=NOW - age, now=NOW, rng=rng)


# --------------------------------------------------------------------------- the policy


@pytest.mark.parametrize("attempts", range(1, 8))
def test_transient_failure_backs_off_with_full_jitter_under_an_exponential_ceiling(attempts):
    ceiling = min(60.0, 2.0 * 2 ** (attempts - 1))
    rng = TopOfRange()
    d = decide(TransientError("503 from the ERP"), attempts, rng=rng)
    assert isinstance(d, RetryAt) and d.count_attempt
    assert rng.asked == [(0.0, ceiling)]
    assert d.at == NOW + ceiling
    seeded = random.Random(attempts)
    draws = [decide(TransientError("timeout"), attempts, rng=seeded).at - NOW for _ in range(500)]
    assert all(0.0 <= w <= ceiling for w in draws)
    assert max(draws) - min(draws) > ceiling * 0.8, "full jitter spreads over the whole range"


def test_transient_failure_parks_as_exhausted_at_max_attempts():
    assert isinstance(decide(TransientError("timeout"), 7), RetryAt)
    d = decide(TransientError("timeout"), 8)
    assert isinstance(d, Park)
    assert d.category == "transient.exhausted" and d.owner is Owner.PARTNER and d.severity is Severity.HIGH
    assert "8 attempts" in d.summary and d.context == {"attempts": 8}


def test_transient_failure_parks_as_exhausted_past_max_age():
    assert isinstance(decide(TransientError("timeout"), 2, age=3599.0), RetryAt)
    d = decide(TransientError("timeout"), 2, age=3600.0)
    assert isinstance(d, Park) and d.category == "transient.exhausted"


@pytest.mark.parametrize("attempts", [1, 8, 50])
def test_throttled_failure_waits_as_told_and_does_not_count_the_attempt(attempts):
    d = decide(ThrottledError(17.5, "429 from Amazon"), attempts, age=10 * 3600.0)
    assert d == RetryAt(NOW + 17.5, count_attempt=False, reason=d.reason)
    assert "429 from Amazon" in d.reason


def test_permanent_failure_parks_at_once_with_category_hint_and_owner():
    d = decide(
        PermanentError("mapping.sku_unknown", "SKU X-1 is not mapped", "Map X-1.", context={"sku": "X-1"}), 1
    )
    assert isinstance(d, Park)
    assert (d.category, d.summary, d.hint) == ("mapping.sku_unknown", "SKU X-1 is not mapped", "Map X-1.")
    assert d.owner is Owner.TENANT and d.severity is Severity.HIGH and d.context == {"sku": "X-1"}
    auth = decide(PermanentError("auth.rejected", "token revoked", severity=Severity.CRITICAL), 1)
    assert isinstance(auth, Park) and auth.owner is Owner.PARTNER and auth.severity is Severity.CRITICAL


def test_a_broken_rule_of_the_model_parks_at_once_with_its_code_and_hint():
    error = QuantityRuleViolation("cannot ship 2 of line L1: only 0 open", "Check the shipment's lines.")
    d = decide(error, 1)
    assert isinstance(d, Park)
    assert (d.category, d.summary, d.hint) == (
        "business.quantity_rule",
        "cannot ship 2 of line L1: only 0 open",
        "Check the shipment's lines.",
    )
    assert d.owner is Owner.TENANT


def test_unknown_exception_is_retried_then_parked_as_defect_unhandled():
    first = decide(KeyError("sku"), 1, rng=TopOfRange())
    assert isinstance(first, RetryAt) and first.count_attempt and first.at == NOW + 2.0
    d = decide(KeyError("sku"), 8)
    assert isinstance(d, Park) and d.category == "defect.unhandled" and "KeyError" in d.summary


# --------------------------------------------------------------------------- the engine on a fake clock


def test_worker_follows_the_transient_schedule_on_a_fake_clock(settings, monkeypatch):
    """attempts and next_attempt_at are recorded as the policy decided; not due → not claimed."""
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=3.0, max_attempts=4)
    rng = TopOfRange(fraction=0.5)
    monkeypatch.setattr(retry, "random", rng)  # the policy's default rng
    clock = FakeClock(NOW)
    calls: list[float] = []

    def hooks(registry):
        @registry.handler("test.flaky", policy=policy)
        async def flaky(msg, ctx):
            calls.append(ctx.now)
            raise TransientError("the ERP answered 503")

    hub = bootstrap.build(settings, hooks=[hooks], clock=clock)

    async def run_worker() -> None:
        await hub.worker(idle_poll_seconds=0.01).run_until_idle(timeout=10)

    def message():
        with hub.engine.connect() as c:
            return store.get(c, mid)

    with hub.engine.begin() as c:
        [written] = store.insert(c, [NewMessage("acme", "test.flaky", "f-1", {})], clock())
    mid = written.message_id

    expected_waits = [0.5 * min(3.0, 1.0 * 2 ** (n - 1)) for n in (1, 2, 3)]  # 0.5, 1.0, 1.5
    for attempt, wait in enumerate(expected_waits, start=1):
        asyncio.run(run_worker())
        m = message()
        assert (m.status, m.attempts) == (Status.READY, attempt)
        assert m.next_attempt_at == pytest.approx(clock() + wait)
        assert "503" in m.last_error
        clock.advance(wait - 0.01)
        asyncio.run(run_worker())
        assert message().attempts == attempt, "not claimed before it is due"
        clock.advance(0.01)

    asyncio.run(run_worker())
    m = message()
    assert (m.status, m.attempts) == (Status.PARKED, 4)
    assert calls == [NOW, NOW + 0.5, NOW + 1.5, NOW + 3.0]
    with hub.engine.connect() as c:
        exc = c.execute(select(exceptions)).one()
    assert exc.category == "transient.exhausted" and exc.attempts == 4
    hub.close()


def test_worker_gives_a_throttled_message_back_until_told_without_using_an_attempt(settings):
    clock = FakeClock(NOW)
    answers = [ThrottledError(30.0, "429"), None]

    def hooks(registry):
        @registry.handler("test.busy")
        async def busy(msg, ctx):
            err = answers.pop(0)
            if err:
                raise err

    hub = bootstrap.build(settings, hooks=[hooks], clock=clock)
    with hub.engine.begin() as c:
        [written] = store.insert(c, [NewMessage("acme", "test.busy", "b-1", {})], clock())
    asyncio.run(hub.worker(idle_poll_seconds=0.01).run_until_idle(timeout=10))
    with hub.engine.connect() as c:
        m = store.get(c, written.message_id)
    assert (m.status, m.attempts, m.next_attempt_at) == (Status.READY, 0, NOW + 30.0)
    clock.advance(30.0)
    asyncio.run(hub.worker(idle_poll_seconds=0.01).run_until_idle(timeout=10))
    with hub.engine.connect() as c:
        m = store.get(c, written.message_id)
    assert (m.status, m.attempts) == (Status.DONE, 1)
    hub.close()


def test_a_value_the_database_cannot_hold_parks_at_once_instead_of_retrying_for_a_day():
    from sqlalchemy.exc import DataError

    refused = DataError("INSERT ...", {}, Exception('invalid byte sequence for encoding "UTF8": 0x00'))
    for error in (refused, OverflowError("Python int too large to convert to SQLite INTEGER")):
        d = decide(error, 1)
        assert isinstance(d, Park) and d.category == "validation.unstorable_value"
    assert "0x00" in decide(refused, 1).summary
