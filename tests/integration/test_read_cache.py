"""The read cache's facets and composed lists against the running services, Redis and
PostgreSQL: a status change keeps a newest-first page of ids (the item is re-read) and
still shows within a second; a status-filtered page is recomputed; a reassignment moves a
call between reps' pages; a stored transcript reaches a search; pages are keyed by scope
while items are shared; concurrent misses of a page compute it once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bench.read_seed import Seeded
from tests.support.read_data import (
    assert_one_computation_per_burst,
    seed_completed_calls,
    wait_until_listening,
)

pytestmark = pytest.mark.stack

REPS: list[tuple[str, str | None]] = [
    ("rep-ka", "team-k"),
    ("rep-kb", "team-k"),
    ("rep-kc", "team-l"),
]
WINDOW_SECONDS = 1.0


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def seeded(services: Any, endpoints: Any) -> Seeded:
    return await seed_completed_calls(endpoints, REPS, 24, days=10)


@pytest.fixture(scope="module")
async def callers(seeded: Seeded, sessions: Any, tokens: dict[str, str]) -> dict[str, str]:
    """Credentials written directly (the admin API would bump the organisation's version
    and drop every entry, which these tests must not see happen)."""
    from callstream_common.credentials import create_credential
    from callstream_common.db.models import Role

    tag = uuid.uuid4().hex[:6]
    async with sessions() as session, session.begin():
        return {
            "admin": tokens["admin"],
            "manager": await create_credential(
                session, f"k-manager-{tag}", Role.MANAGER, rep_id=None, team_id="team-k"
            ),
            "user_ka": await create_credential(
                session, f"k-user-{tag}", Role.USER, rep_id="rep-ka"
            ),
        }


async def fetch(services: Any, token: str, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=services.base_url, timeout=30) as client:
        return await client.get("/v1/conversations", params=params, headers=auth(token))


async def until_fresh(
    services: Any, token: str, params: dict[str, Any], fresh: Callable[[dict[str, Any]], bool]
) -> tuple[float, list[str], httpx.Response]:
    """Poll a list after a committed change until it shows it: the stale-read window (when
    the last stale answer was sent, seconds after the commit), the ``X-Cache`` of every
    answer, and the first fresh answer."""
    committed = time.monotonic()
    stale_sent = 0.0
    outcomes: list[str] = []
    while True:
        sent = time.monotonic() - committed
        r = await fetch(services, token, **params)
        assert r.status_code == 200, r.text
        outcomes.append(r.headers["X-Cache"])
        if fresh(r.json()):
            return stale_sent, outcomes, r
        stale_sent = sent
        assert sent < 5, f"still stale after 5 s: {params}"
        await asyncio.sleep(0.01)


def ids(body: dict[str, Any]) -> list[str]:
    return [i["id"] for i in body["items"]]


async def set_status(sessions: Any, conversation: str, status: str) -> None:
    async with sessions() as s, s.begin():
        await s.execute(
            text("UPDATE conversations SET status = :status WHERE id = :id"),
            {"status": status, "id": conversation},
        )


async def test_a_status_change_keeps_a_newest_page_and_shows_within_a_second(
    services: Any, callers: dict[str, str], sessions: Any
) -> None:
    manager = callers["manager"]
    newest = {"rep_id": "rep-kb", "limit": 5}
    completed = {"rep_id": "rep-kb", "status": "completed", "limit": 5}
    for params in (newest, completed):
        first, second = [await fetch(services, manager, **params) for _ in range(2)]
        assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
        assert first.content == second.content
    page = (await fetch(services, manager, **newest)).json()
    conversation = page["items"][0]["id"]
    assert page["items"][0]["status"] == "completed"

    await set_status(sessions, conversation, "failed")
    try:
        window, outcomes, fresh = await until_fresh(
            services, manager, newest, lambda b: b["items"][0]["status"] == "failed"
        )
        assert window <= WINDOW_SECONDS
        assert "miss" not in outcomes, f"the page of ids was recomputed: {outcomes}"
        assert fresh.headers["X-Cache"] == "partial", "page from the cache, the item re-read"
        assert ids(fresh.json()) == ids(page), "same calls, same order"
        again = await fetch(services, manager, **newest)
        assert again.headers["X-Cache"] == "hit" and again.content == fresh.content

        window, outcomes, fresh = await until_fresh(
            services, manager, completed, lambda b: conversation not in ids(b)
        )
        assert window <= WINDOW_SECONDS
        assert fresh.headers["X-Cache"] == "miss", "a status-filtered page is recomputed"
    finally:
        await set_status(sessions, conversation, "completed")


async def test_a_reassigned_call_leaves_one_reps_page_for_the_others_within_a_second(
    services: Any, callers: dict[str, str], sessions: Any
) -> None:
    admin = callers["admin"]
    ka, kc = {"rep_id": "rep-ka", "limit": 3}, {"rep_id": "rep-kc", "limit": 50}
    conversation = ids((await fetch(services, admin, **ka)).json())[0]
    await fetch(services, admin, **kc)
    assert (await fetch(services, admin, **ka)).headers["X-Cache"] == "hit"
    assert (await fetch(services, admin, **kc)).headers["X-Cache"] == "hit"

    async def move(rep: str) -> None:
        async with sessions() as s, s.begin():
            await s.execute(
                text("UPDATE conversations SET rep_id = :rep WHERE id = :id"),
                {"rep": rep, "id": conversation},
            )

    await move("rep-kc")
    try:
        left, _, _ = await until_fresh(services, admin, ka, lambda b: conversation not in ids(b))
        joined, _, _ = await until_fresh(services, admin, kc, lambda b: conversation in ids(b))
        assert max(left, joined) <= WINDOW_SECONDS
    finally:
        await move("rep-ka")


async def test_a_stored_transcript_reaches_a_search_within_a_second(
    services: Any, callers: dict[str, str], sessions: Any, seeded: Seeded
) -> None:
    word = f"zebra{uuid.uuid4().hex[:8]}"
    search = {"rep_id": "rep-kb", "q": word}
    conversation = next(str(c) for c, r in seeded.rep_of_conversation.items() if r == "rep-kb")
    for expected in ("miss", "hit"):
        r = await fetch(services, callers["admin"], **search)
        assert r.json()["items"] == [] and r.headers["X-Cache"] == expected
    async with sessions() as s, s.begin():
        await s.execute(
            text("UPDATE transcripts SET text = text || ' ' || :word WHERE conversation_id = :id"),
            {"word": word, "id": conversation},
        )
    window, _, _ = await until_fresh(
        services, callers["admin"], search, lambda b: ids(b) == [conversation]
    )
    assert window <= WINDOW_SECONDS


async def test_pages_are_keyed_by_scope_while_items_are_shared(
    services: Any, callers: dict[str, str]
) -> None:
    for rep in ("rep-ka", "rep-kb", "rep-kc"):  # the admin sees every rep's calls
        page = (await fetch(services, callers["admin"], rep_id=rep, limit=100)).json()
        assert page["items"] and {i["rep_id"] for i in page["items"]} == {rep}
    for _ in range(2):
        own = await fetch(services, callers["user_ka"], limit=100)
        assert {i["rep_id"] for i in own.json()["items"]} == {"rep-ka"}
        foreign = await fetch(services, callers["user_ka"], rep_id="rep-kb")
        assert foreign.status_code == 404
    assert own.headers["X-Cache"] == "hit" and foreign.headers["X-Cache"] == "hit"
    team = (await fetch(services, callers["manager"], limit=100)).json()
    assert {i["rep_id"] for i in team["items"]} <= {"rep-ka", "rep-kb"}


def test_concurrent_misses_of_a_page_compute_it_once(
    services: Any, callers: dict[str, str]
) -> None:
    async def burst(limit: int) -> list[int]:
        answers = await asyncio.gather(
            *(fetch(services, callers["manager"], rep_id="rep-ka", limit=limit) for _ in range(20))
        )
        return [a.status_code for a in answers]

    assert_one_computation_per_burst(
        services.base_url,
        callers["admin"],
        [partial(burst, limit) for limit in range(40, 45)],
    )


async def test_a_list_hit_is_one_redis_round_trip_or_none_from_memory(
    services: Any, callers: dict[str, str], common_settings: Any
) -> None:
    """A page ingest answered before comes from its memory: nothing is sent to Redis.
    Without it (memory is dropped while the subscription to the bumps is down), the page
    of ids and its items come from one script call: no ``MGET`` follows."""
    from redis.asyncio import Redis

    params = {"rep_id": "rep-kc", "limit": 7}
    composed = [await fetch(services, callers["admin"], **params) for _ in range(2)]
    assert [r.headers["X-Cache"] for r in composed] == ["miss", "hit"]
    redis = Redis.from_url(common_settings.redis_url.get_secret_value())

    async def sent_by(**params: Any) -> dict[str, int]:
        before = await redis.info("commandstats")
        answer = await fetch(services, callers["admin"], **params)
        after = await redis.info("commandstats")

        def calls(stats: dict[str, Any]) -> dict[str, int]:
            return {name.removeprefix("cmdstat_"): int(c["calls"]) for name, c in stats.items()}

        assert answer.headers["X-Cache"] == "hit" and answer.content == composed[1].content
        assert len(answer.json()["items"]) == 7
        return {
            command: n - calls(before).get(command, 0)
            for command, n in calls(after).items()
            # the subscription's own commands are not the lookup's
            if command not in ("info", "subscribe") and n != calls(before).get(command, 0)
        }

    try:
        # A bump of any scope (the stack's ingest may still be invalidating what earlier
        # tests changed) refuses a store read before it, so the page may reach memory
        # only on a later hit.
        for _ in range(3):
            sent = await sent_by(**params)
            if not sent:
                break
        assert sent == {}, sent
        await redis.client_kill_filter(_type="pubsub")
        wait_until_listening(services.base_url, callers["admin"], False)
        sent = await sent_by(**params)
        wait_until_listening(services.base_url, callers["admin"], True)
    finally:
        await redis.aclose()
    # One script call; Redis counts the two MGETs it runs inside (the page with its
    # versions, the items with theirs) too. Ingest sent nothing else.
    assert sent == {"evalsha": 1, "mget": 2}, sent
