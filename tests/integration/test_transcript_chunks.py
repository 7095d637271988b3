"""The chunks of a long call on the real PostgreSQL, Kafka and object store: the row lock
that serialises the last two chunks, insert-once rows, one assembly however the chunks
arrive. The engine is the scripted one of the unit tests (no Whisper needed here)."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from sqlalchemy import text

from callstream_common.contracts import TranscriptionChunkRequested
from callstream_common.conversations.sql import SqlConversationRepository
from callstream_common.db.models import ConversationStatus
from callstream_common.objectstore import ObjectStore
from callstream_transcriber.chunk_store import SqlChunkedUnitOfWork
from callstream_transcriber.chunking import chunk_key
from callstream_transcriber.long_calls import LongCalls
from callstream_transcriber.splitter import ChunkSplitter
from tests.unit.fakes import conversation
from tests.unit.stages.test_long_call_chunks import NumberedPieces

pytestmark = pytest.mark.stack


@pytest.fixture
async def broker(endpoints: Any) -> AsyncIterator[KafkaBroker]:
    kafka = KafkaBroker(endpoints.kafka_bootstrap)
    await kafka.connect()
    yield kafka
    await kafka.stop()


async def a_split_call(sessions: Any, store: ObjectStore, count: int) -> list[Any]:
    conv = conversation(ConversationStatus.PROCESSING)
    async with sessions() as session, session.begin():
        repo = SqlConversationRepository(session)
        await repo.join_opportunity(conv)
        await repo.add(conv)
    events = []
    for i in range(count):
        key = chunk_key(conv.id, i)
        store.put_bytes(key, b"fLaC-chunk", "audio/flac")
        events.append(
            TranscriptionChunkRequested(
                conversation_id=conv.id,
                chunk_index=i,
                chunk_count=count,
                start_seconds=30.0 * i,
                end_seconds=30.0 * (i + 1),
                object_key=key,
            )
        )
    return events


async def count(sessions: Any, table: str, cid: uuid.UUID) -> int:
    async with sessions() as session:
        query = text(f"SELECT count(*) FROM {table} WHERE conversation_id = :c")  # noqa: S608
        return int((await session.execute(query, {"c": cid})).scalar_one())


async def test_the_last_two_chunks_at_once_are_assembled_once_on_postgres(
    sessions: Any, common_settings: Any, broker: KafkaBroker, caplog: pytest.LogCaptureFixture
) -> None:
    store = ObjectStore(common_settings)
    store.ensure_bucket()
    pieces = NumberedPieces()
    long_calls = LongCalls(
        unit_of_work=lambda: SqlChunkedUnitOfWork(sessions, broker),
        files=store,
        pieces=pieces,
        splitter=ChunkSplitter(chunk_seconds=30.0, threshold_seconds=20.0),
    )
    events = await a_split_call(sessions, store, 3)
    cid = events[0].conversation_id
    caplog.set_level(logging.INFO, logger="callstream_transcriber.long_calls")

    await long_calls.on_chunk(events[0])
    pieces.hold = threading.Barrier(2)
    await asyncio.gather(long_calls.on_chunk(events[2]), long_calls.on_chunk(events[1]))
    pieces.hold = None
    await long_calls.on_chunk(events[2])  # a redelivered last chunk

    assert await count(sessions, "transcript_chunks", cid) == 3
    assert await count(sessions, "transcripts", cid) == 1
    assert [r.message for r in caplog.records].count("assembled") == 1
    assert sorted(pieces.calls) == [0, 1, 2]
    async with sessions() as session:
        transcript = await SqlConversationRepository(session).transcript(cid)
        outbox = (
            await session.execute(
                text("SELECT count(*) FROM event_outbox WHERE payload->>'conversation_id' = :c"),
                {"c": str(cid)},
            )
        ).scalar_one()
    assert transcript is not None
    assert [s.text for s in transcript.segments] == [f"chunk{i} word two three." for i in range(3)]
    assert outbox == 0  # published at once, so the relay has nothing left to send
    assert store.list_keys(f"chunks/{cid}/") == []
