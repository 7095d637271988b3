"""The SQL conversation repository against the real PostgreSQL: what the in-memory fake
stands in for (the transcript's diarization round-trips, a re-analysis request adds one
version however often it is delivered)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from callstream_common.contracts import Diarization, MeddicAnalysis
from callstream_common.conversations.sql import SqlConversationRepository
from callstream_common.db.models import Conversation
from callstream_common.reads import conversations as reads
from callstream_common.reads.scope import Scope
from tests.unit.fakes import conversation
from tests.unit.stages.conftest import ANALYSIS, TRANSCRIPT

pytestmark = pytest.mark.stack


async def saved_call(sessions: Any, analysis: MeddicAnalysis | None = None) -> Conversation:
    """A pending call stored with its deal, with ``analysis`` as its first version."""
    conv = conversation()
    async with sessions() as session, session.begin():
        repo = SqlConversationRepository(session)
        await repo.join_opportunity(conv)
        await repo.add(conv)
        await session.flush()
        if analysis is not None:
            assert await repo.add_analysis(conv.id, analysis)
    return conv


async def test_a_transcript_keeps_how_its_speakers_were_told_apart(sessions: Any) -> None:
    conv = await saved_call(sessions)
    transcript = TRANSCRIPT.model_copy(update={"diarization": Diarization.CHANNELS})
    async with sessions() as session, session.begin():
        assert await SqlConversationRepository(session).add_transcript(conv.id, transcript)
    async with sessions() as session:
        loaded = await SqlConversationRepository(session).transcript(conv.id)
    assert loaded == transcript and loaded.diarization is Diarization.CHANNELS


async def test_a_redelivered_reanalysis_request_adds_no_second_version(sessions: Any) -> None:
    conv = await saved_call(sessions, ANALYSIS)
    second = ANALYSIS.model_copy(update={"overall_score": 4.0})
    request = uuid.uuid4()
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


async def test_a_call_read_while_it_is_reanalysed_shows_one_state_of_it(
    sessions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call's detail is several statements. A re-analysis committed between the one
    reading the current analysis and the one listing the earlier versions must not show
    the version it archived beside the analysis it replaced (read committed did: version
    1 listed twice, as earlier and as current)."""
    conv = await saved_call(sessions, ANALYSIS)
    reanalysed = False
    read_statement = reads.mapped

    async def reanalysed_after_the_current_analysis(session: Any, sql: str, params: Any) -> Any:
        nonlocal reanalysed
        rows = await read_statement(session, sql, params)
        if "FROM meddic_analyses" in sql and not reanalysed:
            reanalysed = True
            async with sessions() as other, other.begin():
                second = ANALYSIS.model_copy(update={"overall_score": 4.0})
                repo = SqlConversationRepository(other)
                assert await repo.add_analysis_version(conv.id, second, uuid.uuid4())
        return rows

    monkeypatch.setattr(reads, "mapped", reanalysed_after_the_current_analysis)
    admin = Scope.of("admin", None, None)
    async with sessions() as session:
        during = await reads.conversation_detail(session, admin, conv.id)
    monkeypatch.undo()
    async with sessions() as session:
        after = await reads.conversation_detail(session, admin, conv.id)
    assert reanalysed and during is not None and after is not None
    assert [(v.version, v.current) for v in during.analysis_versions] == [(1, True)]
    assert during.analysis is not None and during.analysis["version"] == 1
    assert [(v.version, v.current) for v in after.analysis_versions] == [(1, False), (2, True)]
    assert after.analysis is not None and after.analysis["overall_score"] == 4.0


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


async def test_a_log_notification_is_recorded_sent_once(sessions: Any) -> None:
    """The notifier's one-statement record of its log line: a redelivery records nothing."""
    from callstream_notifier.deliveries import SqlDeliveryLog

    conv = await saved_call(sessions)
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


async def test_a_stage_s_joined_read_and_its_claim_answer_as_the_fake_does(sessions: Any) -> None:
    """``load_with_transcript`` and ``load_with_analysis`` (one statement each) give what
    the fake's two reads give: the call and nothing before its row is stored, the call and
    the row after, nothing for a finished call, ``ConversationMissing`` for a missing one.
    A claim (``only_from=UNCLAIMED``) moves a pending call once: a second claim is
    refused while the forward move it narrows is still allowed."""
    from callstream_common.conversations.status import UNCLAIMED, ConversationMissing
    from callstream_common.db.models import ConversationStatus
    from tests.unit.fakes import FakeConversations, FakeDatabase

    conv = await saved_call(sessions)
    fake_db = FakeDatabase()
    fake_db.add(conversation(id=conv.id))
    fake = FakeConversations(fake_db)

    async def both(read: str) -> list[Any]:
        async with sessions() as session:
            sql = await getattr(SqlConversationRepository(session), read)(conv.id)
        faked = await getattr(fake, read)(conv.id)
        return [None if r is None else (r[0].id, r[1]) for r in (sql, faked)]

    assert await both("load_with_transcript") == [(conv.id, None)] * 2
    assert await both("load_with_analysis") == [(conv.id, None)] * 2
    async with sessions() as session, session.begin():
        repo = SqlConversationRepository(session)
        assert await repo.move(conv.id, ConversationStatus.PROCESSING, only_from=UNCLAIMED)
        assert not await repo.move(conv.id, ConversationStatus.PROCESSING, only_from=UNCLAIMED)
        assert await repo.move(conv.id, ConversationStatus.PROCESSING)
        assert await repo.add_transcript(conv.id, TRANSCRIPT)
        assert await repo.add_analysis(conv.id, ANALYSIS)
    fake_db.transcripts[conv.id], fake_db.analyses[conv.id] = TRANSCRIPT, ANALYSIS
    assert await both("load_with_transcript") == [(conv.id, TRANSCRIPT)] * 2
    assert await both("load_with_analysis") == [(conv.id, ANALYSIS)] * 2

    async with sessions() as session, session.begin():
        assert await SqlConversationRepository(session).move(conv.id, ConversationStatus.COMPLETED)
    fake_db.conversations[conv.id].status = ConversationStatus.COMPLETED
    assert await both("load_with_transcript") == [None, None]
    assert await both("load_with_analysis") == [None, None]
    async with sessions() as session:
        with pytest.raises(ConversationMissing):
            await SqlConversationRepository(session).load_with_analysis(uuid.uuid4())


async def test_a_stage_timing_is_written_with_its_change_and_only_with_it(sessions: Any) -> None:
    """``timing=`` rides on the move or the insert it goes with (no statement of its own):
    written when the change is made, left alone when it is refused, earlier entries kept."""
    from datetime import UTC, datetime, timedelta

    from callstream_common.conversations.status import StageTiming
    from callstream_common.db.models import ConversationStatus

    conv = await saved_call(sessions)
    began = datetime.now(UTC)
    ended = began + timedelta(seconds=1.5)
    async with sessions() as session, session.begin():
        repo = SqlConversationRepository(session)
        assert await repo.move(
            conv.id,
            ConversationStatus.PROCESSING,
            timing=StageTiming("transcription", began),
        )
    async with sessions() as session, session.begin():
        repo = SqlConversationRepository(session)
        timing = StageTiming("transcription", began, ended, {"provider": "fake"})
        assert await repo.add_transcript(conv.id, TRANSCRIPT, timing=timing)
        late = StageTiming("transcription", ended, ended)
        assert not await repo.add_transcript(conv.id, TRANSCRIPT, timing=late)
    async with sessions() as session, session.begin():
        repo = SqlConversationRepository(session)
        assert await repo.move(
            conv.id,
            ConversationStatus.COMPLETED,
            timing=StageTiming("notification", ended, ended),
        )
        refused = StageTiming("notification", began, began)
        assert not await repo.move(conv.id, ConversationStatus.COMPLETED, timing=refused)
    async with sessions() as session:
        stored = await session.get(Conversation, conv.id)
    assert stored is not None and stored.timings is not None
    assert set(stored.timings) == {"transcription", "notification"}
    transcription = stored.timings["transcription"]
    assert transcription["provider"] == "fake" and transcription["seconds"] == 1.5
    assert transcription["started_at"] == began.isoformat()
    assert stored.timings["notification"]["started_at"] == ended.isoformat()
    assert stored.duration_seconds == TRANSCRIPT.duration_seconds


@pytest.mark.parametrize("own_transaction", [False, True], ids=["in_a_transaction", "autocommit"])
async def test_a_new_call_is_one_statement_joining_its_deal_with_its_outbox_event(
    sessions: Any, own_transaction: bool
) -> None:
    """``SqlUnitOfWork.add_call`` (opportunity upsert, row and outbox row in one statement)
    leaves what the fake's default (join, add, emit) leaves: the second call of a deal
    joins the first's opportunity, each row has its event, a reused ``Idempotency-Key``
    is a Conflict that writes nothing, and an explicit opportunity is kept. The same with
    ``add_call_and_commit`` (the statement as its own transaction, as uploads register).
    (The outbox rows are taken out at the end: no relay publishes events for these fake
    calls.)"""
    from callstream_common import topics
    from callstream_common.contracts import CallUploaded, ConversationMetadata
    from callstream_common.conversations.sql import SqlUnitOfWork
    from callstream_common.conversations.unit_of_work import Conflict

    published: list[Any] = []

    class Background:
        def publish(self, event: Any) -> None:
            published.append(event)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, None, 1.0, durable_in_background=Background())  # type: ignore[arg-type]

    def event(conv: Any) -> CallUploaded:
        return CallUploaded(
            conversation_id=conv.id,
            object_key=conv.object_key,
            content_type=conv.content_type,
            size_bytes=conv.size_bytes,
            sha256=conv.sha256,
            metadata=ConversationMetadata(opportunity_name=conv.opportunity_name, rep_id="r"),
            priority=7,
        )

    async def register(conv: Any) -> None:
        async with uow() as unit:
            if own_transaction:
                await unit.add_call_and_commit(conv, event(conv))
            else:
                await unit.add_call(conv, event(conv))
                await unit.commit()

    rep, key = f"rep-{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4()}"
    first, second = conversation(rep_id=rep, idempotency_key=key), conversation(rep_id=rep)
    for conv in (first, second):
        await register(conv)
    again = conversation(rep_id=rep, idempotency_key=key)
    with pytest.raises(Conflict):
        await register(again)
    named = conversation(rep_id=rep, opportunity_name="", opportunity_id=first.opportunity_id)
    await register(named)

    ids = [first.id, second.id, again.id, named.id]
    async with sessions() as session:
        rows = (
            await session.execute(
                text("SELECT id, opportunity_id FROM conversations WHERE id = ANY(:ids)"),
                {"ids": ids},
            )
        ).all()
    async with sessions() as session, session.begin():
        events = (
            await session.execute(
                text(
                    "DELETE FROM event_outbox WHERE payload->>'conversation_id' = ANY(:ids) "
                    "RETURNING topic, headers, payload->>'conversation_id' AS conv"
                ),
                {"ids": [str(i) for i in ids]},
            )
        ).all()
    assert first.opportunity_id is not None
    assert {r.id: r.opportunity_id for r in rows} == {
        first.id: first.opportunity_id,
        second.id: first.opportunity_id,
        named.id: first.opportunity_id,
    }
    assert sorted(e.conv for e in events) == sorted(str(i) for i in (first.id, second.id, named.id))
    assert {(e.topic, e.headers["x-callstream-priority"]) for e in events} == {
        (topics.lane_for(topics.CALLS_UPLOADED, 7), "7")
    }
    assert [e.payload["conversation_id"] for e in published] == [
        str(first.id),
        str(second.id),
        str(named.id),
    ]


async def test_statements_alone_are_each_committed_and_the_pool_gives_transactions_back(
    sessions: Any,
) -> None:
    """A unit of work whose statements stand alone (the stages' claims and stores) commits
    each one as it runs: another session sees the move before the unit of work commits,
    and leaving without a commit undoes nothing. Its pooled connection comes back in
    transactions: a later unit of work's uncommitted move is rolled back. A unit of work
    that has emitted an event keeps its transaction, and one whose statements are alone
    refuses a durable event (its outbox row would not commit with the rows)."""
    from callstream_common.conversations.sql import SqlUnitOfWork
    from callstream_common.db.models import ConversationStatus

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, None, 1.0)  # type: ignore[arg-type]

    async def status(conv: Conversation) -> str:
        async with sessions() as session:
            found = await session.execute(
                text("SELECT status FROM conversations WHERE id = :id"), {"id": conv.id}
            )
            return str(found.scalar_one())

    alone, later = await saved_call(sessions), await saved_call(sessions)
    async with uow() as unit:
        assert await unit.statements_alone()
        assert await unit.conversations.move(alone.id, ConversationStatus.PROCESSING)
        assert await status(alone) == ConversationStatus.PROCESSING
    assert await status(alone) == ConversationStatus.PROCESSING

    for _ in range(16):  # more than the pool holds: the one that ran alone is among them
        async with uow() as unit:
            assert await unit.conversations.move(later.id, ConversationStatus.PROCESSING)
            assert await status(later) == ConversationStatus.PENDING
        assert await status(later) == ConversationStatus.PENDING

    async with uow() as unit:
        unit.emit("some.topic", b"{}")
        assert not await unit.statements_alone()
    async with uow() as unit:
        assert await unit.statements_alone()
        with pytest.raises(RuntimeError, match="durable event needs a transaction"):
            unit.emit("some.topic", b"{}", durable=True)
