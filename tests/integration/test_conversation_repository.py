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


async def test_a_dead_letter_is_found_only_inside_the_caller_s_scope_as_the_fake_finds_it(
    sessions: Any,
) -> None:
    """The SQL scope rule of ``DeadLetterRepository.get`` and the fake's, on the same rows:
    a replay or discard outside the caller's scope is answered like an unknown entry."""
    from callstream_common.conversations.sql import SqlDeadLetterRepository
    from callstream_common.db.models import ConversationStatus, Rep, Team
    from callstream_common.reads.scope import Scope
    from tests.unit.fakes import FakeDatabase, FakeDeadLetters, dead_letter

    team, rep, stranger = (f"{kind}-{uuid.uuid4().hex[:8]}" for kind in ("team", "rep", "rep"))
    conv = conversation(ConversationStatus.FAILED, rep_id=rep)

    of_call, of_no_call = dead_letter(conv.id), dead_letter(None)
    async with sessions() as session, session.begin():
        session.add(Team(id=team, name=team))
        await session.flush()
        session.add_all([Rep(id=rep, name=rep, team_id=team), Rep(id=stranger, name=stranger)])
        await session.flush()
        session.add(conv)
        await session.flush()
        session.add_all([of_call, of_no_call])
    fake = FakeDatabase(rep_teams={rep: team})
    fake.add(conv)
    fake.dead_letters |= {of_call.id: of_call, of_no_call.id: of_no_call}

    cases = [
        (Scope.everything(), True, True),
        (Scope.of("manager", None, team), True, False),
        (Scope.of("manager", rep, "team-elsewhere"), True, False),
        (Scope.of("manager", None, "team-elsewhere"), False, False),
        (Scope.of("user", rep, None), True, False),
        (Scope.of("user", stranger, None), False, False),
    ]
    async with sessions() as session:
        for repository in (SqlDeadLetterRepository(session), FakeDeadLetters(fake, [])):
            for scope, sees_call, sees_no_call in cases:
                found = (
                    await repository.get(of_call.id, scope),
                    await repository.get(of_no_call.id, scope),
                )
                assert [f is not None for f in found] == [sees_call, sees_no_call], (
                    type(repository).__name__,
                    scope,
                )
