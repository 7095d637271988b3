"""Where the chunks of a long call wait for each other: the ``transcript_chunks`` table.

The port (``ChunkRepository``) is used through the transcriber's unit of work, so that
storing a chunk, seeing that it was the last one, assembling the transcript and emitting
``calls.transcribed`` are one transaction: with the conversation's row locked first, two
instances finishing the last two chunks at once are serialised, and the second one sees
both chunks and assembles — exactly one of them does.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.conversations.sql import SqlUnitOfWork
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.db.models import TranscriptChunkRow
from callstream_transcriber.chunking import PieceTranscript
from callstream_transcriber.diarization import SpeechWindows
from callstream_transcriber.segments import TimedWord

CHUNKS: Table = TranscriptChunkRow.__table__  # type: ignore[attr-defined]


class ChunkRepository(ABC):
    @abstractmethod
    async def add(self, conversation_id: uuid.UUID, count: int, piece: PieceTranscript) -> bool:
        """Store one chunk's transcript; False (nothing written) if it is already there."""

    @abstractmethod
    async def indexes(self, conversation_id: uuid.UUID) -> set[int]:
        """The chunks of the call already stored (this transaction's own included)."""

    @abstractmethod
    async def pieces(self, conversation_id: uuid.UUID) -> list[PieceTranscript]:
        """Every stored chunk of the call, in chunk order."""


class ChunkedUnitOfWork(UnitOfWork):
    """The unit of work of the transcriber: conversations and the chunks of long calls."""

    chunks: ChunkRepository


def piece_row(conversation_id: uuid.UUID, count: int, piece: PieceTranscript) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "chunk_index": piece.index,
        "chunk_count": count,
        "start_seconds": piece.start,
        "end_seconds": piece.end,
        "words": [[w.start, w.end, w.text] for w in piece.words],
        "speech": piece.speech.to_bytes() if len(piece.speech.speech_frames) else None,
        "language": piece.language,
        "provider": piece.provider,
        "model": piece.model,
        "elapsed_seconds": piece.elapsed_seconds,
    }


def piece_of(row: Any) -> PieceTranscript:
    return PieceTranscript(
        index=row.chunk_index,
        start=row.start_seconds,
        end=row.end_seconds,
        words=tuple(TimedWord(float(s), float(e), str(t)) for s, e, t in row.words),
        speech=SpeechWindows.from_bytes(row.speech) if row.speech else SpeechWindows.empty(),
        provider=row.provider,
        model=row.model,
        language=row.language,
        elapsed_seconds=row.elapsed_seconds,
    )


class SqlChunkRepository(ChunkRepository):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, conversation_id: uuid.UUID, count: int, piece: PieceTranscript) -> bool:
        inserted = await self.session.execute(
            insert(CHUNKS)
            .values(**piece_row(conversation_id, count, piece))
            .on_conflict_do_nothing(index_elements=["conversation_id", "chunk_index"])
            .returning(CHUNKS.c.chunk_index)
        )
        return inserted.first() is not None

    async def indexes(self, conversation_id: uuid.UUID) -> set[int]:
        query = select(CHUNKS.c.chunk_index).where(CHUNKS.c.conversation_id == conversation_id)
        return set((await self.session.execute(query)).scalars())

    async def pieces(self, conversation_id: uuid.UUID) -> list[PieceTranscript]:
        query = (
            select(CHUNKS)
            .where(CHUNKS.c.conversation_id == conversation_id)
            .order_by(CHUNKS.c.chunk_index)
        )
        return [piece_of(row) for row in (await self.session.execute(query)).all()]


class SqlChunkedUnitOfWork(SqlUnitOfWork, ChunkedUnitOfWork):
    async def __aenter__(self) -> SqlChunkedUnitOfWork:
        await super().__aenter__()
        assert self._session is not None
        self.chunks = SqlChunkRepository(self._session)
        return self
