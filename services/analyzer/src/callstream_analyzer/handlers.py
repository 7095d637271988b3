"""calls.transcribed → MEDDIC analysis → calls.analyzed.

The analysis is stored twice in one transaction — the full row (unique per conversation)
and the summary on the conversation — so a reader never sees one without the other, and
a redelivery re-emits instead of analysing again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry import trace

from callstream_analyzer.meddic import Analyzer
from callstream_common import topics
from callstream_common.contracts import (
    CallAnalyzed,
    CallTranscribed,
    MeddicAnalysis,
    Transcript,
    utcnow,
)
from callstream_common.conversations.status import StageTiming
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.retry import PermanentError
from callstream_common.runtime import event_id_for

tracer = trace.get_tracer("callstream.analyzer")
STAGE = "analysis"


@dataclass
class AnalyzerHandlers:
    unit_of_work: Callable[[], UnitOfWork]
    analyzer: Analyzer

    async def on_transcribed(self, event: CallTranscribed) -> None:
        started = datetime.now(UTC)
        async with self.unit_of_work() as uow:
            await uow.statements_alone()  # reads of rows written once
            loaded = await uow.conversations.load_with_transcript(event.conversation_id)
            if loaded is None:
                return
            conversation, transcript = loaded
            analysis = (
                None  # its first delivery: the summary is stored with the analysis, always
                if conversation.analysis_summary is None
                else await uow.conversations.analysis(conversation.id)
            )
        fresh = analysis is None
        if analysis is None:
            if transcript is None:
                raise PermanentError(f"conversation {event.conversation_id} has no transcript")
            analysis = await self._analyze(transcript)
        finished = datetime.now(UTC) if fresh else None
        async with self.unit_of_work() as uow:
            await uow.statements_alone()  # the analysis and its copy: one statement
            if finished is not None:
                await uow.conversations.add_analysis(
                    event.conversation_id,
                    analysis,
                    timing=StageTiming(STAGE, started, finished, {"provider": analysis.provider}),
                )
            uow.emit_next(topics.CALLS_ANALYZED, analyzed(event, analysis, finished))
            await uow.commit()

    async def _analyze(self, transcript: Transcript) -> MeddicAnalysis:
        with tracer.start_as_current_span(
            "analyze", attributes={"transcript.segments": len(transcript.segments)}
        ) as span:
            analysis = await asyncio.to_thread(self.analyzer.analyze, transcript)
            span.set_attribute("meddic.overall_score", analysis.overall_score)
            span.set_attribute("meddic.status", analysis.qualification_status.value)
            return analysis


def analyzed(
    event: CallTranscribed, analysis: MeddicAnalysis, occurred_at: datetime | None = None
) -> CallAnalyzed:
    """The next stage's event, with an id derived from the conversation. ``occurred_at``
    is when the analysis was done, taken before the statement that stores it (the read
    cache counts an event as already invalidated by that statement's change notification,
    stamped later); a re-emitted event has none and is stamped now."""
    return CallAnalyzed(
        event_id=event_id_for(event.conversation_id, "call.analyzed"),
        conversation_id=event.conversation_id,
        overall_score=analysis.overall_score,
        qualification_status=analysis.qualification_status,
        priority=event.priority,
        occurred_at=occurred_at or utcnow(),
    )
