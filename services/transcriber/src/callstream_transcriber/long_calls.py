"""A long call split across transcribers: calls.uploaded → chunks → one transcript.

* ``split``: the instance that took ``calls.uploaded`` cuts the call at pauses into chunk
  files and emits one ``transcription.chunk.requested`` per chunk, spread over the topic's
  partitions by chunk index, so every instance of the group gets its share.
* ``on_chunk``: any instance transcribes a chunk (outside any transaction), then in one
  transaction locks the conversation's row, stores the chunk (insert-once) and, if that was
  the last one, assembles the transcript in chunk order and emits ``calls.transcribed``
  through the outbox. The row lock serialises the instances storing the last chunks, so
  exactly one sees them all; a redelivered chunk finds itself stored and does nothing.
* ``on_dead_letter``: a chunk that failed for good (its own retries ran out on the chunk
  topic's retry path) fails the conversation, naming the chunk.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from opentelemetry import trace

from callstream_common import topics
from callstream_common.contracts import (
    CallTranscribed,
    CallUploaded,
    Transcript,
    TranscriptionChunkRequested,
    utcnow,
)
from callstream_common.db.models import Conversation
from callstream_common.runtime import event_id_for, fail_conversation_on_dead_letter
from callstream_common.stage import DeadLetter
from callstream_transcriber.chunk_store import ChunkedUnitOfWork
from callstream_transcriber.chunking import (
    ChunkSpan,
    PieceTranscriber,
    PieceTranscript,
    assemble,
    chunk_prefix,
)
from callstream_transcriber.splitter import ChunkSplitter
from callstream_transcriber.transcription import vocabulary_of

log = logging.getLogger(__name__)
tracer = trace.get_tracer("callstream.transcriber")
STAGE = "transcription"


class ChunkFiles(Protocol):
    """The object-store operations the split and the chunks need (``ObjectStore`` has them)."""

    def download(self, key: str, path: Path) -> object: ...

    def put_bytes(self, key: str, data: bytes, content_type: str = ...) -> None: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def remove(self, key: str) -> None: ...


@dataclass
class LongCalls:
    unit_of_work: Callable[[], ChunkedUnitOfWork]
    files: ChunkFiles
    pieces: PieceTranscriber
    splitter: ChunkSplitter
    partitions: int = 6
    """Partitions of the chunk topic: chunk ``i`` goes to partition ``i % partitions``."""
    work_dir: str | None = None
    diarize: bool = True
    max_speakers: int = 4

    async def split(self, event: CallUploaded, path: Path, started: datetime) -> None:
        """Cut the call into chunks and emit the ones not stored yet (a redelivered upload
        cuts again — the cuts are deterministic and the keys derived — and re-emits only
        what is missing)."""
        cid = event.conversation_id
        async with self.unit_of_work() as uow:
            stored = await uow.chunks.indexes(cid)
        with tracer.start_as_current_span("split", attributes={"audio.bytes": event.size_bytes}):
            try:
                spans = await asyncio.to_thread(
                    self.splitter.split, path, cid, self.files.put_bytes
                )
            except Exception:
                await asyncio.to_thread(self._remove_chunks, cid)
                raise
        vocabulary = vocabulary_of(event.metadata)
        async with self.unit_of_work() as uow:
            for span in spans:
                if span.index not in stored:
                    uow.emit(
                        topics.TRANSCRIPTION_CHUNK_REQUESTED,
                        chunk_requested(event, span, len(spans), vocabulary),
                        key=f"{cid}:{span.index}".encode(),
                        partition=span.index % self.partitions,
                    )
            await uow.conversations.record_timing(
                cid,
                STAGE,
                started,
                chunks=len(spans),
                split_seconds=round((datetime.now(UTC) - started).total_seconds(), 3),
            )
            await uow.commit()
        log.info("split into chunks", extra={"conversation_id": str(cid), "chunks": len(spans)})

    async def on_chunk(self, event: TranscriptionChunkRequested) -> None:
        cid = event.conversation_id
        async with self.unit_of_work() as uow:
            if await uow.conversations.load_for_stage(cid) is None:
                return
            if event.chunk_index in await uow.chunks.indexes(cid):
                return  # stored by an earlier delivery, whose transaction decided the rest
        piece = await self._transcribe(event)
        assembled = False
        async with self.unit_of_work() as uow:
            conversation = await uow.conversations.load_for_stage(cid, lock=True)
            if conversation is None or not await uow.chunks.add(cid, event.chunk_count, piece):
                return
            pieces = await uow.chunks.pieces(cid)
            if len(pieces) == event.chunk_count:
                assembled = await self._assemble(uow, conversation, event, pieces)
            await uow.commit()
        log.info(
            "chunk stored",
            extra={
                "conversation_id": str(cid),
                "chunk": event.chunk_index,
                "chunks": event.chunk_count,
                "stored": len(pieces),
                "transcription_seconds": piece.elapsed_seconds,
            },
        )
        if assembled:
            await asyncio.to_thread(self._remove_chunks, cid)

    async def on_dead_letter(self, dead: DeadLetter[TranscriptionChunkRequested]) -> None:
        event = dead.event
        if event is None:
            return
        where = (
            f"chunk {event.chunk_index + 1} of {event.chunk_count} "
            f"({event.start_seconds:.0f}-{event.end_seconds:.0f} s)"
        )
        fail = fail_conversation_on_dead_letter(self.unit_of_work, STAGE)
        await fail(
            DeadLetter(event, f"{where}: {dead.reason}", dead.error_class, dead.error_message)
        )

    async def _assemble(
        self,
        uow: ChunkedUnitOfWork,
        conversation: Conversation,
        event: TranscriptionChunkRequested,
        pieces: list[PieceTranscript],
    ) -> bool:
        with tracer.start_as_current_span("assemble", attributes={"chunks": len(pieces)}):
            transcript = await asyncio.to_thread(
                assemble,
                pieces,
                event.chunk_count,
                diarize=self.diarize,
                max_speakers=self.max_speakers,
            )
        cid = conversation.id
        finished = datetime.now(UTC)
        if not await uow.conversations.add_transcript(cid, transcript):
            return False
        split = (conversation.timings or {}).get(STAGE) or {}
        await uow.conversations.record_timing(
            cid,
            STAGE,
            stage_started(conversation),
            finished,
            split_seconds=split.get("split_seconds"),
            provider=transcript.provider,
            audio_seconds=round(transcript.duration_seconds, 2),
            chunks=len(pieces),
            chunk_transcription_seconds=round(sum(p.elapsed_seconds for p in pieces), 3),
        )
        uow.emit_next(
            topics.CALLS_TRANSCRIBED,
            transcribed(cid, event.priority, transcript, occurred_at=finished),
            durable=True,
        )
        log.info("assembled", extra={"conversation_id": str(cid), "chunks": len(pieces)})
        return True

    async def _transcribe(self, event: TranscriptionChunkRequested) -> PieceTranscript:
        with tempfile.TemporaryDirectory(prefix="callstream-chunk-", dir=self.work_dir) as tmp:
            path = Path(tmp) / Path(event.object_key).name
            await asyncio.to_thread(self.files.download, event.object_key, path)
            with tracer.start_as_current_span(
                "transcribe chunk",
                attributes={"chunk.index": event.chunk_index, "chunk.count": event.chunk_count},
            ):
                return await asyncio.to_thread(
                    self.pieces.transcribe_piece,
                    path,
                    event.chunk_index,
                    event.start_seconds,
                    event.vocabulary,
                )

    def _remove_chunks(self, conversation_id: uuid.UUID) -> None:
        """Best effort: a chunk file left behind costs storage, never correctness."""
        try:
            for key in self.files.list_keys(chunk_prefix(conversation_id)):
                self.files.remove(key)
        except Exception as exc:
            log.warning("chunk files of %s not removed: %s", conversation_id, exc)


def chunk_requested(
    event: CallUploaded, span: ChunkSpan, count: int, vocabulary: list[str]
) -> TranscriptionChunkRequested:
    return TranscriptionChunkRequested(
        event_id=event_id_for(event.conversation_id, f"transcription.chunk:{span.index}"),
        conversation_id=event.conversation_id,
        chunk_index=span.index,
        chunk_count=count,
        start_seconds=span.start,
        end_seconds=span.end,
        object_key=span.object_key,
        vocabulary=vocabulary if span.index == 0 else [],
        priority=event.priority,
        max_attempts=event.max_attempts,
    )


def transcribed(
    conversation_id: uuid.UUID,
    priority: int,
    transcript: Transcript,
    occurred_at: datetime | None = None,
) -> CallTranscribed:
    """The next stage's event; its id derives from the conversation, so re-emitting it
    after a crash is recognised downstream as the same event. ``occurred_at`` is when the
    transcript was done, taken before the statement that stores it (the read cache counts
    an event as already invalidated by that statement's change notification, stamped
    later); a re-emitted event has none and is stamped now."""
    return CallTranscribed(
        event_id=event_id_for(conversation_id, "call.transcribed"),
        conversation_id=conversation_id,
        language=transcript.language,
        duration_seconds=transcript.duration_seconds,
        segment_count=len(transcript.segments),
        priority=priority,
        occurred_at=occurred_at or utcnow(),
    )


def stage_started(conversation: Conversation) -> datetime:
    """When the transcription stage of the call began (the split recorded it)."""
    entry = (conversation.timings or {}).get(STAGE) or {}
    try:
        return datetime.fromisoformat(entry["started_at"])
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)
