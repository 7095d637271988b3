"""A long call split across transcribers, against the in-memory unit of work: the split
emits one chunk event per chunk, chunks arrive in any order, twice, or two at once, and
the call still gets exactly one transcript and one ``calls.transcribed``."""

from __future__ import annotations

import asyncio
import itertools
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from callstream_common import topics
from callstream_common.contracts import (
    CallTranscribed,
    CallUploaded,
    ConversationMetadata,
    TranscriptionChunkRequested,
)
from callstream_common.db.models import ConversationStatus
from callstream_common.retry import PermanentError
from callstream_common.stage import DeadLetter
from callstream_transcriber.chunk_store import ChunkedUnitOfWork
from callstream_transcriber.chunking import PieceTranscript, chunk_prefix
from callstream_transcriber.diarization import SpeechWindows
from callstream_transcriber.handlers import TranscriberHandlers
from callstream_transcriber.long_calls import LongCalls
from callstream_transcriber.segments import TimedWord
from callstream_transcriber.splitter import ChunkSplitter
from tests.support.audio import write_wav
from tests.unit.fakes import FakeChunkedUnitOfWork, FakeDatabase, conversation
from tests.unit.stages.conftest import TRANSCRIPT

SAMPLE_RATE = 16_000


class MemoryFiles:
    """The object store's operations the split and the chunks use, in a dict."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def download(self, key: str, path: Path) -> object:
        return path.write_bytes(self.objects[key])

    def put_bytes(self, key: str, data: bytes, content_type: str = "") -> None:
        self.objects[key] = data

    def list_keys(self, prefix: str) -> list[str]:
        return [k for k in self.objects if k.startswith(prefix)]

    def remove(self, key: str) -> None:
        del self.objects[key]


class NumberedPieces:
    """Transcribes chunk ``i`` as the words "chunk i word 1 … word 3." at its offset, after
    an optional wait (to hold two chunks in flight at once)."""

    def __init__(self, hold: threading.Barrier | None = None, *errors: Exception) -> None:
        self.hold = hold
        self.errors = list(errors)
        self.calls: list[int] = []
        self.vocabularies: list[Sequence[str]] = []

    def transcribe_piece(
        self, path: Path, index: int, start: float, vocabulary: Sequence[str] = ()
    ) -> PieceTranscript:
        assert path.read_bytes()[:4] == b"fLaC"
        self.calls.append(index)
        self.vocabularies.append(vocabulary)
        if self.hold is not None:
            self.hold.wait(timeout=5)
        if self.errors:
            raise self.errors.pop(0)
        texts = [f"chunk{index}", "word", "two", "three."]
        words = tuple(
            TimedWord(start + 1 + i * 0.5, start + 1.4 + i * 0.5, f" {t}")
            for i, t in enumerate(texts)
        )
        return PieceTranscript(
            index, start, start + 25.0, words, SpeechWindows.empty(), "builtin", "tiny", "en", 0.1
        )


class WholeCallTranscriber:
    def __init__(self) -> None:
        self.paths: list[Path] = []

    def transcribe(self, path: Path, vocabulary: Sequence[str] = ()) -> object:
        self.paths.append(path)
        return TRANSCRIPT


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """80 s of tone with a pause every 7 s: three 30-s chunks, cut in pauses."""
    t = np.arange(80 * SAMPLE_RATE) / SAMPLE_RATE
    audio = 0.3 * np.sin(2 * np.pi * 220 * t)
    audio[(t % 7.0) > 6.4] = 0.0
    return write_wav(tmp_path_factory.mktemp("long") / "call.wav", audio).read_bytes()


@pytest.fixture
def chunked_uow(db: FakeDatabase) -> Callable[[], ChunkedUnitOfWork]:
    return lambda: FakeChunkedUnitOfWork(db)


def uploaded(conversation_id: uuid.UUID) -> CallUploaded:
    return CallUploaded(
        conversation_id=conversation_id,
        object_key="recordings/2026/11/02/call.wav",
        content_type="audio/wav",
        size_bytes=1024,
        sha256="0" * 64,
        metadata=ConversationMetadata(opportunity_name="Acme renewal", rep_id="rep-sarah"),
        max_attempts=4,
    )


class Pipeline:
    """The transcriber's two handlers wired like app.py, on fakes."""

    def __init__(
        self,
        uow: Callable[[], ChunkedUnitOfWork],
        files: MemoryFiles,
        pieces: NumberedPieces,
        threshold: float = 20.0,
    ) -> None:
        self.files = files
        self.whole = WholeCallTranscriber()
        self.long_calls = LongCalls(
            unit_of_work=uow,
            files=files,
            pieces=pieces,
            splitter=ChunkSplitter(chunk_seconds=30.0, threshold_seconds=threshold),
            partitions=2,
        )
        self.handlers = TranscriberHandlers(
            uow,
            files.download,
            self.whole,  # type: ignore[arg-type]
            long_calls=self.long_calls,
        )


def chunk_events(db: FakeDatabase) -> list[TranscriptionChunkRequested]:
    return [
        e.value
        for e in db.published
        if e.topic == topics.TRANSCRIPTION_CHUNK_REQUESTED
        and isinstance(e.value, TranscriptionChunkRequested)
    ]


def transcribed(db: FakeDatabase) -> list[CallTranscribed]:
    return [e.value for e in db.published if isinstance(e.value, CallTranscribed)]


async def split_call(
    db: FakeDatabase,
    uow: Callable[[], ChunkedUnitOfWork],
    recording: bytes,
    pieces: NumberedPieces | None = None,
) -> tuple[Pipeline, uuid.UUID, list[TranscriptionChunkRequested]]:
    conv = db.add(conversation())
    files = MemoryFiles()
    files.objects[uploaded(conv.id).object_key] = recording
    pipeline = Pipeline(uow, files, pieces or NumberedPieces())
    await pipeline.handlers.on_uploaded(uploaded(conv.id))
    return pipeline, conv.id, chunk_events(db)


async def test_a_long_call_is_split_into_chunk_events_spread_over_partitions(
    db: FakeDatabase, chunked_uow: Callable[[], ChunkedUnitOfWork], recording: bytes
) -> None:
    pipeline, cid, events = await split_call(db, chunked_uow, recording)

    assert [e.chunk_index for e in events] == [0, 1, 2]
    assert {e.chunk_count for e in events} == {3}
    assert events[0].start_seconds == 0.0 and events[-1].end_seconds == pytest.approx(80.0)
    for before, after in itertools.pairwise(events):
        assert after.start_seconds == pytest.approx(before.end_seconds)
    sent = [e for e in db.published if e.topic == topics.TRANSCRIPTION_CHUNK_REQUESTED]
    assert [e.partition for e in sent] == [0, 1, 0]
    assert [e.key for e in sent] == [f"{cid}:{i}".encode() for i in range(3)]
    assert all(pipeline.files.objects[e.object_key][:4] == b"fLaC" for e in events)
    assert events[0].vocabulary == ["Acme renewal"] and events[1].vocabulary == []
    assert {e.max_attempts for e in events} == {4}
    assert pipeline.whole.paths == [] and transcribed(db) == []
    assert db.status(cid) == ConversationStatus.PROCESSING
    assert (db.conversations[cid].timings or {})["transcription"]["chunks"] == 3


async def test_a_short_call_stays_on_the_whole_call_path(
    db: FakeDatabase, chunked_uow: Callable[[], ChunkedUnitOfWork], recording: bytes
) -> None:
    conv = db.add(conversation())
    files = MemoryFiles()
    files.objects[uploaded(conv.id).object_key] = recording
    pipeline = Pipeline(chunked_uow, files, NumberedPieces(), threshold=600.0)
    await pipeline.handlers.on_uploaded(uploaded(conv.id))
    assert len(pipeline.whole.paths) == 1 and chunk_events(db) == []
    assert db.transcripts[conv.id] == TRANSCRIPT and len(transcribed(db)) == 1


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1), (1, 2, 0)])
async def test_chunks_in_any_order_make_one_transcript_in_call_order(
    db: FakeDatabase,
    chunked_uow: Callable[[], ChunkedUnitOfWork],
    recording: bytes,
    order: tuple[int, ...],
) -> None:
    pipeline, cid, events = await split_call(db, chunked_uow, recording)
    for index in order:
        assert cid not in db.transcripts
        await pipeline.long_calls.on_chunk(events[index])

    transcript = db.transcripts[cid]
    assert [s.text for s in transcript.segments] == [f"chunk{i} word two three." for i in range(3)]
    assert [s.start for s in transcript.segments] == [e.start_seconds + 1 for e in events]
    [event] = transcribed(db)
    assert event.segment_count == 3
    assert len(db.outbox) == 1  # written with the transcript: a crash cannot lose it
    assert db.conversations[cid].duration_seconds == transcript.duration_seconds
    timing = (db.conversations[cid].timings or {})["transcription"]
    assert timing["chunks"] == 3 and timing["seconds"] >= 0 and timing["split_seconds"] >= 0
    assert pipeline.files.list_keys(chunk_prefix(cid)) == []


async def test_a_redelivered_chunk_adds_nothing_and_is_not_transcribed_again(
    db: FakeDatabase, chunked_uow: Callable[[], ChunkedUnitOfWork], recording: bytes
) -> None:
    pieces = NumberedPieces()
    pipeline, _, events = await split_call(db, chunked_uow, recording, pieces)
    await pipeline.long_calls.on_chunk(events[0])
    await pipeline.long_calls.on_chunk(events[0])
    await pipeline.long_calls.on_chunk(events[1])
    await pipeline.long_calls.on_chunk(events[2])
    await pipeline.long_calls.on_chunk(events[2])  # the last one again, after assembly

    assert pieces.calls == [0, 1, 2]
    assert len(transcribed(db)) == 1 and len(db.transcripts) == 1


async def test_the_last_two_chunks_finishing_at_once_assemble_once(
    db: FakeDatabase, chunked_uow: Callable[[], ChunkedUnitOfWork], recording: bytes
) -> None:
    """Both are transcribed at the same time (threads held at a barrier) and reach the
    store together: the conversation's row lock lets one through first, and only the one
    that then sees all three chunks assembles."""
    pieces = NumberedPieces()
    pipeline, cid, events = await split_call(db, chunked_uow, recording, pieces)
    await pipeline.long_calls.on_chunk(events[0])
    pieces.hold = threading.Barrier(2)
    await asyncio.gather(
        pipeline.long_calls.on_chunk(events[1]), pipeline.long_calls.on_chunk(events[2])
    )
    assert sorted(pieces.calls) == [0, 1, 2]
    assert len(transcribed(db)) == 1
    assert len(db.transcripts[cid].segments) == 3


async def test_the_same_chunk_twice_at_once_is_stored_once(
    db: FakeDatabase, chunked_uow: Callable[[], ChunkedUnitOfWork], recording: bytes
) -> None:
    pieces = NumberedPieces()
    pipeline, _, events = await split_call(db, chunked_uow, recording, pieces)
    await pipeline.long_calls.on_chunk(events[0])
    await pipeline.long_calls.on_chunk(events[1])
    pieces.hold = threading.Barrier(2)
    await asyncio.gather(
        pipeline.long_calls.on_chunk(events[2]), pipeline.long_calls.on_chunk(events[2])
    )
    assert len(transcribed(db)) == 1 and len(db.transcripts) == 1


async def test_a_redelivered_upload_re_emits_only_the_missing_chunks(
    db: FakeDatabase, chunked_uow: Callable[[], ChunkedUnitOfWork], recording: bytes
) -> None:
    pipeline, cid, events = await split_call(db, chunked_uow, recording)
    await pipeline.long_calls.on_chunk(events[1])
    db.published.clear()
    await pipeline.handlers.on_uploaded(uploaded(cid))
    again = chunk_events(db)
    assert [e.chunk_index for e in again] == [0, 2]
    assert [e.event_id for e in again] == [events[0].event_id, events[2].event_id]


async def test_a_chunk_that_fails_for_good_fails_the_call_naming_the_chunk(
    db: FakeDatabase, chunked_uow: Callable[[], ChunkedUnitOfWork], recording: bytes
) -> None:
    pieces = NumberedPieces(None, PermanentError("chunk audio unreadable"))
    pipeline, cid, events = await split_call(db, chunked_uow, recording, pieces)
    with pytest.raises(PermanentError) as failure:
        await pipeline.long_calls.on_chunk(events[1])
    await pipeline.long_calls.on_dead_letter(
        DeadLetter(events[1], "permanent", "PermanentError", str(failure.value))
    )
    conv = db.conversations[cid]
    assert db.status(cid) == ConversationStatus.FAILED
    assert conv.failure_stage == "transcription"
    assert conv.failure_reason is not None
    assert conv.failure_reason.startswith("chunk 2 of 3 (")
    assert "chunk audio unreadable" in conv.failure_reason

    for rest in (events[0], events[2]):  # nothing to do any more
        await pipeline.long_calls.on_chunk(rest)
    assert pieces.calls == [1] and transcribed(db) == [] and cid not in db.transcripts


async def test_an_undecodable_long_call_leaves_no_chunk_behind(
    db: FakeDatabase, chunked_uow: Callable[[], ChunkedUnitOfWork], recording: bytes
) -> None:
    """Truncated to 40% of what its header declares: the split fails at the end of the
    stream, before any chunk event, and removes the chunk files it had written."""
    from callstream_transcriber.audio import UndecodableAudio

    conv = db.add(conversation())
    files = MemoryFiles()
    files.objects[uploaded(conv.id).object_key] = recording[: int(len(recording) * 0.4)]
    pipeline = Pipeline(chunked_uow, files, NumberedPieces())
    with pytest.raises(UndecodableAudio, match="truncated"):
        await pipeline.handlers.on_uploaded(uploaded(conv.id))
    assert chunk_events(db) == [] and files.list_keys("chunks/") == []
