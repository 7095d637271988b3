"""The transcriber's handler against the in-memory unit of work: load → transcribe →
save → emit, and what each kind of failure leaves behind."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from callstream_common import topics
from callstream_common.contracts import CallTranscribed, CallUploaded, ConversationMetadata
from callstream_common.conversations.status import ConversationMissing
from callstream_common.conversations.unit_of_work import PublishFailed, UnitOfWork
from callstream_common.db.models import ConversationStatus
from callstream_common.retry import PermanentError, RetryableError, is_permanent
from callstream_common.runtime import event_id_for
from callstream_transcriber.handlers import TranscriberHandlers
from tests.unit.fakes import FakeDatabase, conversation
from tests.unit.stages.conftest import TRANSCRIPT


class ScriptedTranscriber:
    """Answers with the sample transcript, or raises the scripted errors first."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.paths: list[Path] = []
        self.vocabularies: list[Sequence[str]] = []

    def transcribe(self, path: Path, vocabulary: Sequence[str] = ()) -> object:
        self.paths.append(path)
        self.vocabularies.append(vocabulary)
        assert path.read_bytes() == b"RIFF-audio"
        if self.errors:
            raise self.errors.pop(0)
        return TRANSCRIPT


def download(key: str, path: Path) -> None:
    path.write_bytes(b"RIFF-audio")


def uploaded(conversation_id: uuid.UUID, priority: int = 5) -> CallUploaded:
    return CallUploaded(
        conversation_id=conversation_id,
        object_key="recordings/2026/11/02/call.wav",
        content_type="audio/wav",
        size_bytes=1024,
        sha256="0" * 64,
        metadata=ConversationMetadata(opportunity_name="Acme renewal", rep_id="rep-sarah"),
        priority=priority,
    )


def handlers(
    uow: Callable[[], UnitOfWork], transcriber: ScriptedTranscriber
) -> TranscriberHandlers:
    return TranscriberHandlers(uow, download, transcriber)  # type: ignore[arg-type]


async def test_the_uploads_names_reach_the_transcriber_as_its_vocabulary(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation())
    transcriber = ScriptedTranscriber()
    event = uploaded(conv.id)
    meta = event.metadata.model_copy(
        update={"company_name": "Acme Analytics", "participants": ["Dana Whitfield", "Marco"]}
    )
    await handlers(uow, transcriber).on_uploaded(event.model_copy(update={"metadata": meta}))
    assert transcriber.vocabularies == [
        ["Acme Analytics", "Acme renewal", "Dana Whitfield", "Marco"]
    ]


async def test_a_pending_call_is_transcribed_saved_and_announced(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation())
    transcriber = ScriptedTranscriber()
    await handlers(uow, transcriber).on_uploaded(uploaded(conv.id))

    assert transcriber.vocabularies == [["Acme renewal"]]
    assert db.transcripts[conv.id] == TRANSCRIPT
    assert db.status(conv.id) == ConversationStatus.PROCESSING
    assert conv.duration_seconds == 42.5
    timing = (conv.timings or {})["transcription"]
    assert timing["provider"] == "fake" and timing["seconds"] >= 0
    [sent] = db.published
    assert sent.topic == topics.CALLS_TRANSCRIBED and sent.key == str(conv.id).encode()
    assert isinstance(sent.value, CallTranscribed)
    assert sent.value.event_id == event_id_for(conv.id, "call.transcribed")
    assert (sent.value.segment_count, sent.value.language) == (2, "en")
    assert sent.value.occurred_at.isoformat() == timing["finished_at"], "before it was stored"


async def test_a_high_priority_call_travels_in_the_priority_lane(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation())
    await handlers(uow, ScriptedTranscriber()).on_uploaded(uploaded(conv.id, priority=9))
    assert db.topics() == [topics.lane_for(topics.CALLS_TRANSCRIBED, 9)]


async def test_a_missing_conversation_is_a_permanent_failure(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    transcriber = ScriptedTranscriber()
    with pytest.raises(ConversationMissing) as raised:
        await handlers(uow, transcriber).on_uploaded(uploaded(uuid.uuid4()))
    assert is_permanent(raised.value)
    assert transcriber.paths == [] and db.published == []


@pytest.mark.parametrize("status", [ConversationStatus.COMPLETED, ConversationStatus.FAILED])
async def test_a_finished_call_is_skipped(
    db: FakeDatabase, uow: Callable[[], UnitOfWork], status: ConversationStatus
) -> None:
    conv = db.add(conversation(status))
    transcriber = ScriptedTranscriber()
    await handlers(uow, transcriber).on_uploaded(uploaded(conv.id))
    assert transcriber.paths == [] and db.published == [] and db.commits == 0
    assert db.status(conv.id) == status


async def test_a_redelivery_re_emits_the_same_event_without_transcribing_again(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation(ConversationStatus.PROCESSING))
    db.transcripts[conv.id] = TRANSCRIPT
    transcriber = ScriptedTranscriber()
    await handlers(uow, transcriber).on_uploaded(uploaded(conv.id))
    assert transcriber.paths == []
    [sent] = db.published
    assert isinstance(sent.value, CallTranscribed)
    assert sent.value.event_id == event_id_for(conv.id, "call.transcribed")


async def test_a_claimed_call_without_its_transcript_is_transcribed_on_redelivery(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    """The process that claimed the call died before storing the transcript: the claim
    (pending only) fails, and the handler finds no transcript and does the work."""
    conv = db.add(conversation(ConversationStatus.PROCESSING))
    transcriber = ScriptedTranscriber()
    await handlers(uow, transcriber).on_uploaded(uploaded(conv.id))
    assert len(transcriber.paths) == 1 and db.transcripts[conv.id] == TRANSCRIPT
    assert "started_at" in (conv.timings or {})["transcription"]
    [sent] = db.published
    assert sent.value.event_id == event_id_for(conv.id, "call.transcribed")


async def test_a_permanent_provider_failure_stores_and_emits_nothing(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation())
    with pytest.raises(PermanentError) as raised:
        await handlers(uow, ScriptedTranscriber(PermanentError("undecodable"))).on_uploaded(
            uploaded(conv.id)
        )
    assert is_permanent(raised.value)
    assert conv.id not in db.transcripts and db.published == []
    assert db.status(conv.id) == ConversationStatus.PROCESSING


async def test_a_retryable_failure_leaves_the_call_open_and_the_retry_finishes_it(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation())
    stage = handlers(uow, ScriptedTranscriber(RetryableError("429", retry_after=3)))
    with pytest.raises(RetryableError) as raised:
        await stage.on_uploaded(uploaded(conv.id))
    assert not is_permanent(raised.value) and raised.value.retry_after == 3
    assert conv.id not in db.transcripts and db.published == []

    await stage.on_uploaded(uploaded(conv.id))
    assert db.transcripts[conv.id] == TRANSCRIPT and len(db.published) == 1


async def test_a_publish_failure_after_the_commit_is_retried_without_a_second_transcription(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation())
    transcriber = ScriptedTranscriber()
    db.publish_error = ConnectionError("broker away")
    with pytest.raises(PublishFailed) as raised:
        await handlers(uow, transcriber).on_uploaded(uploaded(conv.id))
    assert not is_permanent(raised.value)
    assert db.transcripts[conv.id] == TRANSCRIPT and db.published == []

    db.publish_error = None
    await handlers(uow, transcriber).on_uploaded(uploaded(conv.id))
    assert len(transcriber.paths) == 1 and len(db.published) == 1


class UnreadingTranscriber(ScriptedTranscriber):
    """Like the ``instant`` engine: its answer does not depend on the recording."""

    reads_audio = False

    def transcribe(self, path: Path, vocabulary: Sequence[str] = ()) -> object:
        self.paths.append(path)
        return TRANSCRIPT


async def test_an_engine_that_does_not_read_the_audio_only_confirms_the_recording(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation())
    confirmed: list[str] = []

    def no_download(key: str, path: Path) -> None:
        raise AssertionError("downloaded")

    stage = TranscriberHandlers(uow, no_download, UnreadingTranscriber(), confirm=confirmed.append)  # type: ignore[arg-type]
    await stage.on_uploaded(uploaded(conv.id))
    assert confirmed == ["recordings/2026/11/02/call.wav"]
    assert db.transcripts[conv.id] == TRANSCRIPT and len(db.published) == 1
    assert (conv.timings or {})["transcription"]["provider"] == "fake"


async def test_a_recording_missing_from_the_store_fails_even_an_engine_that_does_not_read_it(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation())
    transcriber = UnreadingTranscriber()

    def missing(key: str) -> None:
        raise RetryableError(f"NoSuchKey: {key}")

    stage = TranscriberHandlers(uow, download, transcriber, confirm=missing)  # type: ignore[arg-type]
    with pytest.raises(RetryableError):
        await stage.on_uploaded(uploaded(conv.id))
    assert transcriber.paths == [] and conv.id not in db.transcripts and db.published == []
    assert db.status(conv.id) == ConversationStatus.PROCESSING


async def test_an_engine_that_reads_the_audio_downloads_it_even_with_confirm_wired(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation())
    transcriber = ScriptedTranscriber()

    def unexpected(key: str) -> None:
        raise AssertionError("confirmed instead of downloaded")

    stage = TranscriberHandlers(uow, download, transcriber, confirm=unexpected)  # type: ignore[arg-type]
    await stage.on_uploaded(uploaded(conv.id))
    assert len(transcriber.paths) == 1 and db.transcripts[conv.id] == TRANSCRIPT
