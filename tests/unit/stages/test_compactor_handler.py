"""The compactor's handlers against the in-memory unit of work and archive store."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from callstream_common import topics
from callstream_common.contracts import (
    CallAnalyzed,
    CompactionRequested,
    CompactionTrigger,
    QualificationStatus,
)
from callstream_common.conversations.status import ConversationMissing
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.db.models import ConversationStatus
from callstream_common.retry import RetryableError
from callstream_compactor.archive import FlushResult, WrittenFile
from callstream_compactor.handlers import CompactorHandlers
from callstream_compactor.planning import FileInfo
from callstream_compactor.scheduler import DatasetDue
from callstream_compactor.settings import CompactorSettings
from callstream_compactor.store import Announce, ArchiveStore, Choose
from tests.unit.fakes import FakeDatabase, conversation
from tests.unit.stages.conftest import ANALYSIS

DAY = date(2026, 11, 29)


class FakeArchive(ArchiveStore):
    def __init__(self, due: Sequence[DatasetDue] = ()) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.files: list[FileInfo] = []
        self.compacted: list[CompactionRequested] = []
        self.due = list(due)
        self.slots: dict[datetime, list[str]] = {}
        self.compact_error: Exception | None = None

    async def buffer(self, dataset: str, row: dict[str, Any]) -> bool:
        if row["conversation_id"] in self.rows:
            return False
        self.rows[row["conversation_id"]] = row
        return True

    async def live_files(self, dataset: str, partition: date) -> list[FileInfo]:
        return list(self.files)

    async def compact(self, event: CompactionRequested) -> int:
        if self.compact_error is not None:
            raise self.compact_error
        self.compacted.append(event)
        return 1

    async def claim_schedule_slot(
        self, slot: datetime, choose: Choose, announce: Announce
    ) -> list[str] | None:
        if slot in self.slots:
            return None
        chosen = choose(self.due)
        await announce(chosen)
        self.slots[slot] = chosen
        return chosen


class Wake:
    def __init__(self) -> None:
        self.calls = 0

    def notify(self) -> None:
        self.calls += 1


SETTINGS = CompactorSettings(
    compaction_event_threshold_files=3, compaction_target_file_bytes=1_000_000
)


def compactor(
    uow: Callable[[], UnitOfWork], archive: FakeArchive, wake: Wake | None = None
) -> CompactorHandlers:
    return CompactorHandlers(uow, archive, SETTINGS, wake or Wake())


def analyzed(conversation_id: uuid.UUID) -> CallAnalyzed:
    return CallAnalyzed(
        conversation_id=conversation_id,
        overall_score=3.0,
        qualification_status=QualificationStatus.MEDIUM,
    )


async def test_an_analysed_call_is_buffered_once_with_its_scores(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation(ConversationStatus.COMPLETED, timings={"upload": {"seconds": 1}}))
    db.analyses[conv.id] = ANALYSIS
    archive, wake = FakeArchive(), Wake()
    handlers = compactor(uow, archive, wake)
    await handlers.on_analyzed(analyzed(conv.id))
    await handlers.on_analyzed(analyzed(conv.id))

    [row] = archive.rows.values()
    assert row["conversation_id"] == str(conv.id) and row["status"] == "completed"
    assert row["score_metrics"] == 3 and row["qualification_status"] == "Medium"
    assert row["upload_seconds"] == 1.0 and row["transcription_seconds"] is None
    assert wake.calls == 1


async def test_a_call_without_analysis_is_archived_from_the_event(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation(ConversationStatus.PROCESSING))
    archive = FakeArchive()
    await compactor(uow, archive).on_analyzed(analyzed(conv.id))
    [row] = archive.rows.values()
    assert row["overall_score"] == 3.0 and row["score_metrics"] is None


async def test_a_missing_conversation_is_a_permanent_failure(
    uow: Callable[[], UnitOfWork],
) -> None:
    archive = FakeArchive()
    with pytest.raises(ConversationMissing):
        await compactor(uow, archive).on_analyzed(analyzed(uuid.uuid4()))
    assert archive.rows == {}


async def test_a_compaction_request_is_carried_out_and_a_retryable_failure_raised(
    uow: Callable[[], UnitOfWork],
) -> None:
    archive = FakeArchive()
    request = CompactionRequested(dataset="calls", trigger=CompactionTrigger.UPLOAD)
    await compactor(uow, archive).on_compaction_requested(request)
    assert archive.compacted == [request]
    archive.compact_error = RetryableError("manifest changed meanwhile")
    with pytest.raises(RetryableError):
        await compactor(uow, archive).on_compaction_requested(request)


def written(n: int) -> FlushResult:
    return FlushResult(
        rows=n, files=[WrittenFile(f"k{i}", DAY, 1, 10, None, None) for i in range(n)]
    )


async def test_a_flush_crossing_the_threshold_requests_compaction_once(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    archive = FakeArchive()
    handlers = compactor(uow, archive)
    archive.files = [FileInfo(f"k{i}", 1, 10) for i in range(2)]
    await handlers.on_flushed(written(2))
    assert db.published == []
    archive.files = [FileInfo(f"k{i}", 1, 10) for i in range(3)]
    await handlers.on_flushed(written(1))
    archive.files = [FileInfo(f"k{i}", 1, 10) for i in range(4)]
    await handlers.on_flushed(written(1))
    [sent] = db.published
    assert sent.topic == topics.COMPACTION_REQUESTED and sent.key == b"calls"
    assert isinstance(sent.value, CompactionRequested)
    assert (sent.value.trigger, sent.value.partition_date) == (CompactionTrigger.EVENT, DAY)


async def test_a_schedule_slot_is_claimed_once_and_requests_the_due_datasets(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    since = datetime(2026, 11, 28, tzinfo=UTC)
    archive = FakeArchive(
        [DatasetDue("calls", True, since, None), DatasetDue("quiet", False, None, since)]
    )
    handlers = compactor(uow, archive)
    slot = datetime(2026, 11, 29, 2, tzinfo=UTC)
    assert await handlers.scheduled(slot) == ["calls"]
    assert await handlers.scheduled(slot) == []
    [sent] = db.published
    assert isinstance(sent.value, CompactionRequested)
    assert sent.value.trigger == CompactionTrigger.SCHEDULE
