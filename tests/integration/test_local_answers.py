"""Answers kept in each ingest process's memory, on the real Redis: two read caches stand
for two ingest processes. A bump made through either removes the answer from both (it is
announced on Redis), and an answer is served from memory only while those announcements
are being heard."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from callstream_common.reads.scope import Scope
from callstream_ingest.cache.local import LocalAnswers
from callstream_ingest.cache.policy import CacheRequest, Entry
from callstream_ingest.cache.store import Outcome, ReadCache

pytestmark = pytest.mark.stack


def process_cache(url: str, channel: str) -> ReadCache:
    """One ingest process's cache. Its bumps go on ``channel``, the test's own: any bump
    heard refuses the stores read before it, and the stack's ingest (still invalidating
    what earlier tests changed) must not make a store this test counts on refused."""
    return ReadCache(
        redis=Redis.from_url(url),
        subscriber=Redis.from_url(url),
        local=LocalAnswers(),
        resubscribe_seconds=0.2,
        bumps_channel=channel,
    )


async def listening(cache: ReadCache, expected: bool = True) -> None:
    for _ in range(100):
        if cache.summary()["local"]["listening"] == expected:  # type: ignore[index]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"listening never became {expected}")


@pytest.fixture
async def two(common_settings: Any) -> AsyncIterator[tuple[ReadCache, ReadCache]]:
    url = common_settings.redis_url.get_secret_value()
    channel = f"cs:rc:bumps:test-{uuid.uuid4().hex[:8]}"
    first, second = process_cache(url, channel), process_cache(url, channel)
    for cache in (first, second):
        await cache.start()
        await listening(cache)
    yield first, second
    for cache in (first, second):
        await cache.close()


def versioned(value: dict[str, int]) -> Callable[[], Awaitable[bytes]]:
    async def compute() -> bytes:
        value["computed"] += 1
        return f"200\nversion {value['version']}".encode()

    return compute


async def test_a_bump_through_another_process_removes_the_answer_from_memory(
    two: tuple[ReadCache, ReadCache],
) -> None:
    first, second = two
    team = f"team:local-{uuid.uuid4().hex[:8]}"
    request = CacheRequest(Entry.DASHBOARD, Scope.of("manager", None, team), (team,))
    value = {"version": 1, "computed": 0}
    compute = versioned(value)

    assert (await first.get_or_compute(request, compute)).outcome == Outcome.MISS
    again = await first.get_or_compute(request, compute)
    assert (again.outcome, again.body) == (Outcome.HIT, b"200\nversion 1")
    assert first.local.hits == 1, "the second read never left the process"

    value["version"] = 2
    await second.invalidate([team], "test")
    for _ in range(40):  # announced at once; 2 s is far more than it takes
        if len(first.local) == 0:
            break
        await asyncio.sleep(0.05)
    assert len(first.local) == 0, "the other process's bump reached this one"
    after = await first.get_or_compute(request, compute)
    assert (after.outcome, after.body) == (Outcome.MISS, b"200\nversion 2")
    assert value["computed"] == 2


async def test_answers_of_other_scopes_stay_in_memory(two: tuple[ReadCache, ReadCache]) -> None:
    first, second = two
    a, b = (f"team:{n}-{uuid.uuid4().hex[:8]}" for n in ("a", "b"))
    requests = {
        t: CacheRequest(Entry.DASHBOARD, Scope.of("manager", None, t), (t,)) for t in (a, b)
    }
    value = {"version": 1, "computed": 0}
    for request in requests.values():
        await first.get_or_compute(request, versioned(value))
    await second.invalidate([a], "test")
    await asyncio.sleep(0.3)
    hits = first.local.hits
    assert (await first.get_or_compute(requests[b], versioned(value))).outcome == Outcome.HIT
    assert first.local.hits == hits + 1


async def test_nothing_is_served_from_memory_while_the_bumps_are_not_heard(
    two: tuple[ReadCache, ReadCache], common_settings: Any
) -> None:
    """The subscription's connection is cut (as a Redis restart or a network fault would):
    announcements made meanwhile are lost, so memory is cleared and not used until the
    subscription is back; it then fills again."""
    first, _ = two
    team = f"team:cut-{uuid.uuid4().hex[:8]}"
    request = CacheRequest(Entry.DASHBOARD, Scope.of("manager", None, team), (team,))
    value = {"version": 1, "computed": 0}
    await first.get_or_compute(request, versioned(value))
    assert len(first.local) == 1

    admin = Redis.from_url(common_settings.redis_url.get_secret_value())
    try:
        assert await admin.client_kill_filter(_type="pubsub") >= 1
    finally:
        await admin.aclose()
    await listening(first, False)
    assert len(first.local) == 0
    lookup = await first.get_or_compute(request, versioned(value))
    assert lookup.outcome == Outcome.HIT and first.local.hits == 0, "from Redis, not memory"

    await listening(first)
    await first.get_or_compute(request, versioned(value))
    assert (await first.get_or_compute(request, versioned(value))).outcome == Outcome.HIT
    assert first.local.hits == 1, "kept in memory again once the bumps are heard"
