"""Finding the conversations a principal may see, by id or by words of the title, company
or opportunity (until the read side's search is merged: a small query of our own)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from callstream_common.contracts import MeddicAnalysis
from callstream_common.db.models import Conversation, MeddicAnalysisRow, Rep, Role
from callstream_ingest.auth import Principal

MAX_MATCHES = 5


def _scoped(query: Select[tuple[Conversation]], who: Principal) -> Select[tuple[Conversation]]:
    if who.role == Role.ADMIN:
        return query
    if who.role == Role.USER:
        return query.where(Conversation.rep_id == who.rep_id)  # type: ignore[arg-type]
    team_reps = select(col(Rep.id)).where(col(Rep.team_id) == who.team_id)
    return query.where(
        or_(Conversation.rep_id == who.rep_id, Conversation.rep_id.in_(team_reps))  # type: ignore[arg-type, attr-defined]
    )


async def find(session: AsyncSession, who: Principal, text: str) -> list[Conversation]:
    """The conversation with id ``text``, or the newest (at most ``MAX_MATCHES`` + 1) whose
    title, company or opportunity contain every word of ``text``; only what ``who`` sees."""
    query = select(Conversation)
    try:
        query = query.where(Conversation.id == uuid.UUID(text.strip()))  # type: ignore[arg-type]
    except ValueError:
        words = [w for w in text.split() if w][:8]
        if not words:
            return []
        fields = (Conversation.title, Conversation.company_name, Conversation.opportunity_name)
        query = query.where(
            and_(
                *(
                    or_(*(f.ilike(f"%{_escape(w)}%", escape="\\") for f in fields))  # type: ignore[union-attr]
                    for w in words
                )
            )
        )
    query = _scoped(query, who).order_by(Conversation.created_at.desc()).limit(MAX_MATCHES + 1)  # type: ignore[attr-defined]
    return list((await session.execute(query)).scalars())


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def analysis_of(session: AsyncSession, conversation_id: uuid.UUID) -> MeddicAnalysis | None:
    row = (
        await session.execute(
            select(MeddicAnalysisRow).where(
                MeddicAnalysisRow.conversation_id == conversation_id  # type: ignore[arg-type]
            )
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    return MeddicAnalysis.model_validate(
        {
            "dimensions": row.dimensions,
            "overall_score": row.overall_score,
            "qualification_status": row.qualification_status,
            "key_findings": row.key_findings,
            "next_steps": row.next_steps,
            "risks": row.risks,
            "provider": row.provider,
            "model": row.model,
        }
    )


@dataclass(frozen=True)
class Found:
    conversation: Conversation
    analysis: MeddicAnalysis | None
