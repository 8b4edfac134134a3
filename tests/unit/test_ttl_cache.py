"""The per-process cache behind connection and route look-ups keeps a bounded number of
entries: the webhook endpoint looks up any connection id a request names, signed or not."""

from __future__ import annotations

import asyncio

from crossdock.flows.services import _TtlCache


def test_unknown_ids_do_not_grow_the_cache_past_its_bound():
    now = [0.0]
    cache = _TtlCache(60.0, clock=lambda: now[0], max_entries=3)

    async def miss(key: str) -> None:
        return None

    async def go() -> None:
        for n in range(100):
            await cache.get(f"probe-{n}", lambda n=n: miss(str(n)))
            now[0] += 0.001

    asyncio.run(go())
    assert len(cache) == 3


def test_the_oldest_entries_go_first_and_a_fresh_hit_is_kept():
    now = [0.0]
    cache = _TtlCache(60.0, clock=lambda: now[0], max_entries=2)
    loads: list[str] = []

    async def load(key: str) -> str:
        loads.append(key)
        return key.upper()

    async def go() -> list[str]:
        got = [await cache.get("a", lambda: load("a")), await cache.get("b", lambda: load("b"))]
        got.append(await cache.get("c", lambda: load("c")))  # "a" is the oldest: it goes
        got.append(await cache.get("b", lambda: load("b")))  # still held: no load
        got.append(await cache.get("a", lambda: load("a")))  # loaded again
        return got

    assert asyncio.run(go()) == ["A", "B", "C", "B", "A"]
    assert loads == ["a", "b", "c", "a"]
