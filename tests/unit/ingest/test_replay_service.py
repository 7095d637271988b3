"""Replaying and discarding dead letters against the in-memory unit of work: what each
kind of request gets (the reopen of a failed call and the republished record; 404 for an
unknown entry or one outside the caller's scope; 409 for one already resolved; 413/422 for
an edit its topic would refuse), and that every refusal leaves the entry, the call and
the topic as they were."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest

from callstream_common.contracts import CallTranscribed
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.db.models import Conversation, ConversationStatus, DlqEntry
from callstream_common.reads.scope import Scope
from callstream_ingest.errors import ApiError
from callstream_ingest.ops import service
from tests.unit.fakes import FakeDatabase, FakeDeadLetters, conversation, dead_letter

ADMIN = Scope.everything()
LIMIT = 1_000_000


def transcribed(conversation_id: uuid.UUID) -> dict[str, object]:
    return CallTranscribed(
        conversation_id=conversation_id, language="en", duration_seconds=1.0, segment_count=1
    ).model_dump(mode="json")


def dead(db: FakeDatabase, conv: Conversation | None, status: str = "new") -> DlqEntry:
    """An entry the analyzer dead-lettered from ``calls.transcribed`` after three tries."""
    body = transcribed(conv.id) if conv is not None else {"conversation_id": None}
    entry = dead_letter(
        conv.id if conv is not None else None,
        key=b"k",
        value=json.dumps(body).encode(),
        headers={"x-callstream-attempt": "3", "traceparent": "00-abc-def-01", "custom": "1"},
        error_class="ProviderError",
        error_message="retries exhausted: HTTP 503",
        status=status,
    )
    db.dead_letters[entry.id] = entry
    return entry


def failed_call(db: FakeDatabase, rep_id: str = "rep-sarah") -> Conversation:
    return db.add(
        conversation(
            ConversationStatus.FAILED,
            rep_id=rep_id,
            failure_reason="retries exhausted: HTTP 503",
            failure_stage="analysis",
        )
    )


async def refused(
    uow: Callable[[], UnitOfWork],
    entry_id: uuid.UUID,
    scope: Scope = ADMIN,
    payload: dict[str, object] | None = None,
    limit: int = LIMIT,
) -> tuple[int, str, str]:
    with pytest.raises(ApiError) as refusal:
        await service.replay(uow, entry_id, scope, payload, max_payload_bytes=limit)
    return refusal.value.status, refusal.value.code, refusal.value.message


def untouched(db: FakeDatabase, entry: DlqEntry, conv: Conversation) -> bool:
    """Nothing committed, nothing published: the entry open, the call still failed."""
    return (
        db.commits == 0
        and db.published == []
        and entry.status == "new"
        and conv.status == ConversationStatus.FAILED
        and conv.failure_stage == "analysis"
    )


async def test_a_replay_reopens_the_failed_call_and_republishes_without_retry_headers(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = failed_call(db)
    entry = dead(db, conv)
    replayed = await service.replay(uow, entry.id, ADMIN, max_payload_bytes=LIMIT)
    assert replayed.original_topic == "calls.transcribed"
    assert entry.status == "replayed" and db.commits == 1
    assert conv.status == ConversationStatus.PROCESSING
    assert (conv.failure_reason, conv.failure_stage, conv.completed_at) == (None, None, None)
    [sent] = db.published
    assert (sent.topic, sent.key, sent.value) == ("calls.transcribed", b"k", entry.value)
    assert sent.headers == {"custom": "1"}


async def test_a_replay_with_an_edited_payload_sends_the_edit(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = failed_call(db)
    entry = dead(db, conv)
    edit = transcribed(conv.id) | {"language": "de"}
    await service.replay(uow, entry.id, ADMIN, edit, max_payload_bytes=LIMIT)
    [sent] = db.published
    assert isinstance(sent.value, bytes) and json.loads(sent.value) == edit


async def test_a_replay_never_reopens_a_completed_call_but_still_sends_the_record(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation(ConversationStatus.COMPLETED))
    entry = dead(db, conv)
    await service.replay(uow, entry.id, ADMIN, max_payload_bytes=LIMIT)
    assert conv.status == ConversationStatus.COMPLETED and entry.status == "replayed"
    assert len(db.published) == 1


async def test_an_unknown_entry_is_not_found(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    assert (await refused(uow, uuid.uuid4()))[:2] == (404, "not_found")
    with pytest.raises(ApiError) as discard:
        await service.discard(uow, uuid.uuid4(), ADMIN)
    assert discard.value.status == 404
    assert db.commits == 0 and db.published == []


@pytest.mark.parametrize(
    "scope",
    [
        Scope.of("manager", "rep-west-manager", "team-west"),
        Scope.of("user", "rep-other", None),
    ],
    ids=["manager of another team", "user of another rep"],
)
async def test_an_entry_outside_the_caller_s_scope_is_not_found_and_left_alone(
    db: FakeDatabase, uow: Callable[[], UnitOfWork], scope: Scope
) -> None:
    db.rep_teams |= {"rep-sarah": "team-east", "rep-other": "team-east"}
    conv = failed_call(db)
    entry = dead(db, conv)
    assert (await refused(uow, entry.id, scope))[:2] == (404, "not_found")
    with pytest.raises(ApiError) as discard:
        await service.discard(uow, entry.id, scope)
    assert discard.value.status == 404
    assert untouched(db, entry, conv)


async def test_an_entry_of_no_call_is_inside_the_whole_scope_only(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    entry = dead(db, None)
    manager = Scope.of("manager", "rep-sarah", "team-east")
    assert (await refused(uow, entry.id, manager))[:2] == (404, "not_found")
    await service.replay(uow, entry.id, ADMIN, max_payload_bytes=LIMIT)
    assert entry.status == "replayed" and len(db.published) == 1


async def test_the_caller_s_own_team_entry_is_found(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    db.rep_teams["rep-sarah"] = "team-east"
    entry = dead(db, failed_call(db))
    await service.discard(uow, entry.id, Scope.of("manager", "rep-boss", "team-east"))
    assert entry.status == "discarded"


@pytest.mark.parametrize("status", ["replayed", "discarded"])
async def test_a_resolved_entry_is_neither_replayed_nor_discarded(
    db: FakeDatabase, uow: Callable[[], UnitOfWork], status: str
) -> None:
    conv = failed_call(db)
    entry = dead(db, conv, status)
    assert await refused(uow, entry.id) == (
        409,
        "already_resolved",
        f"the entry was already {status}",
    )
    with pytest.raises(ApiError) as discard:
        await service.discard(uow, entry.id, ADMIN)
    assert (discard.value.status, discard.value.code) == (409, "already_resolved")
    assert db.published == [] and db.commits == 0 and entry.status == status
    assert conv.status == ConversationStatus.FAILED


async def test_an_entry_resolved_between_the_read_and_the_write_commits_nothing(
    db: FakeDatabase, uow: Callable[[], UnitOfWork], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def lost_race(self: FakeDeadLetters, entry_id: uuid.UUID, status: str) -> bool:
        return False

    monkeypatch.setattr(FakeDeadLetters, "resolve", lost_race)
    conv = failed_call(db)
    entry = dead(db, conv)
    status, code, message = await refused(uow, entry.id)
    assert (status, code) == (409, "already_resolved") and "meanwhile" in message
    assert untouched(db, entry, conv)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ("not the topic's contract", (422, "invalid_payload")),
        ("a malformed field", (422, "invalid_payload")),
        ("another conversation", (422, "invalid_payload")),
        ("too large", (413, "too_large")),
    ],
)
async def test_an_edit_the_stage_would_refuse_changes_nothing(
    db: FakeDatabase, uow: Callable[[], UnitOfWork], edit: str, expected: tuple[int, str]
) -> None:
    conv = failed_call(db)
    entry = dead(db, conv)
    payload = {
        "not the topic's contract": {"evil": "x"},
        "a malformed field": transcribed(conv.id) | {"segment_count": "many"},
        "another conversation": transcribed(uuid.uuid4()),
        "too large": transcribed(conv.id),
    }[edit]
    limit = 100 if edit == "too large" else LIMIT
    status, code, message = await refused(uow, entry.id, payload=payload, limit=limit)
    assert (status, code) == expected
    if edit == "another conversation":
        assert "another conversation" in message
    assert untouched(db, entry, conv)


async def test_kafka_refusing_the_replay_undoes_the_resolution_and_the_reopen(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = failed_call(db)
    entry = dead(db, conv)
    db.publish_error = TimeoutError("no leader")
    assert (await refused(uow, entry.id))[:2] == (503, "kafka_unavailable")
    assert entry.status == "new" and db.published == []
    assert conv.status == ConversationStatus.FAILED
    assert (conv.failure_stage, conv.failure_reason) == ("analysis", entry.error_message)


class MessageSizeTooLargeError(Exception):
    """Named like aiokafka's, which is how ingest recognises a record refused for size."""


async def test_a_record_kafka_refuses_for_its_size_is_413_and_undone(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = failed_call(db)
    entry = dead(db, conv)
    db.publish_error = MessageSizeTooLargeError()
    assert (await refused(uow, entry.id))[:2] == (413, "too_large")
    assert entry.status == "new" and conv.status == ConversationStatus.FAILED


async def test_a_discard_resolves_the_entry_and_publishes_nothing(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = failed_call(db)
    entry = dead(db, conv)
    await service.discard(uow, entry.id, ADMIN)
    assert entry.status == "discarded" and db.published == [] and db.commits == 1
    assert conv.status == ConversationStatus.FAILED
