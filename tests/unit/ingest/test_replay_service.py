"""Replaying and discarding dead letters against the in-memory unit of work: the reopen
of a failed call, the undo when Kafka refuses, and entries already resolved."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest

from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.db.models import ConversationStatus, DlqEntry
from callstream_ingest.ops import service
from tests.unit.fakes import FakeDatabase, conversation


def dead(db: FakeDatabase, conversation_id: uuid.UUID | None, status: str = "new") -> DlqEntry:
    entry = DlqEntry(
        dlq_partition=0,
        dlq_offset=len(db.dead_letters),
        original_topic="calls.transcribed",
        key=b"k",
        value=b'{"conversation_id": "x"}',
        headers={"x-callstream-attempt": "3", "traceparent": "00-abc-def-01", "custom": "1"},
        service="analyzer",
        consumer_group="analyzer",
        error_class="ProviderError",
        error_message="retries exhausted: HTTP 503",
        conversation_id=conversation_id,
        status=status,
    )
    db.dead_letters[entry.id] = entry
    return entry


async def test_a_replay_reopens_the_failed_call_and_republishes_without_retry_headers(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation(ConversationStatus.FAILED, failure_reason="boom"))
    entry = dead(db, conv.id)
    await service.replay(uow, entry.id)
    assert entry.status == "replayed"
    assert conv.status == ConversationStatus.PROCESSING and conv.failure_reason is None
    [sent] = db.published
    assert (sent.topic, sent.key, sent.value) == ("calls.transcribed", b"k", entry.value)
    assert sent.headers == {"custom": "1"}


async def test_a_replay_with_an_edited_payload_sends_it(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    entry = dead(db, None)
    await service.replay(uow, entry.id, {"fixed": True})
    assert json.loads(db.published[0].value) == {"fixed": True}  # type: ignore[arg-type]


async def test_a_replay_never_reopens_a_completed_call(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation(ConversationStatus.COMPLETED))
    entry = dead(db, conv.id)
    await service.replay(uow, entry.id)
    assert conv.status == ConversationStatus.COMPLETED and len(db.published) == 1


async def test_kafka_refusing_the_replay_undoes_the_resolution_and_the_reopen(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation(ConversationStatus.FAILED, failure_reason="boom"))
    entry = dead(db, conv.id)
    db.publish_error = TimeoutError()
    with pytest.raises(service.ReplayNotPublished):
        await service.replay(uow, entry.id)
    assert entry.status == "new"
    assert conv.status == ConversationStatus.FAILED
    assert conv.failure_reason == entry.error_message and conv.failure_stage == "analyzer"


async def test_an_unknown_entry_is_not_found(uow: Callable[[], UnitOfWork]) -> None:
    with pytest.raises(service.EntryNotFound):
        await service.replay(uow, uuid.uuid4())
    with pytest.raises(service.EntryNotFound):
        await service.discard(uow, uuid.uuid4())


@pytest.mark.parametrize("status", ["replayed", "discarded"])
async def test_a_resolved_entry_is_neither_replayed_nor_discarded(
    db: FakeDatabase, uow: Callable[[], UnitOfWork], status: str
) -> None:
    entry = dead(db, None, status)
    with pytest.raises(service.AlreadyResolved):
        await service.replay(uow, entry.id)
    with pytest.raises(service.AlreadyResolved):
        await service.discard(uow, entry.id)
    assert db.published == [] and entry.status == status


async def test_a_discard_resolves_the_entry_and_publishes_nothing(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    entry = dead(db, None)
    await service.discard(uow, entry.id)
    assert entry.status == "discarded" and db.published == []
