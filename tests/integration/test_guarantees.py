"""The engine's guarantees, proved on SQLite and PostgreSQL, mostly with real worker processes.

Worker processes run `tests.support.worker_main` (handler kind `test.effect`): it POSTs
to the fake external system with the message's idempotency key and stages a
`cursors` row `done:{message id}:{pid}` committed with the outcome, so a test can
tell which process's handling counted. Every wait is bounded and says what it
waited for; a worker's stderr is shown when it misbehaves.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import OperationalError

from crossdock import bootstrap
from crossdock.errors import PermanentError
from crossdock.records import NewMessage, Status
from crossdock.store import messages as store
from crossdock.store.db import make_engine
from crossdock.store.tables import cursors, exceptions, messages, throttle_slots, throttles
from tests.support.fake_external import FakeExternal
from tests.support.worker_main import KIND, MARKER_ENV, done_row_name

ROOT = Path(__file__).resolve().parents[2]
TENANT = "acme"


# --------------------------------------------------------------------------- helpers


def wait_until(check: Callable[[], object], timeout: float, what: str, workers=(), every: float = 0.05):
    """Poll `check` until it answers something truthy; fail saying `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            logs = "\n".join(w.describe() for w in workers)
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{logs}")
        time.sleep(every)


class WorkerProcess:
    """One `tests.support.worker_main` process, its output kept in files (no pipe to fill)."""

    def __init__(self, db_url: str, mode: str, logs: Path, n: int, env: dict | None = None, **opts) -> None:
        args = [sys.executable, "-m", "tests.support.worker_main", "--db", db_url, "--mode", mode]
        for name, value in opts.items():
            args += [f"--{name}", str(value)]
        self.out_path, self.err_path = logs / f"worker{n}.out", logs / f"worker{n}.err"
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.proc = subprocess.Popen(
                args, cwd=ROOT, stdout=out, stderr=err, env={**os.environ, **(env or {})}
            )
        self.pid = self.proc.pid

    def lines(self) -> list[dict]:
        return [json.loads(s) for s in self.out_path.read_text().splitlines() if s.startswith("{")]

    def wait_ready(self, timeout: float = 30) -> None:
        wait_until(
            lambda: any(x.get("event") == "ready" for x in self.lines()) or self.proc.poll() is not None,
            timeout,
            f"worker {self.pid} to start",
            [self],
        )
        assert self.proc.poll() is None, f"worker {self.pid} exited at start\n{self.describe()}"

    def send(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"worker {self.pid} still running {timeout:g} s later\n{self.describe()}"
            ) from None

    def stop(self, timeout: float = 30) -> dict:
        """SIGTERM, wait for the drain; answer the final stats line (exit code 0 asserted)."""
        self.send(signal.SIGTERM)
        code = self.wait_exit(timeout)
        assert code == 0, f"worker {self.pid} exited with {code}\n{self.describe()}"
        return self.stats()

    def stats(self) -> dict:
        final = [x for x in self.lines() if x.get("event") == "stopped"]
        assert final, f"worker {self.pid} printed no final stats\n{self.describe()}"
        return final[-1]

    def describe(self) -> str:
        err = self.err_path.read_text()[-3000:] if self.err_path.exists() else ""
        return f"--- worker {self.pid} (exit {self.proc.poll()}) stderr:\n{err}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            for sig in (signal.SIGCONT, signal.SIGKILL):
                os.kill(self.pid, sig)
            self.proc.wait(10)


@pytest.fixture
def spawn(db_url, tmp_path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(mode: str, env: dict | None = None, **opts) -> WorkerProcess:
        w = WorkerProcess(db_url, mode, tmp_path, len(started), env, **opts)
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill()


@pytest.fixture
def fake() -> Iterator[FakeExternal]:
    with FakeExternal() as f:
        yield f


@pytest.fixture
def db(db_url):
    engine = make_engine(db_url, pool_size=2)
    yield engine
    engine.dispose()


def insert_messages(engine, news: list[NewMessage], chunk: int = 5000) -> list[int]:
    ids: list[int] = []
    for i in range(0, len(news), chunk):
        with engine.begin() as c:
            ids += [w.message_id for w in store.insert(c, news[i : i + chunk], time.time())]
            if i == 0 and len(news) > chunk and engine.dialect.name == "postgresql":
                # A freshly truncated table has no statistics until autovacuum runs (~1 min):
                # the dedupe lookup then scans the tenant's rows and bulk loads turn quadratic.
                c.execute(text("ANALYZE messages, dedupe_keys"))
    return ids


def effect_messages(
    n: int, url: str | None, *, prefix: str = "e", tenant: str = TENANT, **payload
) -> list[NewMessage]:
    body = {"url": url, **payload} if url else payload
    return [
        NewMessage(tenant, KIND, f"{prefix}-{i}", {**body, "n": i}, correlation_id=f"{prefix}-{i}")
        for i in range(n)
    ]


def get(engine, message_id: int):
    with engine.connect() as c:
        return store.get(c, message_id)


def count_status(engine, status: Status, tenant: str | None = None) -> int:
    q = select(func.count()).select_from(messages).where(messages.c.status == status.value)
    if tenant:
        q = q.where(messages.c.tenant_id == tenant)
    with engine.connect() as c:
        return c.execute(q).scalar_one()


def done_rows(engine) -> list[str]:
    with engine.connect() as c:
        return sorted(c.execute(select(cursors.c.name).where(cursors.c.name.like("done:%"))).scalars())


def set_throttle(engine, *, rate: float, burst: int = 1, max_concurrency: int = 0) -> None:
    with engine.begin() as c:
        c.execute(
            insert(throttles),
            {
                "tenant_id": TENANT,
                "connection_id": "ext",
                "rate": rate,
                "burst": burst,
                "max_concurrency": max_concurrency,
                "tat": 0.0,
                "paused_until": 0.0,
                "waits": 0,
            },
        )
        if max_concurrency:
            c.execute(
                insert(throttle_slots),
                [
                    {
                        "tenant_id": TENANT,
                        "connection_id": "ext",
                        "slot": s,
                        "holder": None,
                        "expires_at": 0.0,
                    }
                    for s in range(max_concurrency)
                ],
            )


def pause_outside_transactions(worker: WorkerProcess, engine, message_id: int) -> None:
    """SIGSTOP the worker at a moment it holds no lock (retrying SIGCONT/SIGSTOP otherwise).

    A process frozen inside a write transaction would stall every other writer (SQLite)
    or hide the row from SKIP LOCKED claims (PostgreSQL): true, but not this test's subject."""
    for _ in range(50):
        worker.send(signal.SIGSTOP)
        time.sleep(0.05)
        if not _locked(engine, message_id):
            return
        worker.send(signal.SIGCONT)
        time.sleep(0.02)
    raise AssertionError("could not pause the worker outside a transaction in 50 tries")


def _locked(engine, message_id: int) -> bool:
    if engine.dialect.name == "sqlite":
        probe = sqlite3.connect(engine.url.database, timeout=0.1, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")  # takes the write lock or fails
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    try:
        with engine.connect() as c, c.begin():
            c.execute(text("SET LOCAL lock_timeout = '100ms'"))
            c.execute(select(messages.c.id).where(messages.c.id == message_id).with_for_update(nowait=True))
        return False
    except OperationalError:
        return True


# --------------------------------------------------------------------------- crash and lease


@pytest.mark.slow
def test_kill_9_inside_handler_runs_again_after_lease_and_effect_happens_once(db, spawn, fake, tmp_path):
    [mid] = insert_messages(db, effect_messages(1, fake.url))
    marker = tmp_path / "crashed"
    a = spawn("crash_after_effect", env={MARKER_ENV: str(marker)}, lease=2)
    code = a.wait_exit(30)
    assert code == -signal.SIGKILL, f"worker A should have died by SIGKILL, exit {code}\n{a.describe()}"
    assert marker.read_text() == str(a.pid)
    assert len(fake.requests()) == 1 and get(db, mid).status is Status.RUNNING

    b = spawn("noop", lease=2)
    wait_until(lambda: get(db, mid).status is Status.DONE, 30, "worker B to handle the message", [b])
    b.stop()

    reqs = fake.requests()
    assert [r.key for r in reqs] == ["e-0", "e-0"], "the repeat carries the same idempotency key"
    assert [r.pid for r in reqs] == [str(a.pid), str(b.pid)]
    assert len(fake.effects()) == 1, "the external effect happened once"
    m = get(db, mid)
    assert m.status is Status.DONE and m.attempts == 2
    assert done_rows(db) == [done_row_name(mid, b.pid)], "exactly one committed handling, by B"


@pytest.mark.slow
def test_worker_paused_past_its_lease_cannot_commit(db, spawn, fake):
    [mid] = insert_messages(db, effect_messages(1, fake.url))
    a = spawn("slow", lease=2, slow=4)
    wait_until(lambda: fake.requests(), 30, "worker A to call the external system", [a])
    pause_outside_transactions(a, db, mid)
    lease_end = get(db, mid).lease_expires_at
    wait_until(lambda: time.time() > lease_end + 0.2, 10, "A's lease to run out")

    b = spawn("noop", lease=2)
    wait_until(lambda: get(db, mid).status is Status.DONE, 30, "worker B to handle the message", [b])
    a.send(signal.SIGCONT)
    stats_a = a.stop()
    b.stop()

    assert stats_a["fenced"] >= 1 and stats_a["done"] == 0, stats_a
    assert done_rows(db) == [done_row_name(mid, b.pid)], "only B's handling is committed"
    m = get(db, mid)
    assert m.status is Status.DONE and m.attempts == 2
    assert len(fake.effects()) == 1


@pytest.mark.slow
def test_sigterm_drains_and_exits_zero(db, spawn, fake):
    quick, stuck = insert_messages(
        db,
        effect_messages(1, fake.url, prefix="quick", sleep=0.5)
        + effect_messages(1, fake.url, prefix="stuck", sleep=60),
    )
    w = spawn("slow", drain=2, lease=30)
    wait_until(lambda: len(fake.requests()) == 2, 30, "both messages to be inside the handler", [w])
    sent = time.monotonic()
    stats = w.stop(timeout=15)
    assert time.monotonic() - sent < 8, "the drain is bounded by drain_seconds"

    assert stats["done"] == 1 and stats["released"] == 1, stats
    q, s = get(db, quick), get(db, stuck)
    assert q.status is Status.DONE, "a handler that finishes within the drain is committed"
    assert s.status is Status.READY and s.attempts == 1 and s.lease_token is None, (
        "the other is given back, its attempt counted: it reached the external system, so its "
        "next attempt is a retry that looks before it acts"
    )
    assert count_status(db, Status.RUNNING) == 0
    assert done_rows(db) == [done_row_name(quick, w.pid)]


# --------------------------------------------------------------------------- order and isolation


def test_per_key_order_holds_and_a_parked_message_holds_only_its_key(settings, db):
    seen: dict[str, list[int]] = {"A": [], "B": [], "C": []}

    def hooks(registry):
        @registry.handler("test.ordered")
        async def ordered(msg, ctx):
            key, n = ctx.payload["key"], ctx.payload["n"]
            seen[key].append(n)
            await asyncio.sleep(0.001 * (n % 3))  # uneven handler times: order must not depend on them
            if (key, n) == ("B", 5):
                raise PermanentError("business.rule", "B-5 breaks a rule", "Fix B-5, then resolve.")

    news = [
        NewMessage(TENANT, "test.ordered", f"{k}-{n}", {"key": k, "n": n}, ordering_key=k)
        for n in range(20)
        for k in "ABC"
    ]
    ids = dict(zip([m.idempotency_key for m in news], insert_messages(db, news), strict=True))

    async def run_once():
        hub = bootstrap.build(settings, hooks=[hooks])
        # a key's next message is claimable once its predecessor commits: poll often to keep the test short
        await hub.worker(concurrency=16, batch=50, idle_poll_seconds=0.02).run_until_idle(timeout=30)
        await hub.aclose()

    asyncio.run(run_once())
    assert seen["A"] == list(range(20)) and seen["C"] == list(range(20))
    assert seen["B"] == list(range(6))
    assert get(db, ids["B-5"]).status is Status.PARKED
    assert {get(db, ids[f"B-{n}"]).status for n in range(6, 20)} == {Status.READY}

    from crossdock.store import exceptions as desk
    from crossdock.store.queries import ExceptionFilter

    with db.begin() as c:
        assert (
            desk.resolve(
                c, ExceptionFilter.for_tenant(TENANT), "B-5 handled by hand", "tester", time.time()
            ).count
            == 1
        )
    asyncio.run(run_once())
    assert seen["B"] == list(range(6)) + list(range(6, 20)), "B's rest runs after the resolve, in order"
    assert get(db, ids["B-5"]).status is Status.RESOLVED
    assert count_status(db, Status.DONE) == 59


def test_a_commit_that_unblocks_the_next_message_of_a_key_is_not_idle(settings, db):
    """`run_until_idle` handles a whole key chain even when each handler outlasts two idle polls."""
    seen: list[int] = []

    def hooks(registry):
        @registry.handler("test.chain")
        async def chain(msg, ctx):
            seen.append(ctx.payload["n"])
            await asyncio.sleep(0.06)  # longer than two idle polls below

    insert_messages(
        db, [NewMessage(TENANT, "test.chain", f"k-{n}", {"n": n}, ordering_key="K") for n in range(3)]
    )

    async def run():
        hub = bootstrap.build(settings, hooks=[hooks])
        await hub.worker(idle_poll_seconds=0.02).run_until_idle(timeout=10)
        await hub.aclose()

    asyncio.run(run())
    assert seen == [0, 1, 2]


def test_backlog_of_one_tenant_does_not_delay_another_beyond_one_claim_batch(settings, db):
    backlog = [NewMessage("tenant-a", "test.backlog", f"a-{i}", {"n": i}) for i in range(50_000)]
    insert_messages(db, backlog, chunk=5000)
    [b_id] = insert_messages(db, [NewMessage("tenant-b", "test.backlog", "b-0", {"n": 0})])

    with db.connect() as c:
        tx = c.begin()
        claim = store.claim(c, "probe", 200, 30.0, time.time(), store.LaneRotor())
        tx.rollback()
    assert len(claim.messages) == 200
    assert b_id in {m.id for m in claim.messages}, "tenant B's message is in the very next claim batch"

    def hooks(registry):
        @registry.handler("test.backlog")
        async def backlog_handler(msg, ctx):
            await asyncio.sleep(0.001)

    async def run() -> int:
        hub = bootstrap.build(settings, hooks=[hooks])
        stop = asyncio.Event()
        task = asyncio.create_task(hub.worker(concurrency=64, batch=200).run(stop))
        deadline = time.monotonic() + 30
        try:
            while (await hub.database.read(store.get, b_id)).status is not Status.DONE:
                assert time.monotonic() < deadline, "tenant B's message was not done within 30 s"
                assert not task.done(), "the worker stopped"
                await asyncio.sleep(0.02)
            return await hub.database.read(lambda c: count_open(c, "tenant-a"))
        finally:
            stop.set()
            await task
            await hub.aclose()

    a_open = asyncio.run(run())
    assert a_open > 45_000, f"B finished only after A's backlog shrank to {a_open}"


def count_open(conn, tenant: str) -> int:
    q = (
        select(func.count())
        .select_from(messages)
        .where(
            messages.c.tenant_id == tenant, messages.c.status.in_([Status.READY.value, Status.RUNNING.value])
        )
    )
    return conn.execute(q).scalar_one()


# --------------------------------------------------------------------------- throttles across processes


@pytest.mark.slow
def test_throttle_holds_rate_within_5_percent_across_4_worker_processes(db, spawn, fake):
    rate, n = 25.0, 230  # ~9 s of work at the rate
    set_throttle(db, rate=rate, burst=1)
    insert_messages(db, effect_messages(n, fake.url))
    workers = [spawn("throttled", concurrency=32) for _ in range(4)]
    wait_until(
        lambda: count_status(db, Status.DONE) == n, 60, f"{n} messages to be done", workers, every=0.25
    )
    for w in workers:
        w.stop()

    times = sorted(r.arrived_at for r in fake.requests())
    assert len(times) == n and len(fake.effects()) == n
    assert len({r.pid for r in fake.requests()}) == 4, "every process made calls"
    # steady window: after the processes' start-up (latency falls as they settle), before the tail
    start, end = times[0] + 2.0, times[-1] - 0.5
    observed = sum(start <= t < end for t in times) / (end - start)
    assert rate * 0.95 <= observed <= rate * 1.05, f"observed {observed:.2f}/s over {end - start:.1f} s"


@pytest.mark.slow
def test_throttle_max_concurrency_holds_across_4_worker_processes(db, spawn, fake):
    n = 60
    set_throttle(db, rate=0.0, max_concurrency=2)
    fake.hold_seconds = 0.05
    insert_messages(db, effect_messages(n, fake.url))
    workers = [spawn("throttled", concurrency=8) for _ in range(4)]
    wait_until(
        lambda: count_status(db, Status.DONE) == n, 60, f"{n} messages to be done", workers, every=0.25
    )
    for w in workers:
        w.stop()
    assert len(fake.effects()) == n
    assert fake.max_in_flight == 2, f"the fake saw {fake.max_in_flight} requests at once"


def run_429_scenario(db, spawn, fake, *, limits: dict | None, concurrency: int, retry_after: float = 2.0):
    """2 worker processes call through the throttle; the 5th request is told 429 Retry-After.

    Answers the requests that arrived while the pause should hold, and the 429'd request.
    A request that passed the gate just before the pause was recorded may still arrive
    right after the 429 answer: `grace` (0.25 s) allows for it, nothing longer."""
    n, grace = 40, 0.25
    if limits is not None:
        set_throttle(db, **limits)
    fake.hold_seconds = 0.05
    fake.answer_429_on(5, retry_after)
    ids = insert_messages(db, effect_messages(n, fake.url))
    workers = [spawn("throttled", concurrency=concurrency) for _ in range(2)]
    wait_until(lambda: count_status(db, Status.DONE) == n, 60, f"{n} messages to be done", workers, every=0.1)
    for w in workers:
        w.stop()
    reqs = fake.requests()
    assert len({r.pid for r in reqs}) == 2, "both worker processes made calls"
    [told] = [r for r in reqs if r.status == 429]
    with db.connect() as c:
        paused_until = c.execute(select(throttles.c.paused_until)).scalar_one()
    assert paused_until >= told.answered_at + retry_after - 0.05
    during = [r for r in reqs if told.answered_at + grace <= r.arrived_at < paused_until]
    return during, told, paused_until, ids, reqs


def _describe(during) -> str:
    return f"{len(during)} requests reached the fake during the pause, from pids {dict(Counter(r.pid for r in during))}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "limits",
    [
        pytest.param({"rate": 0.0}, id="configured-connection"),
        pytest.param(None, id="unconfigured-connection"),
    ],
)
def test_429_retry_after_pauses_the_connection_for_every_worker(db, spawn, fake, limits):
    during, told, paused_until, ids, reqs = run_429_scenario(db, spawn, fake, limits=limits, concurrency=2)
    assert not during, _describe(during)
    retried = [r for r in reqs if r.key == told.key and r.status == 200]
    assert len(retried) == 1 and retried[0].arrived_at >= paused_until - 0.05, "the told call waits as told"
    m = get(db, ids[int(told.key.split("-")[1])])
    assert m.status is Status.DONE and m.attempts == 1, "waiting as told does not use an attempt"
    with db.connect() as c:
        assert c.execute(select(func.count()).select_from(exceptions)).scalar_one() == 0


@pytest.mark.slow
def test_429_retry_after_also_holds_calls_already_waiting_for_their_rate_slot(db, spawn, fake):
    during, *_ = run_429_scenario(db, spawn, fake, limits={"rate": 20.0, "burst": 1}, concurrency=16)
    assert not during, _describe(during)


# --------------------------------------------------------------------------- volume


@pytest.mark.slow
def test_postgres_4_worker_processes_handle_20000_messages_exactly_once(db, db_url, spawn):
    if db.dialect.name != "postgresql":
        pytest.skip("many writer processes is PostgreSQL's job; SQLite has one writer")
    n = 20_000
    ids = insert_messages(db, effect_messages(n, None))
    started = time.monotonic()
    workers = [spawn("noop") for _ in range(4)]
    wait_until(lambda: count_status(db, Status.DONE) == n, 90, f"{n} messages to be done", workers, every=0.5)
    elapsed = time.monotonic() - started
    stats = [w.stop() for w in workers]

    rows = done_rows(db)
    per_message = Counter(int(name.split(":")[1]) for name in rows)
    assert len(rows) == n and set(per_message) == set(ids) and max(per_message.values()) == 1
    assert sum(s["done"] for s in stats) == n and sum(s["fenced"] for s in stats) == 0
    assert all(s["done"] > 0 for s in stats), f"every process took a share: {[s['done'] for s in stats]}"
    assert elapsed < 90
