"""The read side over HTTP against the running services: the role matrix on every read
endpoint, bad input, the cache per layer (hit, miss, invalidation, scope), the stale-read
window, Redis killed mid-run, re-analysis versions and the recording with Range."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from functools import partial
from typing import Any

import httpx
import pytest

from bench.read_seed import Seeded
from tests.support.read_data import (
    assert_one_computation_per_burst,
    seed_completed_calls,
    wait_until_listening,
)

pytestmark = pytest.mark.stack

REPS = [("rep-a", "team-east"), ("rep-b", "team-east"), ("rep-c", "team-west")]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def seeded(services: Any, tokens: dict[str, str], endpoints: Any) -> Seeded:
    return await seed_completed_calls(endpoints, REPS, 30)


def pick(seeded: Seeded, rep: str) -> tuple[uuid.UUID, uuid.UUID]:
    conv = next(c for c, r in seeded.rep_of_conversation.items() if r == rep)
    opp = next(o for o, r in seeded.rep_of_opportunity.items() if r == rep)
    return conv, opp


def get(services: Any, token: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{services.base_url}{path}", headers=auth(token), params=params, timeout=30)


# who → {whose data → expected status}
MATRIX = {
    "user_a": {"rep-a": 200, "rep-b": 404, "rep-c": 404},
    "manager": {"rep-a": 200, "rep-b": 200, "rep-c": 404},
    "admin": {"rep-a": 200, "rep-b": 200, "rep-c": 200},
    "user_c": {"rep-a": 404, "rep-b": 404, "rep-c": 200},
}
TEAM_MATRIX = {
    "user_a": {"team-east": 404, "team-west": 404},
    "manager": {"team-east": 200, "team-west": 404},
    "admin": {"team-east": 200, "team-west": 200},
    "user_c": {"team-east": 404, "team-west": 404},
}


def test_role_matrix_over_every_read_endpoint(
    services: Any, tokens: dict[str, str], seeded: Seeded
) -> None:
    for who, expected in MATRIX.items():
        token = tokens[who]
        for rep, status in expected.items():
            conv, opp = pick(seeded, rep)
            for path, params in (
                (f"/v1/conversations/{conv}", {}),
                (f"/v1/conversations/{conv}/audio", {}),
                (f"/v1/opportunities/{opp}", {}),
                (f"/v1/analytics/reps/{rep}", {}),
                ("/v1/conversations", {"rep_id": rep}),
                ("/v1/conversations", {"opportunity_id": str(opp)}),
                ("/v1/opportunities", {"rep_id": rep}),
            ):
                r = get(services, token, path, **params)
                want = status
                if path.endswith("/audio") and status == 200:
                    want = 500  # seeded rows have no object; the scope check comes first
                    continue
                assert r.status_code == want, (who, rep, path, r.text)
                if want == 404:
                    assert r.json()["error"]["code"] == "not_found"
        for team, status in TEAM_MATRIX[who].items():
            r = get(services, token, f"/v1/analytics/teams/{team}")
            assert r.status_code == status, (who, team, r.text)
            r = get(services, token, "/v1/conversations", team_id=team)
            assert r.status_code == status, (who, team, r.text)
        # Lists and the dashboard show only what is in scope.
        listed = get(services, token, "/v1/conversations", limit=100).json()["items"]
        reps_seen = {i["rep_id"] for i in listed}
        allowed = {rep for rep, s in expected.items() if s == 200}
        assert reps_seen & {"rep-a", "rep-b", "rep-c"} <= allowed, (who, reps_seen)
        board = get(services, token, "/v1/analytics/dashboard")
        assert board.status_code == 200 and board.json()["total_conversations"] >= 1


def test_keyset_pages_cover_the_list_once(
    services: Any, tokens: dict[str, str], seeded: Seeded
) -> None:
    seen: list[str] = []
    cursor = None
    # Small pages, followed to the end: rep-a also holds every call earlier tests made.
    for _ in range(1000):
        params: dict[str, Any] = {"rep_id": "rep-a", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = get(services, tokens["admin"], "/v1/conversations", **params).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert not cursor, "the pages end"
    mine = [str(c) for c, r in seeded.rep_of_conversation.items() if r == "rep-a"]
    assert set(mine) <= set(seen) and len(seen) == len(set(seen))
    by_score = get(services, tokens["admin"], "/v1/conversations", sort="score", limit=5).json()
    scores = [i["overall_score"] for i in by_score["items"]]
    assert scores == sorted(scores, reverse=True)
    found = get(services, tokens["admin"], "/v1/conversations", q="discount licence").json()
    assert found["items"], "full-text search over transcripts finds the pricing talk"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "query.status"),
        ({"qualification_status": "Great"}, "query.qualification_status"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 101}, "query.limit"),
        ({"min_score": 9}, "query.min_score"),
        ({"min_score": 4, "max_score": 2}, "query.max_score"),
        ({"from": "2026-05-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "query.to"),
        ({"q": "x" * 201}, "query.q"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"colour": "red"}, "query.colour"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    services: Any, tokens: dict[str, str], params: dict[str, Any], field: str
) -> None:
    r = get(services, tokens["admin"], "/v1/conversations", **params)
    assert r.status_code == 422, r.text
    body = r.json()["error"]
    assert body["code"] == "invalid_request"
    assert field in [p["field"] for p in body["details"]["problems"]], body


def test_a_cursor_from_another_query_is_refused(
    services: Any, tokens: dict[str, str], seeded: Seeded
) -> None:
    page = get(services, tokens["admin"], "/v1/conversations", rep_id="rep-a", limit=1).json()
    assert page["next_cursor"]
    r = get(
        services, tokens["admin"], "/v1/conversations", rep_id="rep-b", cursor=page["next_cursor"]
    )
    assert r.status_code == 422 and "another query" in r.text
    r = get(
        services, tokens["manager"], "/v1/conversations", rep_id="rep-a", cursor=page["next_cursor"]
    )
    assert r.status_code == 422, "a cursor issued to another scope is foreign"


def cache_layers(services: Any, token: str) -> dict[str, Any]:
    return get(services, token, "/v1/ops/cache").json()["layers"]


async def test_each_layer_hits_misses_and_is_invalidated_by_a_committed_change(
    services: Any, tokens: dict[str, str], seeded: Seeded, sessions: Any
) -> None:
    from sqlalchemy import text

    admin = tokens["admin"]
    conv = [c for c, r in seeded.rep_of_conversation.items() if r == "rep-b"][-1]
    reads = {
        "details": f"/v1/conversations/{conv}",
        "lists": "/v1/conversations",
        "aggregates": "/v1/analytics/dashboard",
    }
    for layer, path in reads.items():
        params = {"rep_id": "rep-b", "limit": 7} if layer == "lists" else {}
        if layer == "aggregates":
            path, params = "/v1/analytics/teams/team-east", {"from": "2026-02-03"}
        before = cache_layers(services, admin)[layer]
        first = get(services, tokens["manager"], path, **params)
        second = get(services, tokens["manager"], path, **params)
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit"), layer
        after = cache_layers(services, admin)[layer]
        assert after["misses"] >= before["misses"] + 1, layer
        assert after["hits"] >= before["hits"] + 1, layer

    # A stage commits a change: every layer that could show it answers fresh within 1 s.
    async with sessions() as s, s.begin():
        await s.execute(
            text("UPDATE conversations SET status = 'failed', failure_reason = 'x' WHERE id = :id"),
            {"id": conv},
        )
    committed = time.monotonic()

    async def last_stale(layer: str, path: str) -> float:
        """When (after the commit) the last request that still answered stale was sent
        (0 if none did): the stale-read window of the layer."""
        params = {"rep_id": "rep-b", "status": "failed"} if layer == "lists" else {}
        stale_sent = 0.0
        async with httpx.AsyncClient(base_url=services.base_url, timeout=30) as client:
            while True:
                sent = time.monotonic() - committed
                r = await client.get(path, params=params, headers=auth(tokens["manager"]))
                body = r.json()
                if layer == "details":
                    fresh = body["status"] == "failed"
                elif layer == "lists":
                    fresh = str(conv) in [i["id"] for i in body["items"]]
                else:
                    fresh = body["status_distribution"].get("failed", 0) >= 1
                if fresh:
                    return stale_sent
                stale_sent = sent
                assert sent < 5, f"{layer} still stale"
                await asyncio.sleep(0.01)

    found = await asyncio.gather(*(last_stale(k, v) for k, v in reads.items()))
    windows = dict(zip(reads, found, strict=True))
    assert max(windows.values()) <= 1.0, windows
    lag = get(services, tokens["admin"], "/v1/ops/cache").json()["invalidation_lag_ms"]
    print(f"stale-read window after commit: {windows}; invalidation lag {lag}")


def test_entries_are_keyed_by_scope(services: Any, tokens: dict[str, str], seeded: Seeded) -> None:
    admin_board = get(services, tokens["admin"], "/v1/analytics/dashboard").json()
    user_board = get(services, tokens["user_a"], "/v1/analytics/dashboard").json()
    again = get(services, tokens["user_a"], "/v1/analytics/dashboard").json()
    assert user_board == again
    assert user_board["total_conversations"] < admin_board["total_conversations"]
    assert {r["rep_id"] for r in user_board["recent_analyses"]} <= {"rep-a"}


def test_single_flight_under_concurrent_misses(
    services: Any, tokens: dict[str, str], seeded: Seeded
) -> None:
    """20 concurrent misses of one key compute once. A burst during which the pipeline
    invalidated something (calls of earlier tests still finishing) legitimately computes
    again under the new version, so it is repeated on a fresh key, up to five times."""

    async def burst(since: str) -> list[int]:
        async with httpx.AsyncClient(base_url=services.base_url, timeout=30) as client:
            rs = await asyncio.gather(
                *(
                    client.get(
                        "/v1/analytics/teams/team-east",
                        params={"from": since},
                        headers=auth(tokens["admin"]),
                    )
                    for _ in range(20)
                )
            )
        return [r.status_code for r in rs]

    assert_one_computation_per_burst(
        services.base_url,
        tokens["admin"],
        [partial(burst, f"2026-01-0{day}") for day in range(1, 6)],
    )


def test_redis_killed_mid_run_every_request_still_answers(
    services: Any, tokens: dict[str, str], seeded: Seeded, stack: Any
) -> None:
    from callstream_cli.stack import manager
    from callstream_common.topics import all_topics

    _, settings = stack
    conv, _ = pick(seeded, "rep-a")
    paths = ["/v1/conversations", f"/v1/conversations/{conv}", "/v1/analytics/dashboard"]
    statuses: list[int] = []
    redis = manager.component(settings, "redis")
    try:
        for _ in range(3):
            statuses += [get(services, tokens["admin"], p).status_code for p in paths]
        assert set(asyncio.run(concurrent_lists(services, tokens["admin"], "before"))) <= {
            "hit",
            "miss",
        }
        assert redis.tracked_process().stop()
        # The answers ingest keeps in memory are dropped as soon as it stops hearing Redis.
        wait_until_listening(services.base_url, tokens["admin"], False)
        outcomes: list[str] = []
        for _ in range(10):
            answers = [get(services, tokens["admin"], p) for p in paths]
            statuses += [a.status_code for a in answers]
            outcomes += [a.headers["X-Cache"] for a in answers]
        assert set(outcomes) <= {"error", "bypass"} and outcomes[-1] == "bypass", outcomes
        health = httpx.get(f"{services.base_url}/health", timeout=30)
        assert health.status_code == 200 and health.json()["cache"].startswith("degraded")
        assert get(services, tokens["admin"], "/v1/ops/cache").json()["status"] == "degraded"
    finally:
        manager.up(settings, all_topics())
    time.sleep(2.5)
    statuses += [get(services, tokens["admin"], p).status_code for p in paths]
    assert statuses == [200] * len(statuses)
    wait_for_closed_breaker(services, tokens["admin"], paths[0])
    # The connections pooled before the restart are all dead: none may fail a lookup
    # (three such failures would open the circuit again).
    outcomes = asyncio.run(concurrent_lists(services, tokens["admin"], "after"))
    assert set(outcomes) == {"miss"}, outcomes
    assert get(services, tokens["admin"], "/v1/ops/cache").json()["status"] == "ok"


def test_a_frozen_redis_is_waited_on_only_until_the_breaker_opens(
    services: Any, tokens: dict[str, str], seeded: Seeded, stack: Any
) -> None:
    """Slow rather than gone: Redis keeps its connections but answers nothing (SIGSTOP).
    Answers ingest keeps in memory are served without waiting (nothing can have bumped
    them: a bump would have to go through the frozen Redis). A lookup of anything else
    waits for the cache's small timeout, then answers from PostgreSQL (``error``); after
    as many of them as the breaker's threshold, requests stop waiting on Redis
    (``bypass``), and memory is not used either until the breaker closes. Once Redis
    answers again (SIGCONT), the replies it owed to lookups that gave up must not be read
    as the answers of later ones: every body is the right one."""
    from callstream_cli.stack import manager
    from callstream_ingest.cache.store import CircuitBreaker

    _, settings = stack
    conv, _ = pick(seeded, "rep-a")
    paths = ["/v1/conversations", f"/v1/conversations/{conv}", "/v1/analytics/dashboard"]
    pid = manager.component(settings, "redis").tracked_process().pid()
    assert pid is not None
    for p in paths:
        for _ in range(3):
            if get(services, tokens["admin"], p).headers["X-Cache"] == "hit":
                break
    statuses: list[int] = []
    outcomes: list[str] = []
    os.kill(pid, signal.SIGSTOP)
    try:
        kept = [get(services, tokens["admin"], p) for p in paths]
        assert [a.headers["X-Cache"] for a in kept] == ["hit"] * len(paths)
        statuses += [a.status_code for a in kept]
        while "bypass" not in outcomes:
            assert len(outcomes) < 10, f"the breaker never opened: {outcomes}"
            # a page no process has read: Redis has to be asked
            answer = get(services, tokens["admin"], paths[0], limit=len(outcomes) + 2)
            statuses.append(answer.status_code)
            outcomes.append(answer.headers["X-Cache"])
        assert set(outcomes) == {"error", "bypass"}, outcomes
        assert outcomes.count("error") <= CircuitBreaker().threshold, outcomes
        for p in paths:
            answer = get(services, tokens["admin"], p)
            statuses.append(answer.status_code)
            assert answer.headers["X-Cache"] == "bypass"
        health = httpx.get(f"{services.base_url}/health", timeout=30)
        assert health.status_code == 200 and health.json()["cache"].startswith("degraded")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert statuses == [200] * len(statuses)
    wait_for_closed_breaker(services, tokens["admin"], paths[0])
    for _ in range(3):
        listed = get(services, tokens["admin"], paths[0], limit=5)
        detail = get(services, tokens["admin"], paths[1])
        assert {listed.headers["X-Cache"], detail.headers["X-Cache"]} <= {"hit", "miss"}
        assert len(listed.json()["items"]) == 5
        assert detail.json()["id"] == str(conv)


def wait_for_closed_breaker(services: Any, token: str, path: str) -> None:
    """Read ``path`` until ingest's read cache reports its breaker closed (the half-open
    probe needs a request), for at most 10 s after Redis is back."""
    deadline = time.monotonic() + 10
    while get(services, token, "/v1/ops/cache").json()["status"] != "ok":
        get(services, token, path)
        assert time.monotonic() < deadline, "the breaker closes again once Redis answers"
        time.sleep(0.3)


async def concurrent_lists(services: Any, token: str, tag: str, n: int = 16) -> list[str]:
    """The ``X-Cache`` of ``n`` concurrent lists of distinct keys: as many Redis
    connections in use at once."""
    async with httpx.AsyncClient(base_url=services.base_url, headers=auth(token)) as client:
        answers = await asyncio.gather(
            *(
                client.get("/v1/conversations", params={"q": f"{tag}{k}", "limit": 1 + k})
                for k in range(n)
            )
        )
    assert [a.status_code for a in answers] == [200] * n
    return [a.headers["X-Cache"] for a in answers]


async def test_reanalysis_keeps_the_earlier_version(
    services: Any, tokens: dict[str, str], seeded: Seeded
) -> None:
    conv, _ = pick(seeded, "rep-a")
    r = httpx.post(
        f"{services.base_url}/v1/conversations/{conv}/reanalyze", headers=auth(tokens["user_a"])
    )
    assert r.status_code == 403
    r = httpx.post(
        f"{services.base_url}/v1/conversations/{conv}/reanalyze", headers=auth(tokens["manager"])
    )
    assert r.status_code == 202, r.text
    assert r.json()["current_version"] == 1
    deadline = time.monotonic() + 120
    while True:
        detail = get(services, tokens["admin"], f"/v1/conversations/{conv}").json()
        if len(detail["analysis_versions"]) == 2:
            break
        assert time.monotonic() < deadline, detail["analysis_versions"]
        await asyncio.sleep(0.5)
    versions = detail["analysis_versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert [v["current"] for v in versions] == [False, True]
    assert detail["analysis"]["version"] == 2
    old = get(services, tokens["admin"], f"/v1/conversations/{conv}/analyses/1").json()
    assert old["model"] == "seed" and old["current"] is False
    other = next(c for c, rep in seeded.rep_of_conversation.items() if rep == "rep-c")
    r = httpx.post(
        f"{services.base_url}/v1/conversations/{other}/reanalyze", headers=auth(tokens["manager"])
    )
    assert r.status_code == 404


def test_opportunity_shows_the_deal_across_calls(
    services: Any, tokens: dict[str, str], seeded: Seeded
) -> None:
    _, opp = pick(seeded, "rep-c")
    body = get(services, tokens["admin"], f"/v1/opportunities/{opp}").json()
    assert len(body["calls"]) >= 2
    picture = body["picture"]
    assert {d["dimension"] for d in picture["dimensions"]} == {
        "metrics",
        "economic_buyer",
        "decision_criteria",
        "decision_process",
        "identify_pain",
        "champion",
    }
    for d in picture["dimensions"]:
        assert d["best"]["score"] >= d["latest"]["score"]
        assert d["best"]["conversation_id"] in [c["id"] for c in body["calls"]]
    assert len(picture["trend"]) == len(body["calls"])
    listed = get(services, tokens["admin"], "/v1/opportunities", rep_id="rep-c").json()
    assert str(opp) in [i["id"] for i in listed["items"]]


def test_audio_streams_with_range(services: Any, tokens: dict[str, str], sample_wav: Any) -> None:
    data = sample_wav.read_bytes()
    r = httpx.post(
        f"{services.base_url}/v1/conversations",
        headers=auth(tokens["user_a"]),
        files={"file": ("call.wav", data)},
        data={"opportunity_name": "Range deal", "company_name": "Acme"},
        timeout=60,
    )
    assert r.status_code == 202, r.text
    cid = r.json()["id"]
    url = f"/v1/conversations/{cid}/audio"
    whole = get(services, tokens["user_a"], url)
    assert whole.status_code == 200 and whole.content == data
    part = httpx.get(
        f"{services.base_url}{url}", headers=auth(tokens["user_a"]) | {"Range": "bytes=100-199"}
    )
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = httpx.get(
        f"{services.base_url}{url}", headers=auth(tokens["user_a"]) | {"Range": "bytes=-10"}
    )
    assert tail.status_code == 206 and tail.content == data[-10:]
    bad = httpx.get(
        f"{services.base_url}{url}",
        headers=auth(tokens["user_a"]) | {"Range": f"bytes={len(data) + 5}-"},
    )
    assert bad.status_code == 416
    assert get(services, tokens["user_c"], url).status_code == 404
    detail = get(services, tokens["user_a"], f"/v1/conversations/{cid}").json()
    assert detail["audio_url"] == url and detail["opportunity_id"]
    again = httpx.post(
        f"{services.base_url}/v1/conversations",
        headers=auth(tokens["user_a"]),
        files={"file": ("call.wav", data)},
        data={"opportunity_id": detail["opportunity_id"]},
        timeout=60,
    )
    assert again.status_code == 202, again.text
    second = get(services, tokens["user_a"], f"/v1/conversations/{again.json()['id']}").json()
    assert second["opportunity_id"] == detail["opportunity_id"]
    assert second["opportunity_name"] == "Range deal"
    foreign = httpx.post(
        f"{services.base_url}/v1/conversations",
        headers=auth(tokens["user_c"]),
        files={"file": ("call.wav", data)},
        data={"opportunity_id": detail["opportunity_id"]},
        timeout=60,
    )
    assert foreign.status_code == 404
