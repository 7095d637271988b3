"""Aggregates: the dashboard, a rep's and a team's performance over a period."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.reads import analytics as q
from callstream_common.reads.performance import (
    PerfBucket,
    Performance,
    RepRow,
    compare_reps,
    summarise,
)
from callstream_common.reads.scope import Scope
from callstream_ingest.auth import Principal
from callstream_ingest.cache.policy import (
    CacheRequest,
    Entry,
    Facet,
    caller_scopes,
    faceted,
    rep_scope,
    team_scope,
)
from callstream_ingest.dependencies import principal, state
from callstream_ingest.read.common import cached, invalid, model_body, scope_of
from callstream_ingest.read.scope_checks import check_rep, check_team

analytics_router = APIRouter(prefix="/v1/analytics", tags=["analytics"])
Caller = Annotated[Principal, Depends(principal)]
DEFAULT_PERIOD_DAYS = 90
PERFORMANCE_FACETS = frozenset({Facet.MEMBERSHIP, Facet.RESULTS})
"""Performance counts calls by creation date and averages their results; their status
is not part of it."""
MAX_PERIOD_DAYS = 366 * 2


@analytics_router.get("/dashboard", response_model=q.Dashboard)
async def dashboard(request: Request, who: Caller) -> Response:
    """Totals, status and qualification distributions, average score per dimension, calls
    per week, recent analyses and the pipeline's state, all within the caller's scope."""
    scope = scope_of(who)

    async def compute() -> bytes:
        async with state(request).sessions() as session:
            return model_body(await q.dashboard(session, scope))

    return await cached(
        request,
        CacheRequest(Entry.DASHBOARD, scope, tuple(faceted(caller_scopes(scope)))),
        compute,
    )


class Period(BaseModel):
    date_from: date
    date_to: date


def period(date_from: date | None, date_to: date | None) -> Period:
    """The period asked for (``to`` inclusive), by default the last 90 days."""
    end = date_to or datetime.now(UTC).date()
    start = date_from or end - timedelta(days=DEFAULT_PERIOD_DAYS)
    if end < start:
        raise invalid("query.to", "'to' is before 'from'")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise invalid("query.from", f"the period is longer than {MAX_PERIOD_DAYS} days")
    return Period(date_from=start, date_to=end)


class RepPerformance(Performance):
    rep_id: str
    period: Period


class TeamPerformance(Performance):
    team_id: str
    period: Period
    reps: list[RepRow]


FromQuery = Annotated[date | None, Query(alias="from")]
ToQuery = Annotated[date | None, Query(alias="to")]


@dataclass(frozen=True)
class Subject:
    """Whose performance a route shows — one rep or one team — and what that means for
    the scope check, the query and the cache."""

    id: str
    check: Callable[[AsyncSession, Scope, str], Awaitable[None]]
    cache_scope: str
    only: dict[str, str]

    @classmethod
    def rep(cls, rep_id: str) -> Subject:
        return cls(rep_id, check_rep, rep_scope(rep_id), {"rep_id": rep_id})

    @classmethod
    def team(cls, team_id: str) -> Subject:
        return cls(team_id, check_team, team_scope(team_id), {"team_id": team_id})


async def subject_performance(
    request: Request,
    who: Principal,
    span: Period,
    subject: Subject,
    answer: Callable[[Performance, list[PerfBucket]], BaseModel],
) -> Response:
    """The subject's performance over ``span``: 404 unless the subject is inside the
    caller's scope, cached under the subject (so a change to one of its calls invalidates
    it)."""
    scope = scope_of(who)
    end = span.date_to + timedelta(days=1)

    async def compute() -> bytes:
        async with state(request).sessions() as session:
            await subject.check(session, scope, subject.id)
            buckets = await q.performance_buckets(
                session, scope, span.date_from, end, **subject.only
            )
        return model_body(answer(summarise(buckets), buckets))

    return await cached(
        request,
        CacheRequest(
            Entry.PERFORMANCE,
            scope,
            tuple(faceted([subject.cache_scope], PERFORMANCE_FACETS)),
            [subject.id, span.model_dump()],
        ),
        compute,
    )


@analytics_router.get("/reps/{rep_id}", response_model=RepPerformance)
async def rep_performance(
    request: Request, rep_id: str, who: Caller, date_from: FromQuery = None, date_to: ToQuery = None
) -> Response:
    """Calls, average overall and per-dimension scores, weekly trend, strongest and weakest
    dimension and qualification mix of one rep over the period."""
    span = period(date_from, date_to)

    def answer(perf: Performance, _: list[PerfBucket]) -> RepPerformance:
        return RepPerformance(**perf.model_dump(), rep_id=rep_id, period=span)

    return await subject_performance(request, who, span, Subject.rep(rep_id), answer)


@analytics_router.get("/teams/{team_id}", response_model=TeamPerformance)
async def team_performance(
    request: Request,
    team_id: str,
    who: Caller,
    date_from: FromQuery = None,
    date_to: ToQuery = None,
) -> Response:
    """The team's performance over the period plus a per-rep comparison table."""
    span = period(date_from, date_to)

    def answer(perf: Performance, buckets: list[PerfBucket]) -> TeamPerformance:
        reps = compare_reps(buckets)
        return TeamPerformance(**perf.model_dump(), team_id=team_id, period=span, reps=reps)

    return await subject_performance(request, who, span, Subject.team(team_id), answer)
