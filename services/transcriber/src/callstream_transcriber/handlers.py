"""calls.uploaded → transcript → calls.transcribed.

Idempotent by natural key: one transcript per conversation. A redelivery after the
transcript was stored skips the transcription and re-publishes the (same-id) event, so
a crash between the database commit and the publish loses nothing and doubles nothing.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from opentelemetry import trace
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from callstream_common import topics
from callstream_common.contracts import CallTranscribed, CallUploaded, Transcript
from callstream_common.db import repo
from callstream_common.db.models import Conversation, ConversationStatus, TranscriptRow
from callstream_common.retry import PermanentError
from callstream_common.runtime import Runtime, event_id_for
from callstream_transcriber.transcription import Transcriber, vocabulary_of

log = logging.getLogger(__name__)
tracer = trace.get_tracer("callstream.transcriber")
STAGE = "transcription"


@dataclass
class TranscriberHandlers:
    runtime: Runtime
    transcriber: Transcriber
    work_dir: str | None = None

    async def on_uploaded(self, event: CallUploaded) -> None:
        rt = self.runtime
        started = datetime.now(UTC)
        async with rt.sessions() as session, session.begin():
            conv = await session.get(Conversation, event.conversation_id)
            if conv is None:
                raise PermanentError(f"conversation {event.conversation_id} does not exist")
            if conv.status in (ConversationStatus.COMPLETED, ConversationStatus.FAILED):
                log.info("conversation %s already %s; skipping", conv.id, conv.status)
                return
            existing = (
                await session.execute(
                    select(TranscriptRow).where(TranscriptRow.conversation_id == conv.id)  # type: ignore[arg-type]
                )
            ).scalar_one_or_none()
            if existing is None:
                await repo.mark_processing(session, conv.id)
                await repo.record_stage(session, conv.id, STAGE, started)
        if existing is None:
            transcript = await self._transcribe(event)
            async with rt.sessions() as session, session.begin():
                await session.execute(
                    insert(TranscriptRow.__table__)  # type: ignore[attr-defined]
                    .values(
                        id=uuid.uuid4(),
                        conversation_id=event.conversation_id,
                        language=transcript.language,
                        duration_seconds=transcript.duration_seconds,
                        text=transcript.text,
                        segments=[s.model_dump(mode="json") for s in transcript.segments],
                        provider=transcript.provider,
                        model=transcript.model,
                    )
                    .on_conflict_do_nothing(index_elements=["conversation_id"])
                )
                conv = await session.get(Conversation, event.conversation_id)
                assert conv is not None
                conv.duration_seconds = transcript.duration_seconds
                await repo.record_stage(
                    session,
                    event.conversation_id,
                    STAGE,
                    started,
                    datetime.now(UTC),
                    provider=transcript.provider,
                    audio_seconds=round(transcript.duration_seconds, 2),
                )
            language, duration, count = (
                transcript.language,
                transcript.duration_seconds,
                len(transcript.segments),
            )
        else:
            language, duration, count = (
                existing.language,
                existing.duration_seconds,
                len(existing.segments),
            )
        out = CallTranscribed(
            event_id=event_id_for(event.conversation_id, "call.transcribed"),
            conversation_id=event.conversation_id,
            language=language,
            duration_seconds=duration,
            segment_count=count,
            priority=event.priority,
        )
        await rt.broker.publish(
            out.model_dump(mode="json"),
            topics.lane_for(topics.CALLS_TRANSCRIBED, event.priority),
            key=str(event.conversation_id).encode(),
        )

    async def _transcribe(self, event: CallUploaded) -> Transcript:
        with tempfile.TemporaryDirectory(prefix="callstream-", dir=self.work_dir) as tmp:
            path = Path(tmp) / Path(event.object_key).name
            await asyncio.to_thread(self.runtime.store.download, event.object_key, path)
            with tracer.start_as_current_span(
                "transcribe", attributes={"audio.bytes": event.size_bytes}
            ) as span:
                transcript = await asyncio.to_thread(
                    self.transcriber.transcribe, path, vocabulary_of(event.metadata)
                )
                span.set_attribute("audio.seconds", transcript.duration_seconds)
                span.set_attribute("transcript.segments", len(transcript.segments))
                span.set_attribute("transcriber.provider", transcript.provider)
                return transcript
