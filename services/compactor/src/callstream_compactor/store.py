"""What the compactor's handlers need from PostgreSQL and the object store, as one port
(so the handlers run against an in-memory fake in unit tests) and its adapter over the
archive and compaction modules."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from callstream_common.contracts import CompactionRequested, CompactionTrigger
from callstream_common.db.compaction_models import SCHEDULE_SLOTS, CompactionDataset
from callstream_compactor.archive import buffer_row, ingest_uploads
from callstream_compactor.compaction import CompactionContext, compact_dataset, live_files
from callstream_compactor.planning import FileInfo
from callstream_compactor.scheduler import DatasetDue

Choose = Callable[[Sequence[DatasetDue]], list[str]]
Announce = Callable[[list[str]], Awaitable[None]]


class ArchiveStore(ABC):
    @abstractmethod
    async def buffer(self, dataset: str, row: dict[str, Any]) -> bool:
        """Buffer an archive row durably; False if the call was archived already."""

    @abstractmethod
    async def live_files(self, dataset: str, partition: date) -> list[FileInfo]: ...

    @abstractmethod
    async def compact(self, event: CompactionRequested) -> int:
        """Take in pending uploads (for an upload trigger) and compact; partitions done."""

    @abstractmethod
    async def claim_schedule_slot(
        self, slot: datetime, choose: Choose, announce: Announce
    ) -> list[str] | None:
        """Claim ``slot`` for this replica and announce the chosen datasets in the same
        transaction (a failed announcement leaves the slot unclaimed); None if another
        replica claimed it."""


class SqlArchiveStore(ArchiveStore):
    def __init__(self, ctx: CompactionContext) -> None:
        self.ctx = ctx

    async def buffer(self, dataset: str, row: dict[str, Any]) -> bool:
        return await buffer_row(self.ctx.sessions, dataset, row)

    async def live_files(self, dataset: str, partition: date) -> list[FileInfo]:
        async with self.ctx.sessions() as session:
            files = await live_files(session, dataset, partition)
        return [FileInfo(f.object_key, f.rows, f.bytes) for f in files]

    async def compact(self, event: CompactionRequested) -> int:
        if event.trigger == CompactionTrigger.UPLOAD:
            await ingest_uploads(self.ctx.sessions, self.ctx.store, event.dataset)
        outcomes = await compact_dataset(
            self.ctx, event.dataset, event.trigger.value, event.partition_date
        )
        return len(outcomes)

    async def claim_schedule_slot(
        self, slot: datetime, choose: Choose, announce: Announce
    ) -> list[str] | None:
        async with self.ctx.sessions() as session, session.begin():
            rows = (await session.execute(select(CompactionDataset))).scalars().all()
            chosen = choose(
                [
                    DatasetDue(d.name, d.compaction_needed, d.needed_since, d.last_compacted_at)
                    for d in rows
                ]
            )
            claimed = await session.execute(
                insert(SCHEDULE_SLOTS)
                .values(slot_at=slot, datasets=chosen)
                .on_conflict_do_nothing()
                .returning(SCHEDULE_SLOTS.c.slot_at)
            )
            if claimed.first() is None:
                return None
            await announce(chosen)
        return chosen
