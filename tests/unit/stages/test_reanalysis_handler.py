"""The analyzer's re-analysis handler against the in-memory unit of work: every request
adds one version, a redelivered request adds none."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from callstream_analyzer.reanalysis import ReanalysisHandler
from callstream_common.contracts import MeddicAnalysis, ReanalysisRequested, Transcript
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.db.models import ConversationStatus
from callstream_common.retry import PermanentError
from tests.unit.fakes import FakeDatabase, conversation
from tests.unit.stages.conftest import ANALYSIS, TRANSCRIPT

SECOND = ANALYSIS.model_copy(update={"overall_score": 4.0})


class FixedAnalyzer:
    def analyze(self, transcript: Transcript) -> MeddicAnalysis:
        return SECOND


def analysed(db: FakeDatabase) -> uuid.UUID:
    conv = db.add(conversation(ConversationStatus.COMPLETED))
    db.transcripts[conv.id] = TRANSCRIPT
    db.analyses[conv.id] = ANALYSIS
    return conv.id


async def test_a_request_makes_a_new_current_analysis_and_keeps_the_old_one(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv_id = analysed(db)
    await ReanalysisHandler(uow, FixedAnalyzer()).on_requested(
        ReanalysisRequested(conversation_id=conv_id, requested_by="manager")
    )
    assert db.analyses[conv_id] == SECOND
    assert db.past_analyses[conv_id] == [ANALYSIS]
    assert db.conversations[conv_id].analysis_summary == SECOND.summary()


async def test_a_redelivered_request_adds_no_second_version(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv_id = analysed(db)
    request = ReanalysisRequested(conversation_id=conv_id, requested_by="manager")
    handler = ReanalysisHandler(uow, FixedAnalyzer())
    await handler.on_requested(request)
    await handler.on_requested(request)
    assert db.past_analyses[conv_id] == [ANALYSIS]
    await handler.on_requested(ReanalysisRequested(conversation_id=conv_id, requested_by="manager"))
    assert db.past_analyses[conv_id] == [ANALYSIS, SECOND]


async def test_a_call_without_transcript_is_a_permanent_error(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation(ConversationStatus.COMPLETED))
    with pytest.raises(PermanentError, match="no transcript"):
        await ReanalysisHandler(uow, FixedAnalyzer()).on_requested(
            ReanalysisRequested(conversation_id=conv.id, requested_by="manager")
        )
