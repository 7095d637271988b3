"""Read API under load: 100,000 seeded calls, 50 concurrent users of every role, while
the pipeline keeps completing calls; cache on (cold, warm, steady) vs cache off.

    make bench-read                      # 100k calls, 50 users
    make bench-read BENCH_ARGS=--smoke   # 2k calls, 10 users, seconds

Seeds with COPY, starts ingest + transcriber + analyzer + notifier (instant providers)
on the bench stack (``CALLSTREAM_BENCH_PORT_OFFSET`` shifts its ports), and reports per
endpoint p50/p95/p99 cold and warm, the steady-state mix with the cache and without it
(the baseline, same run, same data), hit rate per layer, and the stale-read window: how
long after a call's completion was committed a request was still answered with the old
status.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from bench.common import (
    Chart,
    Series,
    arg_parser,
    bench_services,
    console,
    fmt_ms,
    print_table,
    save_results,
    summarize,
    synth_wav,
)
from bench.read_seed import bench_plan, seed

ENDPOINTS = ("list", "search", "detail", "dashboard", "performance")
SEARCH_TERMS = ("pricing", "discount licence", "dashboard review", "security", "onboarding")


@dataclass
class User:
    name: str
    token: str
    role: str
    rep_id: str | None
    team_id: str | None
    conversations: list[str]


def pick_request(rng: random.Random, user: User) -> tuple[str, str, dict[str, Any]]:
    """60% lists (a third of them with search), 20% details, 15% dashboard, 5% performance."""
    roll = rng.random()
    if roll < 0.40:
        params: dict[str, Any] = rng.choice(
            [
                {},
                {"status": "completed"},
                {"qualification_status": rng.choice(["Strong", "Medium", "Weak", "At Risk"])},
                {"sort": "score"},
                {"min_score": 3.5},
            ]
        )
        if user.rep_id and user.role != "admin" and rng.random() < 0.5:
            params = params | {"rep_id": user.rep_id}
        return "list", "/v1/conversations", params
    if roll < 0.60:
        return "search", "/v1/conversations", {"q": rng.choice(SEARCH_TERMS)}
    if roll < 0.80:
        return "detail", f"/v1/conversations/{rng.choice(user.conversations)}", {}
    if roll < 0.95:
        return "dashboard", "/v1/analytics/dashboard", {}
    if user.role == "manager" and user.team_id:
        return "performance", f"/v1/analytics/teams/{user.team_id}", {}
    rep = user.rep_id or "rep-000"
    return "performance", f"/v1/analytics/reps/{rep}", {}


async def make_users(dsn: str, n: int, base_url: str, admin_token: str) -> list[User]:
    """Users of every role (60% users, 30% managers, 10% admins) through the admin API."""
    conn = await asyncpg.connect(dsn)
    try:
        reps = await conn.fetch("SELECT id, team_id FROM reps ORDER BY id")
        users: list[User] = []
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            for i in range(n):
                role = "admin" if i % 10 == 0 else "manager" if i % 10 in (1, 2, 3) else "user"
                rep = reps[(i * 37) % len(reps)]
                body: dict[str, Any] = {"name": f"bench-{role}-{i}", "role": role}
                if role == "user":
                    body["rep_id"] = rep["id"]
                if role == "manager":
                    body["team_id"] = rep["team_id"]
                r = await client.post(
                    "/v1/admin/users",
                    json=body,
                    headers={"Authorization": f"Bearer {admin_token}"},
                )
                r.raise_for_status()
                where = {
                    "user": "rep_id = $1",
                    "manager": "rep_id IN (SELECT id FROM reps WHERE team_id = $1)",
                    "admin": "$1::text IS NULL OR true",
                }
                arg = rep["id"] if role == "user" else rep["team_id"] if role == "manager" else None
                ids = await conn.fetch(
                    f"SELECT id FROM conversations WHERE {where[role]} "  # noqa: S608
                    "ORDER BY random() LIMIT 300",
                    arg,
                )
                users.append(
                    User(
                        body["name"],
                        r.json()["token"],
                        role,
                        rep["id"] if role != "admin" else None,
                        rep["team_id"] if role == "manager" else None,
                        [str(x["id"]) for x in ids],
                    )
                )
        return users
    finally:
        await conn.close()


async def drive(
    base_url: str, users: list[User], seconds: float, seed_value: int
) -> dict[str, list[float]]:
    """Every user sends requests back to back for ``seconds``; latency per endpoint."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[int, int] = defaultdict(int)
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(users) + 5)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def one_user(n: int, user: User) -> None:
            rng = random.Random(seed_value * 1000 + n)
            headers = {"Authorization": f"Bearer {user.token}"}
            while time.monotonic() < deadline:
                kind, path, params = pick_request(rng, user)
                t = time.perf_counter()
                try:
                    r = await client.get(path, params=params, headers=headers)
                except httpx.HTTPError:
                    errors[0] += 1
                    continue
                latencies[kind].append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors[r.status_code] += 1

        await asyncio.gather(*(one_user(n, u) for n, u in enumerate(users)))
    if errors:
        console.print(f"[red]non-200 answers (0: connection error): {dict(errors)}[/]")
    return latencies


async def keep_completing_calls(
    base_url: str, token: str, dsn: str, stop: asyncio.Event, delays: list[float]
) -> int:
    """Upload a short call every 0.5 s (instant providers complete it in well under a
    second) and measure, for each, commit of ``completed`` → the API showing it."""
    wav = synth_wav(32_044)
    conn = await asyncpg.connect(dsn)
    sent = 0
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        headers = {"Authorization": f"Bearer {token}"}
        while not stop.is_set():
            rep = f"rep-{random.randrange(500):03d}"
            try:
                r = await client.post(
                    "/v1/conversations",
                    headers=headers,
                    files={"file": ("c.wav", wav)},
                    data={"opportunity_name": f"Live deal {sent % 50}", "rep_id": rep},
                )
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            sent += 1
            if r.status_code != 202:
                await asyncio.sleep(0.5)
                continue
            cid = r.json()["id"]
            deadline = time.monotonic() + 30
            # Read it (cached as pending), then poll until the API shows completed; the
            # stale window is how long after the commit a request was still answered stale.
            last_sent = 0.0
            while time.monotonic() < deadline and not stop.is_set():
                sent_at = time.time()
                try:
                    answer = await client.get(f"/v1/conversations/{cid}", headers=headers)
                except httpx.HTTPError:
                    continue
                body = answer.json()
                if body["status"] == "completed":
                    completed_at = await conn.fetchval(
                        "SELECT completed_at FROM conversations WHERE id = $1", uuid.UUID(cid)
                    )
                    if isinstance(completed_at, datetime):
                        delays.append(max(0.0, last_sent - completed_at.timestamp()))
                    break
                last_sent = sent_at
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
    await conn.close()
    return sent


async def set_cache(base_url: str, token: str, enabled: bool) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        r = await client.put(
            "/v1/ops/cache",
            json={"enabled": enabled, "reset_stats": True},
            headers={"Authorization": f"Bearer {token}"},
        )
        r.raise_for_status()


async def cache_summary(base_url: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        r = await client.get("/v1/ops/cache", headers={"Authorization": f"Bearer {token}"})
        return dict(r.json())


async def fixed_pass(base_url: str, users: list[User], per_user: int) -> dict[str, list[float]]:
    """The same requests for every run (seeded): first run cold, second warm."""
    latencies: dict[str, list[float]] = defaultdict(list)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=len(users) + 5)
    ) as client:

        async def one(n: int, user: User) -> None:
            rng = random.Random(n)
            headers = {"Authorization": f"Bearer {user.token}"}
            for _ in range(per_user):
                kind, path, params = pick_request(rng, user)
                t = time.perf_counter()
                try:
                    await client.get(path, params=params, headers=headers)
                except httpx.HTTPError:
                    continue
                latencies[kind].append(time.perf_counter() - t)

        await asyncio.gather(*(one(n, u) for n, u in enumerate(users)))
    return latencies


async def run(base_url: str, admin: str, dsn: str, n_users: int, seconds: float) -> dict[str, Any]:
    users = await make_users(dsn, n_users, base_url, admin)
    console.print(
        f"{len(users)} users: "
        + ", ".join(
            f"{r} {sum(1 for u in users if u.role == r)}" for r in ("admin", "manager", "user")
        )
    )
    stop = asyncio.Event()
    delays: list[float] = []
    completing = asyncio.create_task(keep_completing_calls(base_url, admin, dsn, stop, delays))
    try:
        await set_cache(base_url, admin, True)
        cold = await fixed_pass(base_url, users, 20)
        warm = await fixed_pass(base_url, users, 20)
        await set_cache(base_url, admin, True)
        steady_on = await drive(base_url, users, seconds, 1)
        summary_on = await cache_summary(base_url, admin)
        await set_cache(base_url, admin, False)
        steady_off = await drive(base_url, users, seconds, 1)
        await set_cache(base_url, admin, True)
    finally:
        stop.set()
        calls = await completing
    return {
        "users": len(users),
        "calls_completed_during_run": calls,
        "cold": {k: summarize(v) for k, v in cold.items()},
        "warm": {k: summarize(v) for k, v in warm.items()},
        "cache_on": {k: summarize(v) for k, v in steady_on.items()},
        "cache_off": {k: summarize(v) for k, v in steady_off.items()},
        "requests": {
            "cache_on": sum(len(v) for v in steady_on.values()),
            "cache_off": sum(len(v) for v in steady_off.values()),
        },
        "seconds_per_mix": seconds,
        "cache": summary_on,
        "invalidation_delay": summarize(delays) if delays else None,
    }


async def clear_calls(dsn: str) -> None:
    """The bench stack's database starts each run without calls (a kept stack has some)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "TRUNCATE conversations, transcripts, meddic_analyses, analysis_versions, "
            "opportunities, notifications, alerts, event_outbox, processed_messages CASCADE"
        )
    finally:
        await conn.close()


def report(result: dict[str, Any], seeded: int, seed_seconds: float) -> None:
    rows = []
    for kind in ENDPOINTS:
        cells: list[object] = [kind]
        for phase in ("cold", "warm", "cache_on", "cache_off"):
            s = result[phase].get(kind)
            cells += [fmt_ms(s.p50), fmt_ms(s.p95), fmt_ms(s.p99)] if s else ["-"] * 3
        rows.append(cells)
    cols = ["endpoint"] + [
        f"{phase} {q}"
        for phase in ("cold", "warm", "steady cached", "steady uncached")
        for q in ("p50", "p95", "p99")
    ]
    print_table(
        f"read API, {seeded:,} calls seeded in {seed_seconds:.0f}s, {result['users']} users",
        cols,
        rows,
        caption=(
            f"throughput cached {result['requests']['cache_on'] / result['seconds_per_mix']:.0f}"
            f" req/s vs uncached {result['requests']['cache_off'] / result['seconds_per_mix']:.0f}"
            f" req/s; {result['calls_completed_during_run']} calls completed during the run"
        ),
    )
    layers = result["cache"]["layers"]
    print_table(
        "cache per layer (steady state)",
        ["layer", "hits", "misses", "hit rate", "p50", "p95"],
        [
            [
                name,
                v["hits"],
                v["misses"],
                f"{(v['hit_rate'] or 0) * 100:.1f}%",
                f"{v['latency_ms']['p50']} ms",
                f"{v['latency_ms']['p95']} ms",
            ]
            for name, v in layers.items()
        ],
    )
    delay = result["invalidation_delay"]
    if delay:
        console.print(
            f"stale-read window (commit → last stale answer sent): p50 {fmt_ms(delay.p50)}, "
            f"p99 {fmt_ms(delay.p99)}, max {fmt_ms(delay.max)} over {delay.n} calls"
        )


def main() -> None:
    parser = arg_parser(__doc__ or "")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    if args.smoke:
        args.conversations, args.users, args.seconds = 2_000, 10, 4.0
    env = {
        "CALLSTREAM_TRANSCRIBER_PROVIDER": "instant",
        "CALLSTREAM_ANALYZER_PROVIDER": "instant",
        "CALLSTREAM_DATABASE_POOL_SIZE": "20",
        "CALLSTREAM_LOG_LEVEL": "WARNING",
    }
    timing: dict[str, float] = {}

    def prepare(endpoints: Any) -> None:
        dsn = endpoints.database_url.get_secret_value().replace("+asyncpg", "")
        asyncio.run(clear_calls(dsn))
        t = time.perf_counter()
        asyncio.run(seed(dsn, bench_plan(args.conversations)))
        timing["seed"] = time.perf_counter() - t
        console.print(f"seeded {args.conversations:,} calls in {timing['seed']:.1f}s (COPY)")

    names = ("ingest", "transcriber", "analyzer", "notifier")
    with bench_services(names, env, keep=args.keep, prepare=prepare) as target:
        dsn = target.endpoints.database_url.get_secret_value().replace("+asyncpg", "")
        result = asyncio.run(run(target.base_url, target.token, dsn, args.users, args.seconds))
    report(result, args.conversations, timing["seed"])
    charts = [
        Chart(
            "p95 per endpoint",
            "endpoint (0=list 1=search 2=detail 3=dashboard 4=performance)",
            "ms",
            [
                Series(
                    phase,
                    list(range(len(ENDPOINTS))),
                    [result[phase][k].p95 * 1000 if k in result[phase] else 0.0 for k in ENDPOINTS],
                )
                for phase in ("cold", "warm", "cache_on", "cache_off")
            ],
            log_y=True,
        )
    ]
    paths = save_results(
        "read-api",
        {"conversations": args.conversations, "seed_seconds": timing["seed"], **result},
        charts,
    )
    console.print("results: " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    main()
