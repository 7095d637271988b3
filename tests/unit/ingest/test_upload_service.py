"""The upload use case against the in-memory unit of work: row and event together,
the event through the outbox, and ``Idempotency-Key`` races."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from callstream_common import topics
from callstream_common.contracts import CallUploaded
from callstream_common.conversations.unit_of_work import Conflict, UnitOfWork
from callstream_common.db.models import ConversationStatus
from callstream_ingest.upload.idempotency import differences
from callstream_ingest.upload.metadata import UploadMetadata
from callstream_ingest.upload.service import Recording, new_call, previous_upload, register_call
from tests.unit.fakes import FakeDatabase, conversation

RECORDING = Recording("recordings/2026/11/29/x.wav", "audio/wav", 2048, "a" * 64, "call.wav")


def call(key: str | None = None, priority: int = 5) -> tuple[object, CallUploaded]:
    meta = UploadMetadata(opportunity_name="Acme renewal", rep_id="rep-sarah", priority=priority)
    return new_call(
        uuid.uuid4(),
        meta,
        RECORDING,
        idempotency_key=key,
        created_by=None,
        trace_id="f" * 32,
        started=datetime.now(UTC),
    )


async def test_an_upload_saves_a_pending_call_and_its_event_through_the_outbox(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv, event = call(priority=9)
    saved, replayed = await register_call(uow, conv, event)  # type: ignore[arg-type]
    assert not replayed and saved is conv
    assert db.status(event.conversation_id) == ConversationStatus.PENDING
    [sent] = db.published
    assert sent.durable and sent.topic == topics.lane_for(topics.CALLS_UPLOADED, 9)
    assert sent.headers == {"x-callstream-priority": "9"}
    assert sent.value == event and event.size_bytes == 2048
    assert "upload" in (saved.timings or {})


async def test_kafka_away_still_accepts_the_call_and_leaves_the_event_to_the_relay(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    db.publish_error = ConnectionError("broker away")
    conv, event = call()
    await register_call(uow, conv, event)  # type: ignore[arg-type]
    assert event.conversation_id in db.conversations
    assert db.published == [] and [e.value for e in db.outbox] == [event]


async def test_an_earlier_upload_with_the_same_key_is_found(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    earlier = db.add(conversation(idempotency_key="k-1"))
    assert await previous_upload(uow, "k-1") is earlier
    assert await previous_upload(uow, "k-2") is None


async def test_a_lost_idempotency_race_answers_with_the_winner(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    winner = db.add(conversation(idempotency_key="k-1"))
    db.commit_error = Conflict("duplicate key idempotency_key")
    conv, event = call(key="k-1")
    saved, replayed = await register_call(uow, conv, event)  # type: ignore[arg-type]
    assert replayed and saved is winner and db.published == []


async def test_a_conflict_without_an_earlier_upload_is_raised(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    db.commit_error = Conflict("duplicate key id")
    conv, event = call()
    with pytest.raises(Conflict):
        await register_call(uow, conv, event)  # type: ignore[arg-type]
    assert db.conversations == {}


def test_participants_are_kept_on_the_call_and_travel_in_its_event() -> None:
    meta = UploadMetadata(
        opportunity_name="Acme renewal", rep_id="rep-sarah", participants=["Ann Lee", "Bo"]
    )
    conv, event = new_call(
        uuid.uuid4(),
        meta,
        RECORDING,
        idempotency_key=None,
        created_by=None,
        trace_id=None,
        started=datetime.now(UTC),
    )
    assert conv.participants == ["Ann Lee", "Bo"]
    assert event.metadata.participants == ["Ann Lee", "Bo"]
    other = meta.model_copy(update={"participants": ["Ann Lee"]})
    assert differences(conv, other, conv.sha256) == ["participants"]
    assert differences(conv, meta, conv.sha256) == []
