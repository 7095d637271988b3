"""Wiring of the compactor: two stages, the archive flusher and the schedule."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from faststream import FastStream

from callstream_common import topics
from callstream_common.contracts import CallAnalyzed, CompactionRequested
from callstream_common.runtime import build_runtime
from callstream_compactor.archive import Flusher, ensure_dataset
from callstream_compactor.compaction import CompactionContext
from callstream_compactor.handlers import CompactorHandlers
from callstream_compactor.scheduler import Scheduler
from callstream_compactor.settings import CompactorSettings
from callstream_compactor.store import SqlArchiveStore


def create_app(settings: CompactorSettings | None = None) -> FastStream:
    settings = settings or CompactorSettings()
    runtime = build_runtime(settings)
    ctx = CompactionContext(
        sessions=runtime.sessions,
        store=runtime.store,
        target_bytes=settings.compaction_target_file_bytes,
        small_fraction=settings.compaction_small_file_fraction,
        orphan_grace=timedelta(seconds=settings.compaction_orphan_grace_seconds),
    )
    flusher = Flusher(
        sessions=runtime.sessions,
        store=runtime.store,
        dataset=settings.archive_dataset,
        flush_rows=settings.archive_flush_rows,
        flush_seconds=settings.archive_flush_seconds,
    )
    handlers = CompactorHandlers(runtime.unit_of_work, SqlArchiveStore(ctx), settings, flusher)
    flusher.on_flushed = handlers.on_flushed
    runtime.consume(
        topics.CALLS_ANALYZED, CallAnalyzed, handlers.on_analyzed, handlers.on_dead_letter
    )
    runtime.consume(
        topics.COMPACTION_REQUESTED, CompactionRequested, handlers.on_compaction_requested
    )

    tasks: list[asyncio.Task[None]] = []

    async def start_background() -> None:
        await asyncio.to_thread(runtime.store.ensure_bucket)
        await ensure_dataset(runtime.sessions, settings.archive_dataset)
        tasks.append(asyncio.create_task(flusher.run(), name="archive-flusher"))
        if settings.compaction_schedule_enabled:
            scheduler = Scheduler(settings.compaction_schedule_cron, handlers.scheduled)
            tasks.append(asyncio.create_task(scheduler.run_forever(), name="compaction-schedule"))

    async def stop_background() -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await flusher.drain()
        await runtime.shutdown()

    return runtime.application(after_startup=[start_background], on_shutdown=[stop_background])
