"""calls.uploaded → transcript → calls.transcribed.

Idempotent by natural key: one transcript per conversation. A redelivery after the
transcript was stored skips the transcription and re-emits the (same-id) event, so a
crash between the database commit and the publish loses nothing and doubles nothing.
A call longer than the configured threshold is not transcribed here but split into chunks
for every transcriber instance of the group (:mod:`.long_calls`).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from opentelemetry import trace

from callstream_common import topics
from callstream_common.contracts import CallUploaded, Transcript
from callstream_common.conversations.status import UNCLAIMED, StageTiming
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.db.models import ConversationStatus
from callstream_transcriber.long_calls import STAGE, LongCalls, transcribed
from callstream_transcriber.transcription import Transcriber, vocabulary_of

tracer = trace.get_tracer("callstream.transcriber")

__all__ = ["STAGE", "Download", "TranscriberHandlers"]

Download = Callable[[str, Path], object]
"""Copies an object of the store to a local path (blocking; run in a thread)."""
Confirm = Callable[[str], object]
"""Checks that an object is in the store without reading it (blocking; run in a thread);
raises as a download would when it is not there or the store cannot be reached."""


@dataclass
class TranscriberHandlers:
    unit_of_work: Callable[[], UnitOfWork]
    download: Download
    transcriber: Transcriber
    work_dir: str | None = None
    long_calls: LongCalls | None = None
    """Splits calls over the threshold across the group's instances (None: never)."""
    confirm: Confirm | None = None
    """Used instead of :attr:`download` when the transcriber's answer does not depend on
    the recording (its ``reads_audio`` is False: the ``instant`` benchmark engine)."""

    async def on_uploaded(self, event: CallUploaded) -> None:
        started = datetime.now(UTC)
        async with self.unit_of_work() as uow:
            await uow.statements_alone()  # guarded moves and reads of rows written once
            claimed = await uow.conversations.move(
                event.conversation_id,
                ConversationStatus.PROCESSING,
                only_from=UNCLAIMED,
                timing=StageTiming(STAGE, started),
            )
            transcript = None  # a claimed call has no transcript: it is stored after this
            if not claimed:  # a redelivery, a missing or a finished call: look
                loaded = await uow.conversations.load_with_transcript(event.conversation_id)
                if loaded is None:
                    return
                transcript = loaded[1]
                if transcript is None:
                    await uow.conversations.move(
                        event.conversation_id,
                        ConversationStatus.PROCESSING,
                        timing=StageTiming(STAGE, started),
                    )
            await uow.commit()
        fresh = transcript is None
        if transcript is None:
            if self.confirm is not None and not getattr(self.transcriber, "reads_audio", True):
                transcript = await self._transcribe_unread(event)
            else:
                with tempfile.TemporaryDirectory(prefix="callstream-", dir=self.work_dir) as tmp:
                    path = Path(tmp) / Path(event.object_key).name
                    await asyncio.to_thread(self.download, event.object_key, path)
                    long_calls = self.long_calls
                    if long_calls is not None and await asyncio.to_thread(
                        long_calls.splitter.wants_split, path
                    ):
                        await long_calls.split(event, path, started)
                        return
                    transcript = await self._transcribe(event, path)
        finished = datetime.now(UTC) if fresh else None
        async with self.unit_of_work() as uow:
            await uow.statements_alone()  # the transcript and its copy: one statement
            if finished is not None:
                await uow.conversations.add_transcript(
                    event.conversation_id,
                    transcript,
                    timing=StageTiming(
                        STAGE,
                        started,
                        finished,
                        {
                            "provider": transcript.provider,
                            "audio_seconds": round(transcript.duration_seconds, 2),
                        },
                    ),
                )
            uow.emit_next(
                topics.CALLS_TRANSCRIBED,
                transcribed(event.conversation_id, event.priority, transcript, finished),
            )
            await uow.commit()

    async def _transcribe_unread(self, event: CallUploaded) -> Transcript:
        """A transcriber that never opens the recording still needs it to exist: confirm
        it is in the store (one metadata request instead of a download), so a missing
        recording or an unreachable store fails the call exactly as with a real engine.
        Such a call is never split (its length is not read)."""
        assert self.confirm is not None
        await asyncio.to_thread(self.confirm, event.object_key)
        return await self._transcribe(event, Path(event.object_key))

    async def _transcribe(self, event: CallUploaded, path: Path) -> Transcript:
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
