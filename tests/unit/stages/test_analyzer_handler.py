"""The analyzer's handler against the in-memory unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from callstream_analyzer.handlers import AnalyzerHandlers
from callstream_common import topics
from callstream_common.contracts import CallAnalyzed, CallTranscribed, MeddicAnalysis, Transcript
from callstream_common.conversations.status import ConversationMissing
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.db.models import ConversationStatus
from callstream_common.retry import PermanentError, RetryableError, is_permanent
from callstream_common.runtime import event_id_for, fail_conversation_on_dead_letter
from callstream_common.stage import DeadLetter
from tests.unit.fakes import FakeDatabase, conversation
from tests.unit.stages.conftest import ANALYSIS, TRANSCRIPT


class ScriptedAnalyzer:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.seen: list[Transcript] = []

    def analyze(self, transcript: Transcript) -> MeddicAnalysis:
        self.seen.append(transcript)
        if self.errors:
            raise self.errors.pop(0)
        return ANALYSIS


def transcribed(conversation_id: uuid.UUID) -> CallTranscribed:
    return CallTranscribed(
        conversation_id=conversation_id, language="en", duration_seconds=42.5, segment_count=2
    )


def processing(db: FakeDatabase) -> uuid.UUID:
    conv = db.add(conversation(ConversationStatus.PROCESSING))
    db.transcripts[conv.id] = TRANSCRIPT
    return conv.id


async def test_a_transcript_is_analysed_saved_with_its_summary_and_announced(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv_id = processing(db)
    analyzer = ScriptedAnalyzer()
    await AnalyzerHandlers(uow, analyzer).on_transcribed(transcribed(conv_id))

    assert analyzer.seen == [TRANSCRIPT]
    assert db.analyses[conv_id] == ANALYSIS
    assert db.conversations[conv_id].analysis_summary == ANALYSIS.summary()
    assert "analysis" in (db.conversations[conv_id].timings or {})
    [sent] = db.published
    assert sent.topic == topics.CALLS_ANALYZED
    assert isinstance(sent.value, CallAnalyzed)
    assert sent.value.event_id == event_id_for(conv_id, "call.analyzed")
    assert sent.value.overall_score == 3.0
    finished = (db.conversations[conv_id].timings or {})["analysis"]["finished_at"]
    assert sent.value.occurred_at.isoformat() == finished, "stamped before it was stored"


async def test_a_missing_conversation_is_a_permanent_failure(
    uow: Callable[[], UnitOfWork],
) -> None:
    with pytest.raises(ConversationMissing):
        await AnalyzerHandlers(uow, ScriptedAnalyzer()).on_transcribed(transcribed(uuid.uuid4()))


async def test_a_conversation_without_transcript_is_a_permanent_failure(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation(ConversationStatus.PROCESSING))
    with pytest.raises(PermanentError, match="has no transcript"):
        await AnalyzerHandlers(uow, ScriptedAnalyzer()).on_transcribed(transcribed(conv.id))
    assert db.published == []


@pytest.mark.parametrize("status", [ConversationStatus.COMPLETED, ConversationStatus.FAILED])
async def test_a_finished_call_is_skipped(
    db: FakeDatabase, uow: Callable[[], UnitOfWork], status: ConversationStatus
) -> None:
    conv = db.add(conversation(status))
    analyzer = ScriptedAnalyzer()
    await AnalyzerHandlers(uow, analyzer).on_transcribed(transcribed(conv.id))
    assert analyzer.seen == [] and db.published == []


async def test_a_redelivery_re_emits_without_analysing_again(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv_id = processing(db)
    db.analyses[conv_id] = ANALYSIS  # stored as add_analysis stores it: with its summary
    db.conversations[conv_id].analysis_summary = ANALYSIS.summary()
    analyzer = ScriptedAnalyzer()
    await AnalyzerHandlers(uow, analyzer).on_transcribed(transcribed(conv_id))
    assert analyzer.seen == [] and len(db.published) == 1
    assert db.conversations[conv_id].timings is None


async def test_a_retryable_provider_failure_saves_nothing_and_the_retry_succeeds(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv_id = processing(db)
    stage = AnalyzerHandlers(uow, ScriptedAnalyzer(RetryableError("HTTP 503")))
    with pytest.raises(RetryableError):
        await stage.on_transcribed(transcribed(conv_id))
    assert conv_id not in db.analyses and db.published == []
    await stage.on_transcribed(transcribed(conv_id))
    assert db.analyses[conv_id] == ANALYSIS and len(db.published) == 1


async def test_a_permanent_failure_ends_failed_through_the_dead_letter_reaction(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv_id = processing(db)
    event = transcribed(conv_id)
    with pytest.raises(PermanentError) as raised:
        await AnalyzerHandlers(uow, ScriptedAnalyzer(PermanentError("bad reply"))).on_transcribed(
            event
        )
    assert is_permanent(raised.value)
    react = fail_conversation_on_dead_letter(uow, "analysis")
    await react(DeadLetter(event, "permanent", "PermanentError", "bad reply"))
    conv = db.conversations[conv_id]
    assert conv.status == ConversationStatus.FAILED
    assert (conv.failure_stage, conv.failure_reason) == (
        "analysis",
        "permanent: PermanentError: bad reply",
    )
    assert conv.completed_at is not None
