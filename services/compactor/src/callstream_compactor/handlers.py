"""calls.analyzed → archive row; compaction.requested → compaction; schedule → requests.

Every trigger of a compaction goes through ``compaction.requested`` so that it is retried
and dead-lettered like any stage, and so that whichever replica consumes it does the work.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from callstream_common import topics
from callstream_common.contracts import CallAnalyzed, CompactionRequested, CompactionTrigger
from callstream_common.db.compaction_models import SCHEDULE_SLOTS, CompactionDataset
from callstream_common.runtime import Runtime
from callstream_common.stage import DeadLetter
from callstream_compactor.archive import Flusher, FlushResult, buffer_row, build_row, ingest_uploads
from callstream_compactor.compaction import CompactionContext, compact_dataset, live_files
from callstream_compactor.planning import FileInfo, small_file_count
from callstream_compactor.scheduler import DatasetDue, pick_datasets
from callstream_compactor.settings import CompactorSettings

log = logging.getLogger(__name__)


@dataclass
class CompactorHandlers:
    runtime: Runtime
    settings: CompactorSettings
    ctx: CompactionContext
    flusher: Flusher

    async def on_analyzed(self, event: CallAnalyzed) -> None:
        """Buffer the call's archive row durably; the flusher writes it to Parquet."""
        async with self.runtime.sessions() as session:
            row = await build_row(session, event)
        if await buffer_row(self.runtime.sessions, self.settings.archive_dataset, row):
            self.flusher.notify()

    async def on_compaction_requested(self, event: CompactionRequested) -> None:
        if event.trigger == CompactionTrigger.UPLOAD:
            await ingest_uploads(self.ctx.sessions, self.ctx.store, event.dataset)
        outcomes = await compact_dataset(
            self.ctx, event.dataset, event.trigger.value, event.partition_date
        )
        log.info(
            "compaction of %s (%s): %d partitions",
            event.dataset,
            event.trigger.value,
            len(outcomes),
        )

    async def on_dead_letter(self, dead: DeadLetter[CallAnalyzed]) -> None:
        """Nothing to mark: the call itself is complete; the DLQ entry says what failed."""
        log.error("archiving gave up: %s: %s", dead.error_class, dead.error_message)

    async def request(
        self, dataset: str, trigger: CompactionTrigger, partition: date | None = None
    ) -> None:
        event = CompactionRequested(dataset=dataset, partition_date=partition, trigger=trigger)
        await self.runtime.broker.publish(
            event.model_dump(mode="json"), topics.COMPACTION_REQUESTED, key=dataset.encode()
        )

    async def on_flushed(self, result: FlushResult) -> None:
        """Ask for a partition's compaction when a flush makes it cross the threshold."""
        threshold = self.settings.compaction_event_threshold_files
        added: dict[date, int] = {}
        for f in result.files:
            added[f.partition] = added.get(f.partition, 0) + 1
        for partition, count in added.items():
            async with self.runtime.sessions() as session:
                files = await live_files(session, self.settings.archive_dataset, partition)
            small = small_file_count(
                [FileInfo(f.object_key, f.rows, f.bytes) for f in files],
                self.ctx.target_bytes,
                self.ctx.small_fraction,
            )
            if small >= threshold > small - count:
                await self.request(
                    self.settings.archive_dataset, CompactionTrigger.EVENT, partition
                )

    async def scheduled(self, slot: datetime) -> Sequence[str]:
        """Claim the slot (one replica wins) and request the oldest datasets' compaction."""
        async with self.runtime.sessions() as session, session.begin():
            rows = (await session.execute(select(CompactionDataset))).scalars().all()
            chosen = pick_datasets(
                [
                    DatasetDue(d.name, d.compaction_needed, d.needed_since, d.last_compacted_at)
                    for d in rows
                ],
                self.settings.compaction_schedule_max_datasets,
            )
            claimed = await session.execute(
                insert(SCHEDULE_SLOTS)
                .values(slot_at=slot, datasets=chosen)
                .on_conflict_do_nothing()
                .returning(SCHEDULE_SLOTS.c.slot_at)
            )
            if claimed.first() is None:
                return []
            for name in chosen:
                await self.request(name, CompactionTrigger.SCHEDULE)
        log.info("scheduled compaction at %s: %s", slot.isoformat(), chosen or "nothing due")
        return chosen
