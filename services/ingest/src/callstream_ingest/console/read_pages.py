"""Pages over the read side (callstream_common.reads): the dashboard, the conversation
list with filters, full-text search and cursor pagination, opportunities with their
MEDDIC across calls, and rep/team reports. Every query is the read side's own function
with the viewer's scope, so the console shows exactly what the /v1 read API would."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from callstream_common.contracts import QualificationStatus
from callstream_common.db.trackers import list_trackers
from callstream_common.reads import analytics, conversations, opportunities, performance
from callstream_common.reads.filters import ConversationQuery, CursorError, HitRole
from callstream_common.reads.scope import Scope
from callstream_ingest.console.charts import (
    MEDDIC_ORDER,
    dimension_bars,
    qualification_doughnut,
    weekly_bars,
)
from callstream_ingest.console.web import PageNotFound, SignedIn, ingest_state, render, secured
from callstream_ingest.errors import ApiError
from callstream_ingest.ops.api import jobs_status
from callstream_ingest.read.common import scope_of as read_scope
from callstream_ingest.read.scope_checks import checked_query

overview_router = APIRouter(prefix="/console")

FILTER_FIELDS = (
    "q",
    "status",
    "qualification_status",
    "rep_id",
    "from",
    "to",
    "min_score",
    "max_score",
    "tracker",
    "speaker_role",
    "sort",
)
REPORT_WEEKS = 12


def scope_of(who: SignedIn) -> Scope:
    return read_scope(who.principal)


@overview_router.get("", include_in_schema=False)
async def console_root() -> Response:
    return secured(RedirectResponse("/console/", status_code=307))


@overview_router.get("/", include_in_schema=False)
async def dashboard_page(request: Request, who: SignedIn) -> Response:
    st = ingest_state(request)
    async with st.sessions() as session:
        board = await analytics.dashboard(session, scope_of(who))
    health = await st.check_dependencies()
    jobs = await jobs_status(request, who.principal) if who.sees_operations else None
    charts = [
        {
            "title": "Qualification",
            "spec": qualification_doughnut(board.qualification_distribution),
        },
        {
            "title": "Average per MEDDIC dimension",
            "spec": dimension_bars(board.average_by_dimension),
        },
        {
            "title": "Calls per week",
            "spec": weekly_bars(
                [p["week"] for p in board.calls_per_week],
                {"Calls": [p["calls"] for p in board.calls_per_week]},
            ),
        },
    ]
    return render(
        request,
        "dashboard.html",
        who,
        title="Dashboard",
        active="dashboard",
        board=board,
        charts=charts,
        recent=board.recent_analyses,
        health=health,
        jobs=jobs,
    )


@overview_router.get("/conversations", include_in_schema=False)
async def conversations_page(request: Request, who: SignedIn) -> Response:
    raw = {k: v for k, v in request.query_params.items() if v != ""}
    filters = {k: raw.get(k, "") for k in FILTER_FIELDS}
    error = None
    page = None
    async with ingest_state(request).sessions() as session:
        trackers = [t.name for t in await list_trackers(session)]
    try:
        scope = scope_of(who)
        query = ConversationQuery.model_validate(raw).within(scope)
        async with ingest_state(request).sessions() as session:
            resolved = await checked_query(session, scope, query)
            page = await conversations.list_conversations(session, scope, resolved)
    except ValidationError as exc:
        error = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    except CursorError as exc:
        error = f"That page link no longer fits the filters ({exc}); start from the first page."
    except ApiError as exc:
        error = exc.message
    next_params = None
    if page is not None and page.next_cursor:
        next_params = {k: v for k, v in raw.items() if k != "cursor"} | {"cursor": page.next_cursor}
    return render(
        request,
        "conversations.html",
        who,
        status_code=422 if error else 200,
        title="Conversations",
        active="conversations",
        filters=filters,
        page=page,
        error=error,
        next_params=next_params,
        first_page=bool(raw.get("cursor")),
        statuses=("pending", "processing", "completed", "failed"),
        qualifications=[s.value for s in QualificationStatus],
        trackers=trackers,
        speaker_roles=[r.value for r in HitRole],
    )


@overview_router.get("/opportunities", include_in_schema=False)
async def opportunities_page(
    request: Request, who: SignedIn, rep_id: str | None = None, cursor: str | None = None
) -> Response:
    error = None
    page = None
    try:
        async with ingest_state(request).sessions() as session:
            page = await opportunities.list_opportunities(
                session, scope_of(who), rep_id or None, 25, cursor or None
            )
    except (CursorError, ValueError) as exc:
        error = f"That page link is not valid ({exc})."
    return render(
        request,
        "opportunities.html",
        who,
        title="Opportunities",
        active="opportunities",
        page=page,
        rep_id=rep_id or "",
        error=error,
    )


@overview_router.get("/opportunities/{opportunity_id}", include_in_schema=False)
async def opportunity_page(request: Request, opportunity_id: uuid.UUID, who: SignedIn) -> Response:
    async with ingest_state(request).sessions() as session:
        deal = await opportunities.opportunity_detail(session, scope_of(who), opportunity_id)
    if deal is None:
        raise PageNotFound
    trend = weekly_bars(
        [p.created_at.strftime("%Y-%m-%d") for p in deal.picture.trend],
        {"Overall score": [p.overall_score for p in deal.picture.trend]},
        kind="line",
        scale=(0, 5),
    )
    best = {p.dimension.value: p.best.score if p.best else None for p in deal.picture.dimensions}
    latest = {
        p.dimension.value: p.latest.score if p.latest else None for p in deal.picture.dimensions
    }
    across = dimension_bars(best, label="Best so far", second=("Latest call", latest))
    return render(
        request,
        "opportunity.html",
        who,
        title=deal.name,
        active="opportunities",
        deal=deal,
        trend=trend,
        across=across,
        order=MEDDIC_ORDER,
    )


def _report_period(date_from: str | None, date_to: str | None) -> tuple[date, date]:
    today = datetime.now(UTC).date()
    end = date.fromisoformat(date_to) if date_to else today
    start = date.fromisoformat(date_from) if date_from else end - timedelta(weeks=REPORT_WEEKS)
    return start, end


@overview_router.get("/reports", include_in_schema=False)
async def reports_page(
    request: Request,
    who: SignedIn,
    rep_id: str | None = None,
    team_id: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> Response:
    try:
        start, end = _report_period(date_from, date_to)
    except ValueError:
        start, end = _report_period(None, None)
    async with ingest_state(request).sessions() as session:
        buckets = await analytics.performance_buckets(
            session,
            scope_of(who),
            start,
            end + timedelta(days=1),
            rep_id=rep_id or None,
            team_id=team_id or None,
        )
    summary = performance.summarise(buckets)
    reps = performance.compare_reps(buckets)
    trend = weekly_bars(
        [p.week.isoformat() for p in summary.trend],
        {"Calls": [p.calls for p in summary.trend]},
    )
    scores = weekly_bars(
        [p.week.isoformat() for p in summary.trend],
        {"Average overall": [p.average_overall for p in summary.trend]},
        kind="line",
        scale=(0, 5),
    )
    return render(
        request,
        "reports.html",
        who,
        title="Reports",
        active="reports",
        summary=summary,
        reps=reps,
        dims=dimension_bars(summary.average_by_dimension),
        trend=trend,
        scores=scores,
        filters={
            "rep_id": rep_id or "",
            "team_id": team_id or "",
            "date_from": start.isoformat(),
            "date_to": end.isoformat(),
        },
    )
