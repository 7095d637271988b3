"""calls.transcribed → MEDDIC analysis → calls.analyzed.

The analysis is stored twice in one transaction — the full row in ``meddic_analyses``
(unique per conversation) and the summary on the conversation — so a reader never sees
one without the other, and a redelivery re-publishes instead of analysing again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry import trace
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from callstream_analyzer.meddic import Analyzer
from callstream_common import topics
from callstream_common.contracts import (
    CallAnalyzed,
    CallTranscribed,
    MeddicAnalysis,
    QualificationStatus,
    Transcript,
    TranscriptSegment,
)
from callstream_common.db import repo
from callstream_common.db.models import (
    Conversation,
    ConversationStatus,
    MeddicAnalysisRow,
    TranscriptRow,
)
from callstream_common.retry import PermanentError
from callstream_common.runtime import Runtime, event_id_for

log = logging.getLogger(__name__)
tracer = trace.get_tracer("callstream.analyzer")
STAGE = "analysis"


@dataclass
class AnalyzerHandlers:
    runtime: Runtime
    analyzer: Analyzer

    async def on_transcribed(self, event: CallTranscribed) -> None:
        rt = self.runtime
        started = datetime.now(UTC)
        async with rt.sessions() as session:
            conv = await session.get(Conversation, event.conversation_id)
            if conv is None:
                raise PermanentError(f"conversation {event.conversation_id} does not exist")
            if conv.status in (ConversationStatus.COMPLETED, ConversationStatus.FAILED):
                return
            existing = (
                await session.execute(
                    select(MeddicAnalysisRow).where(
                        MeddicAnalysisRow.conversation_id == conv.id  # type: ignore[arg-type]
                    )
                )
            ).scalar_one_or_none()
            row = (
                await session.execute(
                    select(TranscriptRow).where(TranscriptRow.conversation_id == conv.id)  # type: ignore[arg-type]
                )
            ).scalar_one_or_none()
        if existing is not None:
            score, status = (
                existing.overall_score,
                QualificationStatus(existing.qualification_status),
            )
        else:
            if row is None:
                raise PermanentError(f"conversation {event.conversation_id} has no transcript")
            transcript = Transcript(
                language=row.language,
                duration_seconds=row.duration_seconds,
                segments=[TranscriptSegment.model_validate(s) for s in row.segments],
                provider=row.provider,
                model=row.model,
            )
            with tracer.start_as_current_span(
                "analyze", attributes={"transcript.segments": len(transcript.segments)}
            ) as span:
                analysis = await asyncio.to_thread(self.analyzer.analyze, transcript)
                span.set_attribute("meddic.overall_score", analysis.overall_score)
                span.set_attribute("meddic.status", analysis.qualification_status.value)
            await self._store(event.conversation_id, analysis, started)
            score, status = analysis.overall_score, analysis.qualification_status
        out = CallAnalyzed(
            event_id=event_id_for(event.conversation_id, "call.analyzed"),
            conversation_id=event.conversation_id,
            overall_score=score,
            qualification_status=status,
            priority=event.priority,
        )
        await rt.broker.publish(
            out.model_dump(mode="json"),
            topics.lane_for(topics.CALLS_ANALYZED, event.priority),
            key=str(event.conversation_id).encode(),
        )

    async def _store(
        self, conversation_id: uuid.UUID, analysis: MeddicAnalysis, started: datetime
    ) -> None:
        data = analysis.model_dump(mode="json")
        async with self.runtime.sessions() as session, session.begin():
            result = await session.execute(
                insert(MeddicAnalysisRow.__table__)  # type: ignore[attr-defined]
                .values(
                    id=uuid.uuid4(),
                    conversation_id=conversation_id,
                    overall_score=analysis.overall_score,
                    qualification_status=analysis.qualification_status.value,
                    dimensions=data["dimensions"],
                    key_findings=data["key_findings"],
                    next_steps=data["next_steps"],
                    risks=data["risks"],
                    agent_outputs=data["agent_outputs"],
                    stats=data["stats"],
                    trackers=data["trackers"],
                    provider=analysis.provider,
                    model=analysis.model,
                )
                .on_conflict_do_nothing(index_elements=["conversation_id"])
                .returning(MeddicAnalysisRow.__table__.c.id)  # type: ignore[attr-defined]
            )
            if result.first() is None:
                return
            conv = await session.get(Conversation, conversation_id)
            assert conv is not None
            conv.analysis_summary = analysis.summary()
            await repo.record_stage(
                session,
                conversation_id,
                STAGE,
                started,
                datetime.now(UTC),
                provider=analysis.provider,
            )
