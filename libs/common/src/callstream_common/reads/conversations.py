"""Query functions of conversations: the filtered, keyset-paginated list and the detail.

Every function takes the caller's :class:`Scope` and applies it in SQL, so no query can
return a row outside it; each filter is served by an index (proved with EXPLAIN in
``tests/integration/test_read_indexes.py``).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.reads.filters import (
    ConversationQuery,
    Sort,
    decode_cursor,
    encode_cursor,
)
from callstream_common.reads.rows import mapped, one_snapshot
from callstream_common.reads.scope import Scope, ScopeKind

SCORE_SQL = "c.overall_score"
QUALIFICATION_SQL = "c.qualification_status"
"""The call's overall score and qualification status: columns generated from its analysis
summary (migration ``0012_score_columns``), NULL until the call is analysed."""
SEARCH_SQL = (
    "c.id IN (SELECT s.id FROM conversations s "
    "WHERE s.search @@ websearch_to_tsquery('english', :q) "
    "UNION SELECT t.conversation_id FROM transcripts t "
    "WHERE t.search @@ websearch_to_tsquery('english', :q))"
)
TRACKER_SQL = (
    "c.id IN (SELECT a.conversation_id FROM meddic_analyses a "
    "WHERE a.trackers @> CAST(:tracker_hit AS jsonb))"
)
"""Calls whose current analysis has a hit matching ``:tracker_hit`` (a one-element JSON
array: the tracker's name, and the speaker's role if it matters) — one containment test,
served by the GIN index ``ix_meddic_analyses_trackers``."""


def tracker_hit(tracker: str, role: str | None) -> str:
    """The containment pattern of the tracker filter (the tracker given by name)."""
    hit = {"tracker": tracker} | ({"role": role} if role else {})
    return json.dumps([hit])


def scope_sql(scope: Scope, alias: str = "c") -> tuple[str, dict[str, Any]]:
    """The WHERE fragment that keeps rows of ``alias`` (with a ``rep_id``) inside ``scope``.

    A manager's scope is one array of rep ids (the team's and their own), computed once and
    matched as an index condition on ``rep_id``: "in the team OR the own rep" could use no
    index, so each aggregate over a manager's calls scanned the whole table."""
    if scope.kind == ScopeKind.ALL:
        return "TRUE", {}
    if scope.kind == ScopeKind.REP:
        return f"{alias}.rep_id = :scope_rep", {"scope_rep": scope.rep_id or ""}
    return (
        f"{alias}.rep_id = ANY(ARRAY(SELECT id FROM reps WHERE team_id = :scope_team "
        "UNION ALL SELECT CAST(:scope_rep AS varchar)))",
        {"scope_team": scope.team_id or "", "scope_rep": scope.rep_id or ""},
    )


def naming_conversations_in(scope: Scope, column: str) -> tuple[str, dict[str, Any]]:
    """The WHERE fragment that keeps rows whose ``column`` names a conversation inside
    ``scope`` (for rows that only point at a call, like dead letters). A row naming no
    conversation is inside the whole scope only."""
    if scope.kind == ScopeKind.ALL:
        return "TRUE", {}
    where, params = scope_sql(scope, "s")
    return f"{column} IN (SELECT s.id FROM conversations s WHERE {where})", params


class ConversationItem(BaseModel):
    id: uuid.UUID
    title: str | None
    company_name: str | None
    opportunity_id: uuid.UUID | None
    opportunity_name: str
    rep_id: str
    status: str
    overall_score: float | None
    qualification_status: str | None
    duration_seconds: float | None
    created_at: datetime
    completed_at: datetime | None


ITEM_SQL = (
    "SELECT c.id, c.title, c.company_name, c.opportunity_id, c.opportunity_name, c.rep_id, "
    f"c.status, {SCORE_SQL} AS overall_score, {QUALIFICATION_SQL} AS qualification_status, "
    "c.duration_seconds, c.created_at, c.completed_at FROM conversations c"
)


class ConversationPage(BaseModel):
    items: list[ConversationItem]
    next_cursor: str | None
    limit: int


def filter_sql(query: ConversationQuery) -> tuple[list[str], dict[str, Any]]:
    """One WHERE fragment per filter given, with its parameters."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if query.status is not None:
        where.append("c.status = :status")
        params["status"] = query.status.value
    if query.rep_id is not None:
        where.append("c.rep_id = :rep_id")
        params["rep_id"] = query.rep_id
    if query.team_id is not None:
        where.append("c.rep_id IN (SELECT id FROM reps WHERE team_id = :team_id)")
        params["team_id"] = query.team_id
    if query.opportunity_id is not None:
        where.append("c.opportunity_id = :opportunity_id")
        params["opportunity_id"] = query.opportunity_id
    if query.qualification_status is not None:
        where.append(f"{QUALIFICATION_SQL} = :qualification")
        params["qualification"] = query.qualification_status.value
    if query.min_score is not None:
        where.append(f"{SCORE_SQL} >= :min_score")
        params["min_score"] = query.min_score
    if query.max_score is not None:
        where.append(f"{SCORE_SQL} <= :max_score")
        params["max_score"] = query.max_score
    if query.date_from is not None:
        where.append("c.created_at >= :date_from")
        params["date_from"] = query.date_from
    if query.date_to is not None:
        where.append("c.created_at <= :date_to")
        params["date_to"] = query.date_to
    if query.q is not None:
        where.append(SEARCH_SQL)
        params["q"] = query.q
    if query.tracker is not None:
        where.append(TRACKER_SQL)
        role = query.speaker_role.value if query.speaker_role else None
        params["tracker_hit"] = tracker_hit(query.tracker, role)
    return where, params


def list_sql(scope: Scope, query: ConversationQuery) -> tuple[str, dict[str, Any]]:
    """The page's SQL (also what the EXPLAIN test inspects)."""
    where, params = filter_sql(query)
    scope_where, scope_params = scope_sql(scope)
    where.append(scope_where)
    params |= scope_params
    fingerprint = query.fingerprint(scope.key)
    if query.sort == Sort.SCORE:
        where.append(f"{SCORE_SQL} IS NOT NULL")
        order = f"{SCORE_SQL} DESC, c.id DESC"
        if query.cursor:
            value, last_id = decode_cursor(query.cursor, fingerprint, query.sort)
            where.append(f"({SCORE_SQL}, c.id) < (:after_value, :after_id)")
            params |= {"after_value": value, "after_id": last_id}
    else:
        order = "c.created_at DESC, c.id DESC"
        if query.cursor:
            value, last_id = decode_cursor(query.cursor, fingerprint, query.sort)
            where.append("(c.created_at, c.id) < (:after_value, :after_id)")
            params |= {"after_value": value, "after_id": last_id}
    sql = f"{ITEM_SQL} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT :limit_plus"
    params["limit_plus"] = query.limit + 1
    return sql, params


async def list_conversations(
    session: AsyncSession, scope: Scope, query: ConversationQuery
) -> ConversationPage:
    sql, params = list_sql(scope, query)
    rows = (await mapped(session, sql, params)).all()
    items = [ConversationItem.model_validate(dict(r)) for r in rows[: query.limit]]
    next_cursor = None
    if len(rows) > query.limit and items:
        last = items[-1]
        value: Any = last.overall_score if query.sort == Sort.SCORE else last.created_at
        next_cursor = encode_cursor(query.fingerprint(scope.key), query.sort, value, last.id)
    return ConversationPage(items=items, next_cursor=next_cursor, limit=query.limit)


async def conversation_items(
    session: AsyncSession, scope: Scope, ids: list[uuid.UUID]
) -> list[ConversationItem]:
    """The list items of ``ids`` inside ``scope``, by primary key in one query (a cached
    page's items whose own cache entries are missing or out of date)."""
    scope_where, params = scope_sql(scope)
    rows = (
        await mapped(
            session,
            f"{ITEM_SQL} WHERE c.id = ANY(CAST(:ids AS uuid[])) AND {scope_where}",
            params | {"ids": ids},
        )
    ).all()
    return [ConversationItem.model_validate(dict(r)) for r in rows]


class AnalysisVersionView(BaseModel):
    version: int
    overall_score: float
    qualification_status: str
    provider: str
    model: str
    analyzed_at: datetime
    current: bool


class ConversationDetail(BaseModel):
    id: uuid.UUID
    status: str
    failure_reason: str | None
    failure_stage: str | None
    opportunity_id: uuid.UUID | None
    opportunity_name: str
    company_name: str | None
    rep_id: str
    team_id: str | None
    title: str | None
    conversation_date: Any
    participants: list[str] = []
    """The names the upload gave for the people on the call."""
    content_type: str
    size_bytes: int
    sha256: str
    priority: int
    duration_seconds: float | None
    trace_id: str | None
    timings: dict[str, Any]
    summary: dict[str, Any] | None
    transcript: dict[str, Any] | None
    analysis: dict[str, Any] | None
    stats: dict[str, Any] | None = None
    """Call statistics (talk share, monologues, questions, pace) once the call is analysed."""
    analysis_versions: list[AnalysisVersionView]
    created_at: datetime
    completed_at: datetime | None


async def conversation_detail(
    session: AsyncSession, scope: Scope, conversation_id: uuid.UUID
) -> ConversationDetail | None:
    """The call with its transcript, its latest analysis and the list of earlier analysis
    versions; None when it does not exist or is outside ``scope`` (the caller answers 404
    for both, so existence is not disclosed)."""
    await one_snapshot(session)
    scope_where, params = scope_sql(scope)
    row = (
        await mapped(
            session,
            "SELECT c.*, r.team_id AS team_id FROM conversations c "
            "LEFT JOIN reps r ON r.id = c.rep_id "
            f"WHERE c.id = :id AND {scope_where}",
            params | {"id": conversation_id},
        )
    ).first()
    if row is None:
        return None
    transcript = (
        await mapped(
            session,
            "SELECT language, duration_seconds, text, segments, provider, model "
            "FROM transcripts WHERE conversation_id = :id",
            {"id": conversation_id},
        )
    ).first()
    analysis = (
        await mapped(
            session,
            "SELECT overall_score, qualification_status, dimensions, key_findings, "
            "next_steps, risks, trackers, stats, provider, model, version, created_at "
            "FROM meddic_analyses WHERE conversation_id = :id",
            {"id": conversation_id},
        )
    ).first()
    earlier = (
        await mapped(
            session,
            "SELECT version, overall_score, qualification_status, provider, model, "
            "analyzed_at FROM analysis_versions WHERE conversation_id = :id "
            "ORDER BY version",
            {"id": conversation_id},
        )
    ).all()
    versions = [AnalysisVersionView(**dict(v), current=False) for v in earlier]
    analysis_view: dict[str, Any] | None = None
    stats: dict[str, Any] | None = None
    if analysis is not None:
        analysis_view = dict(analysis)
        analysis_view["analyzed_at"] = analysis_view.pop("created_at")
        analysis_view["trackers"] = analysis_view["trackers"] or []
        stats = analysis_view.pop("stats")
        versions.append(
            AnalysisVersionView(
                version=analysis["version"],
                overall_score=analysis["overall_score"],
                qualification_status=analysis["qualification_status"],
                provider=analysis["provider"],
                model=analysis["model"],
                analyzed_at=analysis["created_at"],
                current=True,
            )
        )
    return ConversationDetail(
        id=row["id"],
        status=row["status"],
        failure_reason=row["failure_reason"],
        failure_stage=row["failure_stage"],
        opportunity_id=row["opportunity_id"],
        opportunity_name=row["opportunity_name"],
        company_name=row["company_name"],
        rep_id=row["rep_id"],
        team_id=row["team_id"],
        title=row["title"],
        conversation_date=row["conversation_date"],
        participants=row["participants"] or [],
        content_type=row["content_type"],
        size_bytes=row["size_bytes"],
        sha256=row["sha256"],
        priority=row["priority"],
        duration_seconds=row["duration_seconds"],
        trace_id=row["trace_id"],
        timings=row["timings"] or {},
        summary=row["analysis_summary"],
        transcript=dict(transcript) if transcript is not None else None,
        analysis=analysis_view,
        stats=stats,
        analysis_versions=versions,
        created_at=row["created_at"],
        completed_at=row["completed_at"],
    )


async def analysis_version(
    session: AsyncSession, scope: Scope, conversation_id: uuid.UUID, version: int
) -> dict[str, Any] | None:
    """One analysis version in full (current or superseded), inside ``scope``."""
    scope_where, params = scope_sql(scope)
    params |= {"id": conversation_id, "version": version}
    row = (
        await mapped(
            session,
            "SELECT a.version, a.overall_score, a.qualification_status, a.dimensions, "
            "a.key_findings, a.next_steps, a.risks, a.provider, a.model, "
            "a.created_at AS analyzed_at, true AS current "
            "FROM meddic_analyses a JOIN conversations c ON c.id = a.conversation_id "
            f"WHERE a.conversation_id = :id AND a.version = :version AND {scope_where} "
            "UNION ALL "
            "SELECT a.version, a.overall_score, a.qualification_status, a.dimensions, "
            "a.key_findings, a.next_steps, a.risks, a.provider, a.model, a.analyzed_at, "
            "false FROM analysis_versions a JOIN conversations c "
            "ON c.id = a.conversation_id "
            f"WHERE a.conversation_id = :id AND a.version = :version AND {scope_where}",
            params,
        )
    ).first()
    return dict(row) if row is not None else None


class AudioObject(BaseModel):
    object_key: str
    content_type: str
    size_bytes: int


async def audio_object(
    session: AsyncSession, scope: Scope, conversation_id: uuid.UUID
) -> AudioObject | None:
    scope_where, params = scope_sql(scope)
    row = (
        await mapped(
            session,
            "SELECT object_key, content_type, size_bytes FROM conversations c "
            f"WHERE c.id = :id AND {scope_where}",
            params | {"id": conversation_id},
        )
    ).first()
    return AudioObject.model_validate(dict(row)) if row is not None else None
