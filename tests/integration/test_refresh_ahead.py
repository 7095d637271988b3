"""Refresh-ahead on the real Redis: an answer read recently is recomputed in the background
right after a change invalidates it, so that its next reader finds it cached at the new
versions; answers of other scopes, and answers nobody read within the window, are not."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from callstream_common.reads.scope import Scope
from callstream_ingest.cache.policy import CacheRequest, Entry
from callstream_ingest.cache.refresh import HotEntries
from callstream_ingest.cache.store import Outcome, ReadCache

pytestmark = pytest.mark.stack


@pytest.fixture
async def cache(common_settings: Any) -> AsyncIterator[ReadCache]:
    redis = Redis.from_url(common_settings.redis_url.get_secret_value())
    read_cache = ReadCache(
        redis=redis, hot=HotEntries(window_seconds=60), refresh_delay_seconds=0.1
    )
    await read_cache.start()
    yield read_cache
    await redis.aclose()


def counting(name: str) -> tuple[dict[str, int], Callable[[], Awaitable[bytes]]]:
    calls = {"n": 0}

    async def compute() -> bytes:
        calls["n"] += 1
        return f"200\n{name} {calls['n']}".encode()

    return calls, compute


async def settled(cache: ReadCache, refreshed: int) -> None:
    for _ in range(200):
        if cache.stats.refreshed >= refreshed and not cache._to_refresh:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"refreshed {cache.stats.refreshed}, expected {refreshed}")


async def test_a_recently_read_answer_is_ready_for_its_next_reader(cache: ReadCache) -> None:
    team = f"team:refresh-{uuid.uuid4().hex[:8]}"
    other = f"team:other-{uuid.uuid4().hex[:8]}"
    dashboard = CacheRequest(Entry.DASHBOARD, Scope.of("manager", None, team), (team,))
    elsewhere = CacheRequest(Entry.DASHBOARD, Scope.of("manager", None, other), (other,))
    calls, compute = counting("dashboard")
    other_calls, other_compute = counting("elsewhere")

    first = await cache.get_or_compute(dashboard, compute)
    assert (first.outcome, first.body) == (Outcome.MISS, b"200\ndashboard 1")
    await cache.get_or_compute(elsewhere, other_compute)

    await cache.invalidate([team], "test")
    await settled(cache, 1)
    assert calls["n"] == 2  # recomputed once, in the background
    after = await cache.get_or_compute(dashboard, compute)
    assert (after.outcome, after.body) == (Outcome.HIT, b"200\ndashboard 2")
    assert calls["n"] == 2
    untouched = await cache.get_or_compute(elsewhere, other_compute)
    assert (untouched.outcome, other_calls["n"]) == (Outcome.HIT, 1)


async def test_several_bumps_of_one_change_refresh_once(cache: ReadCache) -> None:
    team = f"team:burst-{uuid.uuid4().hex[:8]}"
    request = CacheRequest(
        Entry.DASHBOARD, Scope.of("manager", None, team), (f"{team}:status", f"{team}:members")
    )
    calls, compute = counting("burst")
    await cache.get_or_compute(request, compute)
    await asyncio.gather(
        cache.invalidate([f"{team}:status"], "test"), cache.invalidate([f"{team}:members"], "test")
    )
    await settled(cache, 1)
    assert calls["n"] == 2
    assert (await cache.get_or_compute(request, compute)).outcome == Outcome.HIT


async def test_an_answer_nobody_read_within_the_window_waits_for_its_reader(
    common_settings: Any,
) -> None:
    redis = Redis.from_url(common_settings.redis_url.get_secret_value())
    now = {"t": 0.0}
    cache = ReadCache(
        redis=redis,
        hot=HotEntries(window_seconds=60, clock=lambda: now["t"]),
        refresh_delay_seconds=0.01,
    )
    await cache.start()
    team = f"team:cold-{uuid.uuid4().hex[:8]}"
    request = CacheRequest(Entry.DASHBOARD, Scope.of("manager", None, team), (team,))
    calls, compute = counting("cold")
    await cache.get_or_compute(request, compute)
    now["t"] = 61.0
    await cache.invalidate([team], "test")
    await asyncio.sleep(0.2)
    assert (calls["n"], cache.stats.refreshed) == (1, 0)
    later = await cache.get_or_compute(request, compute)
    assert (later.outcome, calls["n"]) == (Outcome.MISS, 2)
    await redis.aclose()
