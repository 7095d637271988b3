"""calls.analyzed → archive row; compaction.requested → compaction; schedule → requests.

Every trigger of a compaction goes through ``compaction.requested`` so that it is retried
and dead-lettered like any stage, and so that whichever replica consumes it does the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from callstream_common import topics
from callstream_common.contracts import CallAnalyzed, CompactionRequested, CompactionTrigger
from callstream_common.conversations.status import ConversationMissing
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.stage import DeadLetter
from callstream_compactor.archive import FlushResult, archive_row
from callstream_compactor.planning import small_file_count
from callstream_compactor.scheduler import pick_datasets
from callstream_compactor.settings import CompactorSettings
from callstream_compactor.store import ArchiveStore

log = logging.getLogger(__name__)


class Wakeable(Protocol):
    def notify(self) -> None: ...


@dataclass
class CompactorHandlers:
    unit_of_work: Callable[[], UnitOfWork]
    archive: ArchiveStore
    settings: CompactorSettings
    flusher: Wakeable

    async def on_analyzed(self, event: CallAnalyzed) -> None:
        """Buffer the call's archive row durably; the flusher writes it to Parquet."""
        async with self.unit_of_work() as uow:
            conversation = await uow.conversations.get(event.conversation_id)
            if conversation is None:
                raise ConversationMissing(event.conversation_id)
            analysis = await uow.conversations.analysis(conversation.id)
        row = archive_row(event, conversation, analysis)
        if await self.archive.buffer(self.settings.archive_dataset, row):
            self.flusher.notify()

    async def on_compaction_requested(self, event: CompactionRequested) -> None:
        partitions = await self.archive.compact(event)
        log.info(
            "compaction of %s (%s): %d partitions", event.dataset, event.trigger.value, partitions
        )

    async def on_dead_letter(self, dead: DeadLetter[CallAnalyzed]) -> None:
        """Nothing to mark: the call itself is complete; the DLQ entry says what failed."""
        log.error("archiving gave up: %s: %s", dead.error_class, dead.error_message)

    async def request(
        self, dataset: str, trigger: CompactionTrigger, partition: date | None = None
    ) -> None:
        async with self.unit_of_work() as uow:
            uow.emit(
                topics.COMPACTION_REQUESTED,
                CompactionRequested(dataset=dataset, partition_date=partition, trigger=trigger),
                key=dataset.encode(),
            )
            await uow.commit()

    async def on_flushed(self, result: FlushResult) -> None:
        """Ask for a partition's compaction when a flush makes it cross the threshold."""
        threshold = self.settings.compaction_event_threshold_files
        added: dict[date, int] = {}
        for f in result.files:
            added[f.partition] = added.get(f.partition, 0) + 1
        for partition, count in added.items():
            files = await self.archive.live_files(self.settings.archive_dataset, partition)
            small = small_file_count(
                files,
                self.settings.compaction_target_file_bytes,
                self.settings.compaction_small_file_fraction,
            )
            if small >= threshold > small - count:
                await self.request(
                    self.settings.archive_dataset, CompactionTrigger.EVENT, partition
                )

    async def scheduled(self, slot: datetime) -> Sequence[str]:
        """Claim the slot (one replica wins) and request the oldest datasets' compaction."""

        async def announce(chosen: list[str]) -> None:
            for name in chosen:
                await self.request(name, CompactionTrigger.SCHEDULE)

        chosen = await self.archive.claim_schedule_slot(
            slot,
            lambda due: pick_datasets(due, self.settings.compaction_schedule_max_datasets),
            announce,
        )
        if chosen is None:
            return []
        log.info("scheduled compaction at %s: %s", slot.isoformat(), chosen or "nothing due")
        return chosen
