"""Aggregates: the dashboard, and per-(rep, week) buckets for rep and team performance."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.contracts import MeddicDimension
from callstream_common.reads.conversations import QUALIFICATION_SQL, SCORE_SQL, scope_sql
from callstream_common.reads.performance import PerfBucket
from callstream_common.reads.rows import mapped, one_snapshot
from callstream_common.reads.scope import Scope

DIMENSION_SQL = {d.value: f"c.score_{d.value}" for d in MeddicDimension}
"""Per MEDDIC dimension, its score column (generated from the analysis summary)."""
MEASURES = {"overall": SCORE_SQL, **DIMENSION_SQL}
DASHBOARD_WEEKS = 12
RECENT_ANALYSES = 10
TALLY_SQL = (
    f"SELECT c.status, {QUALIFICATION_SQL} AS qualification, count(*) AS calls, "
    + ", ".join(
        f"count({sql}) AS n_{name}, sum({sql}) AS s_{name}" for name, sql in MEASURES.items()
    )
    + " FROM conversations c WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2"
)
"""Calls per (status, qualification) with, per score, how many have it and their sum: the
dashboard's distributions and averages in one pass, which the covering index
``ix_conversations_rep_tally`` serves without reading the table."""
TALLY_PLANNING = "SET LOCAL random_page_cost = 1.1"
"""How the tally's transaction prices a page read out of order. An admin's tally reads the
whole covering index; at the default (4) the planner prices each of its pages as a disk
seek and reads the four-times-larger table instead, two to three times slower (measured
on the bench's 100,000 calls), although both are in memory, where an index page costs
about what a table page does."""


class RecentAnalysis(BaseModel):
    id: uuid.UUID
    title: str | None
    opportunity_name: str
    rep_id: str
    overall_score: float | None
    qualification_status: str | None
    completed_at: datetime | None


class Dashboard(BaseModel):
    total_conversations: int
    status_distribution: dict[str, int]
    qualification_distribution: dict[str, int]
    average_overall_score: float | None
    average_by_dimension: dict[str, float | None]
    calls_per_week: list[dict[str, Any]]
    recent_analyses: list[RecentAnalysis]
    pipeline: dict[str, int]


@dataclass(frozen=True)
class TallyGroup:
    """The calls of one (status, qualification) group: how many, and per measure (the
    overall score, each dimension) how many have a score and its sum."""

    status: str
    qualification: str | None
    calls: int
    scored: dict[str, int]
    sums: dict[str, float]


@dataclass(frozen=True)
class Tally:
    by_status: dict[str, int]
    by_qualification: dict[str, int]
    averages: dict[str, float | None]


def tally(groups: list[TallyGroup]) -> Tally:
    """The distributions and averages of a scope from its groups: a score's average is the
    sum over groups of its sums over the sum of its counts (a call without a score counts
    in no average, as with ``avg``); calls without a qualification are in no bucket."""
    by_status: dict[str, int] = defaultdict(int)
    by_qualification: dict[str, int] = defaultdict(int)
    for g in groups:
        by_status[g.status] += g.calls
        if g.qualification:
            by_qualification[g.qualification] += g.calls
    averages: dict[str, float | None] = {}
    for name in MEASURES:
        scored = sum(g.scored.get(name, 0) for g in groups)
        total = math.fsum(g.sums[name] for g in groups if g.scored.get(name))
        averages[name] = _round(total / scored) if scored else None
    return Tally(dict(by_status), dict(by_qualification), averages)


async def tally_groups(
    session: AsyncSession, where: str, params: dict[str, Any]
) -> list[TallyGroup]:
    rows = (await mapped(session, TALLY_SQL.format(where=where), params)).all()
    return [
        TallyGroup(
            status=str(r["status"]),
            qualification=r["qualification"],
            calls=int(r["calls"]),
            scored={name: int(r[f"n_{name}"]) for name in MEASURES},
            sums={name: float(r[f"s_{name}"] or 0.0) for name in MEASURES},
        )
        for r in rows
    ]


async def dashboard(session: AsyncSession, scope: Scope) -> Dashboard:
    await one_snapshot(session)
    where, params = scope_sql(scope)
    await session.execute(text(TALLY_PLANNING))
    counted = tally(await tally_groups(session, where, params))
    weeks = (
        await session.execute(
            text(
                "SELECT date_trunc('week', c.created_at)::date AS week, count(*) AS calls "
                f"FROM conversations c WHERE {where} "
                "AND c.created_at >= date_trunc('week', now()) - make_interval(weeks => :weeks) "
                "GROUP BY 1 ORDER BY 1"
            ),
            params | {"weeks": DASHBOARD_WEEKS - 1},
        )
    ).all()
    recent = (
        await mapped(
            session,
            "SELECT c.id, c.title, c.opportunity_name, c.rep_id, "
            f"{SCORE_SQL} AS overall_score, {QUALIFICATION_SQL} AS qualification_status, "
            "c.completed_at FROM conversations c "
            f"WHERE {where} AND c.status = 'completed' "
            "ORDER BY c.created_at DESC, c.id DESC LIMIT :n",
            params | {"n": RECENT_ANALYSES},
        )
    ).all()
    failed_24h = (
        await session.execute(
            text(
                f"SELECT count(*) FROM conversations c WHERE {where} AND c.status = 'failed' "
                "AND c.updated_at >= now() - interval '24 hours'"
            ),
            params,
        )
    ).scalar_one()
    by_status = counted.by_status
    return Dashboard(
        total_conversations=sum(by_status.values()),
        status_distribution=by_status,
        qualification_distribution=counted.by_qualification,
        average_overall_score=counted.averages["overall"],
        average_by_dimension={name: counted.averages[name] for name in DIMENSION_SQL},
        calls_per_week=[{"week": w.isoformat(), "calls": int(n)} for w, n in weeks],
        recent_analyses=[RecentAnalysis.model_validate(dict(r)) for r in recent],
        pipeline={
            "in_flight": by_status.get("pending", 0) + by_status.get("processing", 0),
            "failed_last_24h": int(failed_24h),
        },
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


async def performance_buckets(
    session: AsyncSession,
    scope: Scope,
    date_from: date | datetime,
    date_to: date | datetime,
    rep_id: str | None = None,
    team_id: str | None = None,
) -> list[PerfBucket]:
    """Calls per (rep, ISO week) in the period with their averages and qualification mix."""
    where, params = scope_sql(scope)
    clauses = [where, "c.created_at >= :date_from", "c.created_at < :date_to"]
    params |= {"date_from": date_from, "date_to": date_to}
    if rep_id is not None:
        clauses.append("c.rep_id = :rep_id")
        params["rep_id"] = rep_id
    if team_id is not None:
        clauses.append("c.rep_id IN (SELECT id FROM reps WHERE team_id = :team_id)")
        params["team_id"] = team_id
    dim_cols = ", ".join(f"avg({sql}) AS {name}" for name, sql in DIMENSION_SQL.items())
    rows = (
        await mapped(
            session,
            "SELECT c.rep_id, date_trunc('week', c.created_at)::date AS week, "
            "count(*) AS calls, count(c.analysis_summary) AS analysed, "
            f"avg({SCORE_SQL}) AS overall, {dim_cols}, "
            f"count(*) FILTER (WHERE {QUALIFICATION_SQL} = 'Strong') AS q_strong, "
            f"count(*) FILTER (WHERE {QUALIFICATION_SQL} = 'Medium') AS q_medium, "
            f"count(*) FILTER (WHERE {QUALIFICATION_SQL} = 'Weak') AS q_weak, "
            f"count(*) FILTER (WHERE {QUALIFICATION_SQL} = 'At Risk') AS q_at_risk "
            f"FROM conversations c WHERE {' AND '.join(clauses)} GROUP BY 1, 2",
            params,
        )
    ).all()
    buckets = []
    for r in rows:
        mix = {
            "Strong": r["q_strong"],
            "Medium": r["q_medium"],
            "Weak": r["q_weak"],
            "At Risk": r["q_at_risk"],
        }
        buckets.append(
            PerfBucket(
                rep_id=r["rep_id"],
                week=r["week"],
                calls=r["calls"],
                analysed=r["analysed"],
                average_overall=r["overall"],
                average_by_dimension={n: float(r[n]) for n in DIMENSION_SQL if r[n] is not None},
                qualification={k: int(v) for k, v in mix.items() if v},
            )
        )
    return buckets
