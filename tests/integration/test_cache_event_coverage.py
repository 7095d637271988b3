"""The read cache's two feeds agree on the real PostgreSQL: the change notification of the
statement that stores a transcript or an analysis names every facet its pipeline event
names, and is stamped at or after the event's ``occurred_at``, so ingest counts the event
as covered (no scope lookup, no second bump). A re-emitted event (a redelivery, stamped
when it is sent again) is not covered and invalidates once more: an extra miss, never a
stale read."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from callstream_analyzer.handlers import analyzed
from callstream_common import topics
from callstream_common.contracts import CallTranscribed
from callstream_common.conversations.sql import SqlConversationRepository
from callstream_common.conversations.status import UNCLAIMED, StageTiming
from callstream_common.db.models import ConversationStatus
from callstream_ingest.cache.invalidation import (
    CHANNEL,
    EVENT_FACETS,
    RecentCommits,
    asyncpg_dsn,
    event_conversation,
    notification_scopes,
)
from callstream_ingest.cache.policy import Facet
from callstream_transcriber.long_calls import transcribed
from tests.unit.fakes import conversation
from tests.unit.stages.conftest import ANALYSIS, TRANSCRIPT

pytestmark = pytest.mark.stack


async def test_a_stored_transcript_or_analysis_event_is_covered_by_its_notification(
    sessions: Any, endpoints: Any
) -> None:
    listener = await asyncpg.connect(asyncpg_dsn(endpoints.database_url.get_secret_value()))
    commits = RecentCommits()
    seen: list[frozenset[Facet]] = []

    def on_notify(_c: object, _pid: int, _channel: str, payload: str) -> None:
        found = notification_scopes(payload)
        if found is not None and found.conversation_id == str(conv.id):
            commits.saw(found.conversation_id, found.facets, found.at)
            seen.append(found.facets)

    conv = conversation()
    await listener.add_listener(CHANNEL, on_notify)
    try:
        async with sessions() as session, session.begin():
            repo = SqlConversationRepository(session)
            await repo.join_opportunity(conv)
            await repo.add(conv)
        async with sessions() as session, session.begin():
            started = datetime.now(UTC)
            repo = SqlConversationRepository(session)
            assert await repo.move(conv.id, ConversationStatus.PROCESSING, only_from=UNCLAIMED)
        transcript_done = datetime.now(UTC)
        async with sessions() as session, session.begin():
            timing = StageTiming("transcription", started, transcript_done)
            assert await SqlConversationRepository(session).add_transcript(
                conv.id, TRANSCRIPT, timing=timing
            )
        analysis_done = datetime.now(UTC)
        async with sessions() as session, session.begin():
            timing = StageTiming("analysis", transcript_done, analysis_done)
            assert await SqlConversationRepository(session).add_analysis(
                conv.id, ANALYSIS, timing=timing
            )
        deadline = time.monotonic() + 5
        while sum(Facet.RESULTS in f for f in seen) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        await listener.close()

    on_transcribed = transcribed(conv.id, 5, TRANSCRIPT, transcript_done)
    on_analyzed = analyzed(
        CallTranscribed.model_validate(on_transcribed.model_dump()), ANALYSIS, analysis_done
    )
    events = [
        (topics.CALLS_TRANSCRIBED, on_transcribed, transcript_done),
        (topics.CALLS_ANALYZED, on_analyzed, analysis_done),
    ]
    for topic, event, done in events:
        assert event.occurred_at == done
        found = event_conversation(event.model_dump_json().encode())
        assert found is not None
        assert commits.covers(str(conv.id), EVENT_FACETS[topic], found[1]), topic
        resent = event.model_copy(update={"occurred_at": datetime.now(UTC)})
        again = event_conversation(resent.model_dump_json().encode())
        assert again is not None
        assert not commits.covers(str(conv.id), EVENT_FACETS[topic], again[1]), "re-emitted"


async def test_an_event_no_commit_notification_announced_invalidates_its_call(
    services: Any, endpoints: Any, tokens: dict[str, str], sessions: Any
) -> None:
    """The event feed on its own: a transcript event for a call whose change no commit
    notification announced (published straight to the topic) makes ingest look up the
    call's scopes and bump them, counted as an ``event`` invalidation within seconds
    (ingest's consumer group takes events in batches, at most 100 ms apart). Published
    until counted: the group reads from the latest offset once it has joined."""
    import httpx
    from aiokafka import AIOKafkaProducer

    conv = conversation()
    async with sessions() as session, session.begin():
        repo = SqlConversationRepository(session)
        await repo.join_opportunity(conv)
        await repo.add(conv)

    async def event_invalidations() -> int:
        async with httpx.AsyncClient(base_url=services.base_url, timeout=10) as client:
            r = await client.get(
                "/v1/ops/cache", headers={"Authorization": f"Bearer {tokens['admin']}"}
            )
        assert r.status_code == 200, r.text
        return int(r.json()["invalidations"].get("event", 0))

    before = await event_invalidations()
    producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap)
    await producer.start()
    try:
        deadline = time.monotonic() + 30
        counted = before
        while counted == before and time.monotonic() < deadline:
            event = transcribed(conv.id, 5, TRANSCRIPT)
            await producer.send_and_wait(
                topics.CALLS_TRANSCRIBED, event.model_dump_json().encode(), key=conv.id.bytes
            )
            await asyncio.sleep(0.5)
            counted = await event_invalidations()
    finally:
        await producer.stop()
    assert counted > before, "no event invalidation counted within 30 s"
