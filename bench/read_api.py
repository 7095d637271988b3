"""Read API under load: 100,000 seeded calls, 50 concurrent users of every role, while
the pipeline keeps completing calls; cache on (cold, warm, steady) vs cache off.

    make bench-read                      # 100k calls, 50 users
    make bench-read BENCH_ARGS=--smoke   # 2k calls, 10 users, seconds

Users behave like people in a web app: between two requests each one thinks for a random
time (exponential, mean ``--think`` seconds), and opens recent calls more often than old
ones (the detail picked with weight 1/rank over the user's calls, newest first). Latency is
measured under that load; a separate saturation pass with no think time gives the
throughput each way (cached vs uncached), where latency is only queueing.

The users' requests go through aiohttp, whose own time per request is small and steady:
httpx, used before, added about a millisecond to every request and a tail of its own, which
was then counted as the server's (one cached list page back to back on a kept bench stack:
httpx p50 1.97 / p95 6.93 ms, aiohttp 1.19 / 1.76 ms, a bare socket 1.00 / 1.49 ms). Each
run measures that share again at its end, the pipeline stopped: one cached page back to
back through the users' client and through a bare socket.

Phases: one dashboard per role computed alone (cold, nothing queued), a cold pass and the
same requests again (warm), then the cache is brought to its steady state before the
measured steady mix with the cache (all requests, and those the cache answered entirely:
``X-Cache: hit``) and without it (the baseline).

Steady state means the hit rate no longer rises, not "after a minute": details live 24 h
and a user picks among their 100 newest calls, so a few minutes of traffic only meet
*compulsory* misses (a page opened for the first time), which a day of use does not have.
The warm-up compresses that history: every user first opens once every page their mix can
show (each list and search variant, the dashboard, their performance page and each of their
100 calls: at 2 s think time and 1/rank picks, a user opens even their 100th call about five
times in an eight-hour day), eight requests at a time so as not to overload the server;
then the mix runs as measured (same think time) in 20 s windows until two successive
windows' hit rates differ by less than two points (at most ``--warmup-cap`` seconds). The
workload mix itself is the same in every phase. (A warm-up with no think time overloads the
2-core machine: Redis calls time out on the busy event loop, the breaker opens and missed
invalidations move the cache to a new epoch, so it never settles.) The hit rate is read
from ``X-Cache`` on the users' requests (a hit only if answered entirely from the cache: a
list whose page of ids was cached but some items were re-read is ``partial``), so the
pipeline poller's reads of brand-new calls do not count; the per-layer lookup rates
(details, lists, aggregates, items) come from ``/v1/ops/cache`` and include the poller.
The load average at start and end is recorded.

Seeds with COPY, starts ingest + transcriber + analyzer + notifier (instant providers)
on the bench stack (``CALLSTREAM_BENCH_PORT_OFFSET`` shifts its ports), and reports per
endpoint p50/p95/p99 cold and warm, the steady-state mix with the cache and without it
(the baseline, same run, same data), hit rate per layer, and the stale-read window: how
long after a call's completion was committed a request was still answered with the old
status.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import httpx

from bench.common import (
    Chart,
    Series,
    Summary,
    arg_parser,
    bearer,
    bench_services,
    console,
    save_results,
    summarize,
    synth_wav,
)
from bench.read_report import ENDPOINTS, report
from bench.read_seed import bench_plan, seed

SEARCH_TERMS = ("pricing", "discount licence", "dashboard review", "security", "onboarding")
CALLS_PER_USER = 100
PASS_REQUESTS = 10
"""Requests per user in the cold pass and again, the same ones, in each warm pass."""
WARM_PASSES = 3
"""How many times the cold pass's requests are sent again, warm. One pass holds about 200
lists, so its p95 is the tenth slowest: over five runs of one pass it ranged 8.5-12.3 ms
for the same code. Three passes, pooled, give the p95 three times as many samples."""
CLIENT_PROBES = 300
"""Requests of one cached page back to back, to measure the client's own share."""
WARMUP_WINDOW_SECONDS = 20.0
WARMUP_TOLERANCE = 0.02
"""Two successive 20 s windows (about 500 requests each) closer than two points: a
window's hit rate varies by about that much from sampling alone."""
RECENCY_WEIGHTS = [1 / (rank + 1) for rank in range(CALLS_PER_USER)]
"""A user opens their newest call most often, the n-th newest 1/n as often (Zipf, s=1)."""


@dataclass
class Outcomes:
    """How the read cache answered the users' requests (the ``X-Cache`` header), per
    endpoint and per role: the hit rate of the users' mix alone, without the pipeline
    poller's reads."""

    counts: dict[tuple[str, str], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )

    def count(self, role: str, endpoint: str, outcome: str) -> None:
        self.counts[(role, endpoint)][outcome] += 1

    def hit_rates(self, outcome: str = "hit") -> dict[str, float]:
        """The share answered with ``outcome``: per endpoint, per role (``role:<name>``),
        per role and endpoint (``<role>:<endpoint>``) and ``all``."""
        groups: dict[str, list[dict[str, int]]] = defaultdict(list)
        for (role, endpoint), counts in self.counts.items():
            groups[endpoint].append(counts)
            groups[f"role:{role}"].append(counts)
            groups[f"{role}:{endpoint}"].append(counts)
            groups["all"].append(counts)
        return {
            name: sum(c[outcome] for c in members) / max(1, sum(sum(c.values()) for c in members))
            for name, members in groups.items()
        }


@dataclass
class Driven:
    latencies: dict[str, list[float]]
    hit_latencies: dict[str, list[float]]
    """Only the requests the cache answered (``X-Cache: hit``): a warm cache's latency."""
    outcomes: Outcomes

    def summary(self) -> dict[str, Any]:
        return {k: summarize(v) for k, v in self.latencies.items()}

    def hits_summary(self) -> dict[str, Any]:
        return {k: summarize(v) for k, v in self.hit_latencies.items()}

    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @classmethod
    def pooled(cls, runs: list[Driven]) -> Driven:
        """The requests of ``runs`` as one sample."""
        pooled = cls(defaultdict(list), defaultdict(list), Outcomes())
        for run in runs:
            for kind, values in run.latencies.items():
                pooled.latencies[kind].extend(values)
            for kind, values in run.hit_latencies.items():
                pooled.hit_latencies[kind].extend(values)
            for key, counts in run.outcomes.counts.items():
                for outcome, n in counts.items():
                    pooled.outcomes.counts[key][outcome] += n
        return pooled


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
        chosen = rng.choices(user.conversations, weights=RECENCY_WEIGHTS[: len(user.conversations)])
        return "detail", f"/v1/conversations/{chosen[0]}", {}
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
                    headers=bearer(admin_token),
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
                    "ORDER BY created_at DESC LIMIT $2",
                    arg,
                    CALLS_PER_USER,
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


def users_client(base_url: str, connections: int) -> aiohttp.ClientSession:
    """The client the users' requests go through: aiohttp, whose own time per request is
    small and steady next to the server's (see the module's docstring)."""
    return aiohttp.ClientSession(
        base_url,
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=60),
    )


async def drive(
    base_url: str,
    users: list[User],
    seed_value: int,
    think: float,
    seconds: float | None = None,
    per_user: int | None = None,
) -> Driven:
    """Every user sends requests, thinking ``think`` seconds on average between two (0: back
    to back), for ``seconds`` or ``per_user`` requests; latency per endpoint. The same
    ``seed_value`` gives every user the same requests (the warm pass repeats the cold one)."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[int, int] = defaultdict(int)
    hit_latencies: dict[str, list[float]] = defaultdict(list)
    outcomes = Outcomes()
    deadline = time.monotonic() + seconds if seconds is not None else float("inf")
    async with users_client(base_url, len(users) + 5) as client:

        async def one_user(n: int, user: User) -> None:
            rng = random.Random(seed_value * 1000 + n)
            headers = bearer(user.token)
            if think:
                await asyncio.sleep(rng.uniform(0, think))
            sent = 0
            while time.monotonic() < deadline and (per_user is None or sent < per_user):
                kind, path, params = pick_request(rng, user)
                sent += 1
                t = time.perf_counter()
                try:
                    async with client.get(path, params=params, headers=headers) as r:
                        await r.read()
                except (aiohttp.ClientError, TimeoutError):
                    errors[0] += 1
                    continue
                elapsed = time.perf_counter() - t
                latencies[kind].append(elapsed)
                outcome = r.headers.get("X-Cache", "none")
                outcomes.count(user.role, kind, outcome)
                if outcome == "hit":
                    hit_latencies[kind].append(elapsed)
                if r.status != 200:
                    errors[r.status] += 1
                if think:
                    await asyncio.sleep(rng.expovariate(1 / think))

        await asyncio.gather(*(one_user(n, u) for n, u in enumerate(users)))
    if errors:
        console.print(f"[red]non-200 answers (0: connection error): {dict(errors)}[/]")
    return Driven(latencies, hit_latencies, outcomes)


def every_request(user: User) -> list[tuple[str, dict[str, Any]]]:
    """Every distinct request ``pick_request`` can make for ``user`` (the path and its
    query): what a user who has used the app for a day has opened at least once."""
    lists: list[dict[str, Any]] = [
        {},
        {"status": "completed"},
        *({"qualification_status": q} for q in ("Strong", "Medium", "Weak", "At Risk")),
        {"sort": "score"},
        {"min_score": 3.5},
    ]
    if user.rep_id and user.role != "admin":
        lists += [p | {"rep_id": user.rep_id} for p in lists]
    performance = (
        f"/v1/analytics/teams/{user.team_id}"
        if user.role == "manager" and user.team_id
        else f"/v1/analytics/reps/{user.rep_id or 'rep-000'}"
    )
    return [
        *(("/v1/conversations", p) for p in lists),
        *(("/v1/conversations", {"q": term}) for term in SEARCH_TERMS),
        *((f"/v1/conversations/{c}", {}) for c in user.conversations),
        ("/v1/analytics/dashboard", {}),
        (performance, {}),
    ]


async def browse_history(base_url: str, users: list[User], concurrency: int = 8) -> int:
    """Every user opens every page their mix can show once: the history a day of use
    leaves in the cache, compressed (few at a time, so the server is not overloaded and
    the history is what it would be). Returns the number of requests."""
    gate = asyncio.Semaphore(concurrency)
    wanted = [(u, path, params) for u in users for path, params in every_request(u)]
    async with users_client(base_url, concurrency + 5) as client:

        async def opened(user: User, path: str, params: dict[str, Any]) -> None:
            headers = bearer(user.token)
            async with gate, client.get(path, params=params, headers=headers) as r:
                await r.read()

        await asyncio.gather(*(opened(*w) for w in wanted))
    return len(wanted)


async def warm_up(
    base_url: str,
    users: list[User],
    think: float,
    window: float,
    tolerance: float,
    cap: float,
) -> list[float]:
    """The mix as measured (same think time), in ``window``-second windows, until two
    successive windows' hit rates differ by less than ``tolerance`` (or ``cap`` seconds):
    the hit rate of each window."""
    rates: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < cap:
        driven = await drive(base_url, users, 100 + len(rates), think, seconds=window)
        rates.append(driven.outcomes.hit_rates().get("all", 0.0))
        console.print(f"warm-up window {len(rates)}: hit rate {rates[-1] * 100:.1f}%")
        if len(rates) >= 2 and abs(rates[-1] - rates[-2]) < tolerance:
            break
    return rates


async def first_dashboards(base_url: str, users: list[User]) -> dict[str, float]:
    """The dashboard of one user of each role, computed alone with the cache empty (before
    the pipeline starts completing calls): what it costs cold, queued behind nothing."""
    seconds: dict[str, float] = {}
    async with users_client(base_url, 5) as client:
        for role in ("user", "manager", "admin"):
            user = next(u for u in users if u.role == role)
            headers = bearer(user.token)
            t = time.perf_counter()
            async with client.get("/v1/analytics/dashboard", headers=headers) as r:
                await r.read()
            seconds[role] = time.perf_counter() - t
            assert r.headers.get("X-Cache") == "miss", "the first dashboard must be computed"
    return seconds


async def keep_completing_calls(
    base_url: str,
    token: str,
    dsn: str,
    stop: asyncio.Event,
    delays: list[float],
    interval: float,
) -> int:
    """Upload a short call every ``interval`` seconds (instant providers complete it in well
    under a second; each call changes its status four times, each change invalidating) and
    measure, for each, commit of ``completed`` → the API showing it."""
    wav = synth_wav(32_044)
    conn = await asyncpg.connect(dsn)
    sent = 0
    next_start = time.monotonic()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        headers = bearer(token)
        while not stop.is_set():
            await asyncio.sleep(max(0.0, next_start - time.monotonic()))
            next_start += interval
            rep = f"rep-{random.randrange(500):03d}"
            try:
                r = await client.post(
                    "/v1/conversations",
                    headers=headers,
                    files={"file": ("c.wav", wav)},
                    data={"opportunity_name": f"Live deal {sent % 50}", "rep_id": rep},
                )
            except httpx.HTTPError:
                continue
            sent += 1
            if r.status_code != 202:
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
                await asyncio.sleep(0.05)
    await conn.close()
    return sent


async def client_share(base_url: str, user: User) -> dict[str, Summary]:
    """One cached list page ``CLIENT_PROBES`` times back to back, through the users' client
    and through a bare socket (the request's bytes written, the answer read to its
    ``Content-Length``): what the client itself adds to every measured request."""
    path = "/v1/conversations"
    timed: dict[str, list[float]] = {"client": [], "socket": []}
    async with users_client(base_url, 1) as client:
        headers = bearer(user.token)
        for _ in range(CLIENT_PROBES + 1):
            t = time.perf_counter()
            async with client.get(path, headers=headers) as r:
                await r.read()
            timed["client"].append(time.perf_counter() - t)
    del timed["client"][0]  # the miss that cached the page
    where = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {where.netloc}\r\nAuthorization: Bearer {user.token}\r\n\r\n"
    ).encode()
    try:
        for _ in range(CLIENT_PROBES):
            t = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            timed["socket"].append(time.perf_counter() - t)
    finally:
        writer.close()
        await writer.wait_closed()
    return {k: summarize(v) for k, v in timed.items()}


async def set_cache(base_url: str, token: str, enabled: bool) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        r = await client.put(
            "/v1/ops/cache",
            json={"enabled": enabled, "reset_stats": True},
            headers=bearer(token),
        )
        r.raise_for_status()


async def cache_summary(base_url: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        r = await client.get("/v1/ops/cache", headers=bearer(token))
        return dict(r.json())


async def run(
    base_url: str,
    admin: str,
    dsn: str,
    n_users: int,
    seconds: float,
    think: float,
    calls_per_minute: float,
    warmup_cap: float,
) -> dict[str, Any]:
    load_before = os.getloadavg()
    users = await make_users(dsn, n_users, base_url, admin)
    console.print(
        f"{len(users)} users: "
        + ", ".join(
            f"{r} {sum(1 for u in users if u.role == r)}" for r in ("admin", "manager", "user")
        )
        + f"; think time {think:g} s on average"
    )
    await set_cache(base_url, admin, True)
    cold_dashboards = await first_dashboards(base_url, users)
    stop = asyncio.Event()
    delays: list[float] = []
    completing = asyncio.create_task(
        keep_completing_calls(base_url, admin, dsn, stop, delays, 60 / calls_per_minute)
    )
    saturation_seconds = max(5.0, seconds / 4)
    try:
        cold = await drive(base_url, users, 1, think, per_user=PASS_REQUESTS)
        warm_passes = [
            await drive(base_url, users, 1, think, per_user=PASS_REQUESTS)
            for _ in range(WARM_PASSES)
        ]
        warm = Driven.pooled(warm_passes)
        history = await browse_history(base_url, users)
        windows = await warm_up(
            base_url, users, think, WARMUP_WINDOW_SECONDS, WARMUP_TOLERANCE, warmup_cap
        )
        await set_cache(base_url, admin, True)
        steady_on = await drive(base_url, users, 2, think, seconds=seconds)
        summary_on = await cache_summary(base_url, admin)
        saturated_on = await drive(base_url, users, 3, 0, seconds=saturation_seconds)
        await set_cache(base_url, admin, False)
        steady_off = await drive(base_url, users, 2, think, seconds=seconds)
        saturated_off = await drive(base_url, users, 3, 0, seconds=saturation_seconds)
        await set_cache(base_url, admin, True)
    finally:
        stop.set()
        calls = await completing
    client = await client_share(base_url, next(u for u in users if u.role == "admin"))

    return {
        "load_average": {"start": load_before, "end": os.getloadavg()},
        "warm_up": {
            "history_requests": history,
            "window_seconds": WARMUP_WINDOW_SECONDS,
            "window_hit_rates": windows,
        },
        "users": len(users),
        "think_seconds": think,
        "calls_per_minute": calls_per_minute,
        "calls_completed_during_run": calls,
        "cold_dashboard_alone": cold_dashboards,
        "cold": cold.summary(),
        "steady_hits": steady_on.hits_summary(),
        "warm": warm.summary(),
        "warm_passes": [p.summary() for p in warm_passes],
        "cache_on": steady_on.summary(),
        "cache_off": steady_off.summary(),
        "requests": {"cache_on": steady_on.requests(), "cache_off": steady_off.requests()},
        "hit_rate": {
            "warm": warm.outcomes.hit_rates(),
            "steady": steady_on.outcomes.hit_rates(),
            "steady_partial": steady_on.outcomes.hit_rates("partial"),
        },
        "saturation": {
            "seconds": saturation_seconds,
            "cached_per_second": saturated_on.requests() / saturation_seconds,
            "uncached_per_second": saturated_off.requests() / saturation_seconds,
            "cached": saturated_on.summary(),
            "uncached": saturated_off.summary(),
        },
        "seconds_per_mix": seconds,
        "cache": summary_on,
        "invalidation_delay": summarize(delays) if delays else None,
        "client_share": client,
    }


async def clear_calls(dsn: str) -> None:
    """The bench stack's database starts each run without calls (a kept stack has some)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "TRUNCATE conversations, transcripts, meddic_analyses, analysis_versions, "
            "opportunities, notifications, alerts, event_outbox CASCADE"
        )
    finally:
        await conn.close()


def main() -> None:
    parser = arg_parser(__doc__ or "")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--think", type=float, default=2.0, help="mean seconds a user waits between requests"
    )
    parser.add_argument(
        "--calls-per-minute",
        type=float,
        default=6.0,
        help="calls uploaded and completed during the run; 6/min is 500 reps recording"
        " about six calls each in an eight-hour day",
    )
    parser.add_argument(
        "--warmup-cap",
        type=float,
        default=180.0,
        help="most seconds the warm-up mix runs before the measured steady mix",
    )
    args = parser.parse_args()
    if args.smoke:
        args.conversations, args.users, args.seconds, args.think = 2_000, 10, 4.0, 0.2
        args.warmup_cap = 20.0
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
        result = asyncio.run(
            run(
                target.base_url,
                target.token,
                dsn,
                args.users,
                args.seconds,
                args.think,
                args.calls_per_minute,
                args.warmup_cap,
            )
        )
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
