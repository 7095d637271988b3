"""Re-running the analysis of a finished call (the scorecard's "Re-run analysis" button).

One transaction forgets the analysis and the scorecard deliveries, reopens the call and
stages a fresh ``CallTranscribed`` in the outbox: the analyzer analyses again (it only
skips calls that already have an analysis) and the notifier posts the new scorecard where
the first one went. Alerts and webhook deliveries stay: they are once per call.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from callstream_common import outbox, topics
from callstream_common.contracts import CallTranscribed
from callstream_common.db.models import (
    Conversation,
    ConversationStatus,
    MeddicAnalysisRow,
    Notification,
    TranscriptRow,
)
from callstream_ingest.state import IngestState

RERUN_NOTIFICATIONS = ("slack", "log")


async def rerun_analysis(st: IngestState, conversation_id: uuid.UUID) -> str:
    """Reopen the call for analysis; what to tell the user."""
    async with st.sessions() as session, session.begin():
        conv = (
            await session.execute(
                select(Conversation)
                .where(Conversation.id == conversation_id)  # type: ignore[arg-type]
                .with_for_update()
            )
        ).scalar_one()
        if conv.status not in (ConversationStatus.COMPLETED, ConversationStatus.FAILED):
            return ":hourglass_flowing_sand: This call is still being processed."
        transcript = (
            await session.execute(
                select(TranscriptRow).where(TranscriptRow.conversation_id == conversation_id)  # type: ignore[arg-type]
            )
        ).scalar_one_or_none()
        if transcript is None:
            return ":x: This call has no transcript to analyse again."
        await session.execute(
            delete(MeddicAnalysisRow).where(
                MeddicAnalysisRow.conversation_id == conversation_id  # type: ignore[arg-type]
            )
        )
        await session.execute(
            delete(Notification).where(
                Notification.conversation_id == conversation_id,  # type: ignore[arg-type]
                Notification.channel.in_(RERUN_NOTIFICATIONS),  # type: ignore[attr-defined]
            )
        )
        conv.status = ConversationStatus.PROCESSING
        conv.analysis_summary = None
        conv.completed_at = None
        conv.failure_reason = None
        conv.failure_stage = None
        event = CallTranscribed(
            conversation_id=conversation_id,
            language=transcript.language,
            duration_seconds=transcript.duration_seconds,
            segment_count=len(transcript.segments),
            priority=conv.priority,
        )
        staged = outbox.stage_event(
            session,
            topics.lane_for(topics.CALLS_TRANSCRIBED, event.priority),
            event.model_dump(mode="json"),
            key=str(conversation_id).encode(),
            headers={"x-callstream-priority": str(event.priority)},
        )
    await outbox.publish_staged(
        st.sessions, st.broker, staged, st.settings.kafka_publish_timeout_seconds
    )
    return ":repeat: Analysing this call again; the new scorecard will be posted when it is done."
