"""The SQL conversation repository against the real PostgreSQL: what the in-memory fake
stands in for (the transcript's diarization round-trips, a re-analysis request adds one
version however often it is delivered)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from callstream_common.contracts import Diarization
from callstream_common.conversations.sql import SqlConversationRepository
from tests.unit.fakes import conversation
from tests.unit.stages.conftest import ANALYSIS, TRANSCRIPT

pytestmark = pytest.mark.stack


async def test_a_transcript_keeps_how_its_speakers_were_told_apart(sessions: Any) -> None:
    conv = conversation()
    transcript = TRANSCRIPT.model_copy(update={"diarization": Diarization.CHANNELS})
    async with sessions() as session, session.begin():
        repo = SqlConversationRepository(session)
        await repo.add(conv)
        await repo.join_opportunity(conv)
        await session.flush()
        assert await repo.add_transcript(conv.id, transcript)
    async with sessions() as session:
        loaded = await SqlConversationRepository(session).transcript(conv.id)
    assert loaded == transcript and loaded.diarization is Diarization.CHANNELS


async def test_a_redelivered_reanalysis_request_adds_no_second_version(sessions: Any) -> None:
    conv = conversation()
    second = ANALYSIS.model_copy(update={"overall_score": 4.0})
    request = uuid.uuid4()
    async with sessions() as session, session.begin():
        repo = SqlConversationRepository(session)
        await repo.join_opportunity(conv)
        await repo.add(conv)
        await session.flush()
        assert await repo.add_analysis(conv.id, ANALYSIS)
    for delivery in range(2):
        async with sessions() as session, session.begin():
            applied = await SqlConversationRepository(session).add_analysis_version(
                conv.id, second, request
            )
        assert applied is (delivery == 0)
    async with sessions() as session:
        current = await SqlConversationRepository(session).analysis(conv.id)
        version = (
            await session.execute(
                text("SELECT version FROM meddic_analyses WHERE conversation_id = :id"),
                {"id": conv.id},
            )
        ).scalar_one()
        past = (
            await session.execute(
                text("SELECT version FROM analysis_versions WHERE conversation_id = :id"),
                {"id": conv.id},
            )
        ).scalars()
        assert current == second and version == 2 and list(past) == [1]


async def test_a_log_notification_is_recorded_sent_once(sessions: Any) -> None:
    """The notifier's one-statement record of its log line: a redelivery records nothing."""
    from callstream_notifier.deliveries import SqlDeliveryLog

    conv = conversation()
    async with sessions() as session, session.begin():
        repo = SqlConversationRepository(session)
        await repo.add(conv)
        await repo.join_opportunity(conv)
    deliveries = SqlDeliveryLog(sessions)
    first = await deliveries.record_sent(conv.id, "log", "log", {"text": "x"}, {"logged": True})
    again = await deliveries.record_sent(conv.id, "log", "log", {"text": "x"}, {"logged": True})
    async with sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT status, attempts, sent_at IS NOT NULL AS sent FROM notifications "
                    "WHERE conversation_id = :c"
                ),
                {"c": conv.id},
            )
        ).all()
    assert (first, again) == (True, False)
    assert [tuple(r) for r in rows] == [("sent", 1, True)]
