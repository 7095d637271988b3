"""What the read API shows of a conversation, read straight from PostgreSQL (the read
side: query functions, no repository), scoped to what the caller may see."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common.db.models import Conversation, MeddicAnalysisRow, TranscriptRow
from callstream_ingest.auth import Principal, can_see

RowT = TypeVar("RowT", TranscriptRow, MeddicAnalysisRow)


class ConversationView(BaseModel):
    id: uuid.UUID
    status: str
    failure_reason: str | None
    failure_stage: str | None
    opportunity_name: str
    company_name: str | None
    rep_id: str
    title: str | None
    conversation_date: date | None
    content_type: str
    size_bytes: int
    sha256: str
    priority: int
    duration_seconds: float | None
    trace_id: str | None
    trace_url: str | None
    timings: dict[str, Any]
    summary: dict[str, Any] | None
    transcript: dict[str, Any] | None
    analysis: dict[str, Any] | None
    created_at: datetime
    completed_at: datetime | None


async def _row_of(
    session: AsyncSession, model: type[RowT], conversation_id: uuid.UUID
) -> RowT | None:
    """The conversation's one row of a per-conversation table (transcript, analysis)."""
    table: Any = model.__table__  # type: ignore[attr-defined]
    query = select(model).where(table.c.conversation_id == conversation_id)
    row: RowT | None = (await session.execute(query)).scalar_one_or_none()
    return row


async def conversation_view(
    sessions: async_sessionmaker[AsyncSession],
    conversation_id: uuid.UUID,
    who: Principal,
    tracing_ui_url: str,
) -> ConversationView | None:
    """The conversation with its transcript and analysis; None when it does not exist or
    the caller may not see it (both answer 404, so existence does not leak)."""
    async with sessions() as session:
        conv = await session.get(Conversation, conversation_id)
        if conv is None or not await can_see(session, who, conv):
            return None
        transcript = await _row_of(session, TranscriptRow, conversation_id)
        analysis = await _row_of(session, MeddicAnalysisRow, conversation_id)
    trace_url = f"{tracing_ui_url.rstrip('/')}/traces/{conv.trace_id}" if conv.trace_id else None
    return ConversationView(
        id=conv.id,
        status=conv.status,
        failure_reason=conv.failure_reason,
        failure_stage=conv.failure_stage,
        opportunity_name=conv.opportunity_name,
        company_name=conv.company_name,
        rep_id=conv.rep_id,
        title=conv.title,
        conversation_date=conv.conversation_date,
        content_type=conv.content_type,
        size_bytes=conv.size_bytes,
        sha256=conv.sha256,
        priority=conv.priority,
        duration_seconds=conv.duration_seconds,
        trace_id=conv.trace_id,
        trace_url=trace_url,
        timings=conv.timings or {},
        summary=conv.analysis_summary,
        transcript=None
        if transcript is None
        else {
            "language": transcript.language,
            "duration_seconds": transcript.duration_seconds,
            "text": transcript.text,
            "segments": transcript.segments,
            "provider": transcript.provider,
            "model": transcript.model,
        },
        analysis=None
        if analysis is None
        else {
            "overall_score": analysis.overall_score,
            "qualification_status": analysis.qualification_status,
            "dimensions": analysis.dimensions,
            "key_findings": analysis.key_findings,
            "next_steps": analysis.next_steps,
            "risks": analysis.risks,
            "provider": analysis.provider,
            "model": analysis.model,
        },
        created_at=conv.created_at,
        completed_at=conv.completed_at,
    )
