"""The dashboard and the performance buckets equal figures computed independently, in
Python, from the calls' raw rows (status, analysis summary, dates) — for every role.

The data goes in before migration ``0012_score_columns`` (seeded like the bench, plus calls
the seed does not make: in flight, failed an hour ago, a summary lacking a dimension, one
whose score is not a number), so the generated score columns the aggregates read are the
migration's own backfill; a re-analysis written afterwards moves the figures as it should,
and the migration goes down and up again. All in a database of its own.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench.read_seed import SeedPlan, seed
from callstream_common.contracts import MeddicDimension
from callstream_common.reads import analytics
from callstream_common.reads.scope import Scope
from tests.support.scratch_database import scratch_database

pytestmark = pytest.mark.stack

DATABASE = "callstream_aggregates"
REPS = [
    ("rep-a", "team-east"),
    ("rep-b", "team-east"),
    ("rep-c", "team-west"),
    ("rep-m", "team-west"),
]
SCOPES = {
    "admin": (Scope.of("admin", None, None), None),
    # A manager whose own rep sits in another team: their scope is the team plus that rep.
    "manager": (Scope.of("manager", "rep-m", "team-east"), {"rep-a", "rep-b", "rep-m"}),
    "user": (Scope.of("user", "rep-c", None), {"rep-c"}),
}
DIMENSIONS = [d.value for d in MeddicDimension]


@dataclass
class Call:
    id: uuid.UUID
    rep_id: str
    status: str
    summary: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    title: str | None
    opportunity_name: str
    completed_at: datetime | None


async def _insert_odd_calls(conn: asyncpg.Connection) -> None:
    """Calls the seed does not make, each with what the aggregates must make of it."""
    now = await conn.fetchval("SELECT now()")
    partial = {"overall_score": 3.25, "qualification_status": "Medium", "scores": {"metrics": 4}}
    not_a_number = {
        "overall_score": 2.5,
        "qualification_status": "Weak",
        "scores": {"metrics": "high", "champion": 2},
    }
    odd = [
        ("processing", None, now - timedelta(minutes=5)),
        ("pending", None, now - timedelta(minutes=1)),
        ("failed", None, now - timedelta(hours=1)),
        ("completed", partial, now - timedelta(hours=2)),
        ("completed", not_a_number, now - timedelta(hours=3)),
    ]
    await conn.executemany(
        "INSERT INTO conversations (id, status, opportunity_name, rep_id, title, object_key, "
        "content_type, size_bytes, sha256, priority, analysis_summary, created_at, updated_at, "
        "completed_at) VALUES ($1, $2, 'Odd deal', 'rep-a', 'Odd call', 'recordings/odd', "
        "'audio/wav', 1, $3, 5, $4::jsonb, $5, $5, $6)",
        [
            (
                uuid.uuid4(),
                status,
                "0" * 64,
                json.dumps(s) if s else None,
                at,
                at if status == "completed" else None,
            )
            for status, s, at in odd
        ],
    )


@pytest.fixture(scope="module")
async def database(endpoints: Any) -> AsyncIterator[str]:
    """A database migrated to 0011, seeded, then migrated to the head (the backfill)."""
    from callstream_common.db.migrate import upgrade

    async with scratch_database(endpoints, DATABASE) as scratch:
        await asyncio.to_thread(upgrade, scratch, "0011_cache_facets")
        plan = SeedPlan(
            reps=REPS, opportunities=40, conversations=900, days=120, completed_share=0.9
        )
        await seed(scratch.replace("+asyncpg", ""), plan)
        conn = await asyncpg.connect(scratch.replace("+asyncpg", ""))
        try:
            await _insert_odd_calls(conn)
        finally:
            await conn.close()
        await asyncio.to_thread(upgrade, scratch)
        yield scratch


async def raw_calls(url: str) -> tuple[list[Call], datetime]:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        rows = await conn.fetch(
            "SELECT id, rep_id, status, analysis_summary::text AS summary, created_at, "
            "updated_at, title, opportunity_name, completed_at FROM conversations"
        )
        now = await conn.fetchval("SELECT now()")
    finally:
        await conn.close()
    calls = [
        Call(**(dict(r) | {"summary": json.loads(r["summary"]) if r["summary"] else None}))
        for r in rows
    ]
    return calls, now


def _number(value: object) -> float | None:
    """A score as the aggregates count it: a JSON number, else no score."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _scores(call: Call) -> dict[str, float | None]:
    summary = call.summary or {}
    scores = summary.get("scores") or {}
    return {"overall": _number(summary.get("overall_score"))} | {
        d: _number(scores.get(d)) for d in DIMENSIONS
    }


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return math.fsum(known) / len(known) if known else None


def _week(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def assert_close(shown: float | None, exact: float | None) -> None:
    """``shown`` is ``exact`` rounded to three decimals."""
    if exact is None:
        assert shown is None
        return
    assert shown is not None and abs(shown - exact) <= 0.0005 + 1e-9, (shown, exact)


def assert_dashboard(board: analytics.Dashboard, calls: list[Call], now: datetime) -> None:
    assert board.total_conversations == len(calls)
    assert board.status_distribution == dict(Counter(c.status for c in calls))
    qualified = [c.summary.get("qualification_status") for c in calls if c.summary]
    assert board.qualification_distribution == dict(Counter(q for q in qualified if q))
    scored = [_scores(c) for c in calls]
    assert_close(board.average_overall_score, _mean([s["overall"] for s in scored]))
    assert set(board.average_by_dimension) == set(DIMENSIONS)
    for d in DIMENSIONS:
        assert_close(board.average_by_dimension[d], _mean([s[d] for s in scored]))
    since = _week(now) - timedelta(weeks=analytics.DASHBOARD_WEEKS - 1)
    weeks = Counter(_week(c.created_at) for c in calls if _week(c.created_at) >= since)
    assert board.calls_per_week == [
        {"week": w.isoformat(), "calls": n} for w, n in sorted(weeks.items())
    ]
    completed = sorted(
        (c for c in calls if c.status == "completed"),
        key=lambda c: (c.created_at, c.id),
        reverse=True,
    )[: analytics.RECENT_ANALYSES]
    assert [r.id for r in board.recent_analyses] == [c.id for c in completed]
    for shown, call in zip(board.recent_analyses, completed, strict=True):
        assert shown.overall_score == _scores(call)["overall"]
        assert shown.qualification_status == (call.summary or {}).get("qualification_status")
    assert board.pipeline == {
        "in_flight": sum(1 for c in calls if c.status in ("pending", "processing")),
        "failed_last_24h": sum(
            1 for c in calls if c.status == "failed" and c.updated_at >= now - timedelta(days=1)
        ),
    }


async def assert_every_role(url: str) -> None:
    calls, now = await raw_calls(url)
    engine = create_async_engine(url)
    try:
        for role, (scope, reps) in SCOPES.items():
            mine = [c for c in calls if reps is None or c.rep_id in reps]
            async with async_sessionmaker(engine)() as session:
                board = await analytics.dashboard(session, scope)
            assert mine, role
            assert_dashboard(board, mine, now)
    finally:
        await engine.dispose()


async def test_the_dashboard_of_every_role_equals_the_calls_counted_one_by_one(
    database: str,
) -> None:
    await assert_every_role(database)


async def test_performance_buckets_equal_the_calls_grouped_by_rep_and_week(
    database: str,
) -> None:
    calls, now = await raw_calls(database)
    start, end = now - timedelta(days=60), now + timedelta(days=1)
    team = {"rep-a", "rep-b"}
    groups: dict[tuple[str, date], list[Call]] = defaultdict(list)
    for c in calls:
        if c.rep_id in team and start <= c.created_at < end:
            groups[(c.rep_id, _week(c.created_at))].append(c)
    engine = create_async_engine(database)
    try:
        async with async_sessionmaker(engine)() as session:
            buckets = await analytics.performance_buckets(
                session, Scope.of("admin", None, None), start, end, team_id="team-east"
            )
    finally:
        await engine.dispose()
    assert {(b.rep_id, b.week) for b in buckets} == set(groups)
    for b in buckets:
        members = groups[(b.rep_id, b.week)]
        scored = [_scores(c) for c in members]
        assert b.calls == len(members)
        assert b.analysed == sum(1 for c in members if c.summary is not None)
        assert b.average_overall == pytest.approx(_mean([s["overall"] for s in scored]))
        for d in DIMENSIONS:
            assert b.average_by_dimension.get(d) == pytest.approx(_mean([s[d] for s in scored]))
        mix = Counter((c.summary or {}).get("qualification_status") for c in members)
        assert b.qualification == {q: n for q, n in mix.items() if q}


async def test_a_new_analysis_moves_the_figures_and_the_migration_goes_down_and_up(
    database: str,
) -> None:
    from callstream_common.db.migrate import downgrade, upgrade

    conn = await asyncpg.connect(database.replace("+asyncpg", ""))
    try:
        # A re-analysis rewrites the summary of some calls; the columns follow it.
        await conn.execute(
            "UPDATE conversations SET analysis_summary = jsonb_set(jsonb_set("
            "analysis_summary, '{overall_score}', '1.25'), '{scores,champion}', '1') "
            "WHERE rep_id = 'rep-c' AND status = 'completed'"
        )
        columns = await conn.fetchrow(
            "SELECT min(overall_score) AS low, max(overall_score) AS high, "
            "max(score_champion) AS champion FROM conversations "
            "WHERE rep_id = 'rep-c' AND status = 'completed'"
        )
    finally:
        await conn.close()
    assert dict(columns) == {"low": 1.25, "high": 1.25, "champion": 1.0}
    await assert_every_role(database)
    await asyncio.to_thread(downgrade, database, "0011_cache_facets")
    await asyncio.to_thread(upgrade, database)
    await assert_every_role(database)
