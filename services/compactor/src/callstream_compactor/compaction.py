"""The compaction workflow: validate → read metadata → compact → update → clean up.

Crash safety comes from the order of effects and from Postgres being the only truth
about which files are live (the manifest, ``compaction_files``):

1. *validate*: the dataset exists; its versioned schema is loaded.
2. *read metadata*: the partition's live files from the manifest, planned by
   :mod:`callstream_compactor.planning`; the run is recorded with its planned output keys
   **before** anything is written.
3. *compact*: inputs read, deduplicated by conversation id, sorted by time, written to
   the planned keys. Nobody reads them yet: they are not in the manifest.
4. *update*: one transaction removes the inputs from the manifest and adds the outputs.
   Readers see either all old files or all new ones.
5. *cleanup*: the inputs are deleted from the store.

A run killed before 4 is undone by the next run of the partition (its outputs deleted);
one killed after 4 is finished (its inputs deleted). Runs of one partition are
serialised by a transaction-scoped Postgres advisory lock, released by Postgres itself
if the process dies. Files in the store that no manifest, pending upload or unfinished
run knows are orphans and are swept once older than a grace period.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common.compaction_store import dataset_prefix
from callstream_common.db.compaction_models import (
    DATASETS,
    FILES,
    RUNS,
    CompactionDataset,
    CompactionRun,
    CompactionRunStatus,
    CompactionUpload,
    DatasetFile,
)
from callstream_common.objectstore import ObjectStore
from callstream_common.retry import PermanentError, RetryableError
from callstream_compactor import schema as sch
from callstream_compactor.archive import (
    WrittenFile,
    new_file_key,
    parquet_bytes,
    read_parquet,
    sort_by_time,
    write_file,
)
from callstream_compactor.planning import (
    FileInfo,
    PartitionPlan,
    output_count_for,
    output_slices,
    plan_partition,
)

log = logging.getLogger(__name__)

STEPS = ("validate", "read_metadata", "compact", "update", "cleanup")
Hook = Callable[[str], Awaitable[None]]


@dataclass
class CompactionContext:
    sessions: async_sessionmaker[AsyncSession]
    store: ObjectStore
    target_bytes: int = 128 * 1024 * 1024
    small_fraction: float = 0.5
    orphan_grace: timedelta = timedelta(hours=6)
    read_concurrency: int = 8


@dataclass(frozen=True)
class RunOutcome:
    run_id: uuid.UUID | None
    dataset: str
    partition: date
    status: str
    files_before: int
    files_after: int
    rows_before: int
    rows_after: int


class ManifestConflict(RetryableError):
    """The manifest changed under a run (should not happen under the lock): retry."""


# --------------------------------------------------------------------------- lock


@asynccontextmanager
async def partition_lock(
    sessions: async_sessionmaker[AsyncSession], dataset: str, partition: date
) -> AsyncIterator[None]:
    """Hold the partition's advisory lock for the block (waits for a running holder)."""
    async with sessions() as session:
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('callstream.compaction'), hashtext(:k))"),
            {"k": f"{dataset}/{partition.isoformat()}"},
        )
        try:
            yield
        finally:
            await session.rollback()


# --------------------------------------------------------------------------- helpers


async def live_files(session: AsyncSession, dataset: str, partition: date) -> list[DatasetFile]:
    return list(
        (
            await session.execute(
                select(DatasetFile).where(
                    DatasetFile.dataset == dataset,  # type: ignore[arg-type]
                    DatasetFile.partition_date == partition,  # type: ignore[arg-type]
                )
            )
        ).scalars()
    )


async def _remove_keys(store: ObjectStore, keys: list[str]) -> None:
    def run() -> None:
        for key in keys:
            if store.exists(key):
                store.remove(key)

    await asyncio.to_thread(run)


async def _set_run(ctx: CompactionContext, run_id: uuid.UUID, **values: object) -> None:
    async with ctx.sessions() as session, session.begin():
        await session.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values))


def dedupe(table: pa.Table) -> pa.Table:
    """One row per conversation id: the most recently archived wins."""
    if table.num_rows < 2:
        return table
    ordered = table.sort_by([(sch.KEY_COLUMN, "ascending"), ("archived_at", "descending")])
    keys = ordered.column(sch.KEY_COLUMN).combine_chunks()
    changed = pc.not_equal(keys.slice(1), keys.slice(0, len(keys) - 1))
    mask = pa.concat_arrays(
        [
            pa.array([True]),
            changed.combine_chunks() if isinstance(changed, pa.ChunkedArray) else changed,
        ]
    )
    return ordered.filter(mask)


SAMPLE_ROWS = 20_000


def estimate_parquet_bytes(table: pa.Table) -> int:
    """The table's size as Parquet, from writing a sample of its rows."""
    if table.num_rows == 0:
        return 0
    sample = table.slice(0, SAMPLE_ROWS)
    size = len(parquet_bytes(sample))
    return int(size * table.num_rows / sample.num_rows)


# --------------------------------------------------------------------------- steps


async def step_validate(ctx: CompactionContext, dataset: str) -> pa.Schema:
    async with ctx.sessions() as session:
        ds = await session.get(CompactionDataset, dataset)
    if ds is None:
        raise PermanentError(f"unknown dataset {dataset!r}")
    if ds.schema_version != sch.SCHEMA_VERSION:
        raise PermanentError(
            f"dataset {dataset!r} has schema version {ds.schema_version}; "
            f"this compactor knows {sch.SCHEMA_VERSION}"
        )
    return pa.ipc.read_schema(pa.py_buffer(ds.arrow_schema))


async def step_read_metadata(
    ctx: CompactionContext, dataset: str, partition: date
) -> tuple[list[DatasetFile], PartitionPlan | None]:
    async with ctx.sessions() as session:
        files = await live_files(session, dataset, partition)
    infos = [FileInfo(f.object_key, f.rows, f.bytes, f.min_time) for f in files]
    return files, plan_partition(partition, infos, ctx.target_bytes, ctx.small_fraction)


async def start_run(
    ctx: CompactionContext,
    dataset: str,
    partition: date,
    trigger: str,
    files: list[DatasetFile],
    plan: PartitionPlan,
) -> CompactionRun:
    """Record the run and its planned output keys before any output exists."""
    run_id = uuid.uuid4()
    run = CompactionRun(
        id=run_id,
        dataset=dataset,
        partition_date=partition,
        trigger=trigger,
        status=CompactionRunStatus.RUNNING,
        step="read_metadata",
        input_keys=[f.key for f in plan.inputs],
        output_keys=[
            new_file_key(dataset, partition, f"{run_id.hex}-{i:04d}")
            for i in range(plan.output_count)
        ],
        files_before=len(files),
        rows_before=sum(f.rows for f in files),
        bytes_before=sum(f.bytes for f in files),
    )
    async with ctx.sessions() as session, session.begin():
        session.add(run)
    return run


async def step_compact(
    ctx: CompactionContext, run: CompactionRun, schema: pa.Schema
) -> list[WrittenFile]:
    """Merge the inputs into the planned outputs (dedupe, sort by time, equal slices)."""
    gate = asyncio.Semaphore(ctx.read_concurrency)

    async def load(key: str) -> pa.Table:
        async with gate:
            data = await asyncio.to_thread(ctx.store.get_bytes, key)
            table = await asyncio.to_thread(read_parquet, data)
        try:
            return sch.conform(table, schema)
        except ValueError as exc:
            raise PermanentError(f"{key} does not match the dataset schema: {exc}") from exc

    tables = await asyncio.gather(*(load(k) for k in run.input_keys))
    merged = sort_by_time(dedupe(pa.concat_tables(tables)))
    partition = run.partition_date
    assert partition is not None
    outputs = output_count_for(
        await asyncio.to_thread(estimate_parquet_bytes, merged),
        ctx.target_bytes,
        len(run.output_keys),
    )
    written: list[WrittenFile] = []
    for key, (offset, length) in zip(
        run.output_keys[:outputs], output_slices(merged.num_rows, outputs), strict=False
    ):
        written.append(await write_file(ctx.store, key, partition, merged.slice(offset, length)))
    await _set_run(ctx, run.id, step="compact")
    return written


async def step_update(
    ctx: CompactionContext, run: CompactionRun, written: list[WrittenFile]
) -> None:
    """The atomic switch: inputs out of the manifest, outputs in, run marked switched."""
    m = FILES.c
    async with ctx.sessions() as session, session.begin():
        removed = await session.execute(
            delete(FILES)
            .where(m.dataset == run.dataset, m.object_key.in_(run.input_keys))
            .returning(m.object_key)
        )
        if len(removed.all()) != len(run.input_keys):
            raise ManifestConflict(f"the manifest of {run.dataset}/{run.partition_date} changed")
        if written:
            await session.execute(
                insert(FILES),
                [f.manifest_row(run.dataset, "compaction") for f in written],
            )
        rest = await live_files(session, run.dataset, run.partition_date)  # type: ignore[arg-type]
        await session.execute(
            update(RUNS)
            .where(RUNS.c.id == run.id)
            .values(
                status=CompactionRunStatus.SWITCHED,
                step="update",
                files_after=len(rest),
                rows_after=sum(f.rows for f in rest),
                bytes_after=sum(f.bytes for f in rest),
            )
        )
        await session.execute(
            update(DATASETS)
            .where(DATASETS.c.name == run.dataset)
            .values(last_compacted_at=func.now(), updated_at=func.now())
        )


async def step_cleanup(ctx: CompactionContext, run: CompactionRun) -> None:
    await _remove_keys(ctx.store, list(run.input_keys))
    await _set_run(
        ctx,
        run.id,
        status=CompactionRunStatus.SUCCEEDED,
        step="cleanup",
        finished_at=datetime.now(UTC),
    )


# --------------------------------------------------------------------------- recovery


async def recover_partition(ctx: CompactionContext, dataset: str, partition: date) -> int:
    """Finish or undo the partition's interrupted runs (call under its lock)."""
    async with ctx.sessions() as session:
        runs = list(
            (
                await session.execute(
                    select(CompactionRun).where(
                        CompactionRun.dataset == dataset,  # type: ignore[arg-type]
                        CompactionRun.partition_date == partition,  # type: ignore[arg-type]
                        CompactionRun.status.in_(  # type: ignore[attr-defined]
                            [CompactionRunStatus.RUNNING, CompactionRunStatus.SWITCHED]
                        ),
                    )
                )
            ).scalars()
        )
        live = {f.object_key for f in await live_files(session, dataset, partition)}
    for run in runs:
        now = datetime.now(UTC)
        if run.status == CompactionRunStatus.SWITCHED:
            await _remove_keys(ctx.store, [k for k in run.input_keys if k not in live])
            await _set_run(ctx, run.id, status=CompactionRunStatus.SUCCEEDED, finished_at=now)
            log.info("finished interrupted compaction run %s", run.id)
        else:
            await _remove_keys(ctx.store, [k for k in run.output_keys if k not in live])
            await _set_run(
                ctx,
                run.id,
                status=CompactionRunStatus.FAILED,
                error=f"interrupted after step {run.step}; undone by recovery",
                finished_at=now,
            )
            log.info("undid interrupted compaction run %s (step %s)", run.id, run.step)
    return len(runs)


async def sweep_orphans(
    ctx: CompactionContext, dataset: str, grace: timedelta | None = None
) -> list[str]:
    """Delete objects of the dataset that nothing references and that are older than
    ``grace`` (a flush or run in another process may have just written its file)."""
    grace = ctx.orphan_grace if grace is None else grace
    async with ctx.sessions() as session:
        protected = set(
            (
                await session.execute(
                    select(DatasetFile.object_key).where(DatasetFile.dataset == dataset)  # type: ignore[call-overload]
                )
            ).scalars()
        )
        protected |= set(
            (
                await session.execute(
                    select(CompactionUpload.staging_key).where(  # type: ignore[call-overload]
                        CompactionUpload.dataset == dataset, CompactionUpload.status == "pending"
                    )
                )
            ).scalars()
        )
        for keys in (
            await session.execute(
                select(CompactionRun.output_keys).where(  # type: ignore[call-overload]
                    CompactionRun.dataset == dataset,
                    CompactionRun.status == CompactionRunStatus.RUNNING,
                )
            )
        ).scalars():
            protected |= set(keys)
    cutoff = datetime.now(UTC) - grace
    store = ctx.store

    def run() -> list[str]:
        removed: list[str] = []
        for obj in store.client.list_objects(
            store.bucket, prefix=dataset_prefix(dataset), recursive=True
        ):
            key = obj.object_name
            if not key or key in protected:
                continue
            if obj.last_modified is not None and obj.last_modified > cutoff:
                continue
            store.remove(key)
            removed.append(key)
        return removed

    removed = await asyncio.to_thread(run)
    if removed:
        log.info("swept %d orphan files of %s", len(removed), dataset)
    return removed


# --------------------------------------------------------------------------- workflow


async def compact_partition(
    ctx: CompactionContext,
    dataset: str,
    partition: date,
    trigger: str = "manual",
    hook: Hook | None = None,
) -> RunOutcome:
    """Compact one partition, serialised with any other compaction of it.

    ``hook(step)`` runs after each step; tests raise from it to simulate a crash there.
    """

    async def after(step: str) -> None:
        if hook is not None:
            await hook(step)

    async with partition_lock(ctx.sessions, dataset, partition):
        await recover_partition(ctx, dataset, partition)
        schema = await step_validate(ctx, dataset)
        await after("validate")
        files, plan = await step_read_metadata(ctx, dataset, partition)
        await after("read_metadata")
        if plan is None:
            return await _noop(ctx, dataset, partition, trigger, files)
        run = await start_run(ctx, dataset, partition, trigger, files, plan)
        try:
            written = await step_compact(ctx, run, schema)
            await after("compact")
            await step_update(ctx, run, written)
        except Exception as exc:
            await _undo(ctx, run, exc)
            raise
        await after("update")
        await step_cleanup(ctx, run)
        await after("cleanup")
    rows_after = sum(f.rows for f in written) + sum(f.rows for f in plan.kept)
    files_after = len(written) + len(plan.kept)
    log.info(
        "compacted %s/%s: %d → %d files, %d rows",
        dataset,
        partition,
        len(files),
        files_after,
        rows_after,
    )
    return RunOutcome(
        run.id,
        dataset,
        partition,
        CompactionRunStatus.SUCCEEDED,
        len(files),
        files_after,
        run.rows_before,
        rows_after,
    )


async def _undo(ctx: CompactionContext, run: CompactionRun, exc: Exception) -> None:
    """A failure before the switch: remove what the run wrote (recovery does it if we
    cannot, since the run then stays ``running``)."""
    try:
        await _remove_keys(ctx.store, list(run.output_keys))
        await _set_run(
            ctx,
            run.id,
            status=CompactionRunStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=datetime.now(UTC),
        )
    except Exception:
        log.exception("could not undo compaction run %s; recovery will", run.id)


async def _noop(
    ctx: CompactionContext, dataset: str, partition: date, trigger: str, files: list[DatasetFile]
) -> RunOutcome:
    rows = sum(f.rows for f in files)
    size = sum(f.bytes for f in files)
    now = datetime.now(UTC)
    run = CompactionRun(
        dataset=dataset,
        partition_date=partition,
        trigger=trigger,
        status=CompactionRunStatus.NOOP,
        step="read_metadata",
        files_before=len(files),
        files_after=len(files),
        rows_before=rows,
        rows_after=rows,
        bytes_before=size,
        bytes_after=size,
        finished_at=now,
    )
    async with ctx.sessions() as session, session.begin():
        session.add(run)
    return RunOutcome(run.id, dataset, partition, run.status, len(files), len(files), rows, rows)


async def partitions_to_compact(ctx: CompactionContext, dataset: str) -> list[date]:
    """Partitions with at least two small files, oldest first."""
    m = FILES.c
    small = m.bytes < ctx.target_bytes * ctx.small_fraction
    async with ctx.sessions() as session:
        result = await session.execute(
            select(m.partition_date)
            .where(m.dataset == dataset)
            .group_by(m.partition_date)
            .having(func.count().filter(small) >= 2)
            .order_by(m.partition_date)
        )
        return [r[0] for r in result]


async def partitions_with_unfinished_runs(ctx: CompactionContext, dataset: str) -> list[date]:
    r = RUNS.c
    async with ctx.sessions() as session:
        result = await session.execute(
            select(r.partition_date)
            .distinct()
            .where(
                r.dataset == dataset,
                r.partition_date.is_not(None),
                r.status.in_([CompactionRunStatus.RUNNING, CompactionRunStatus.SWITCHED]),
            )
        )
        return [row[0] for row in result]


async def compact_dataset(
    ctx: CompactionContext,
    dataset: str,
    trigger: str = "manual",
    partition: date | None = None,
    hook: Hook | None = None,
) -> list[RunOutcome]:
    """Compact one partition, or every partition that needs it; then sweep orphans."""
    started = datetime.now(UTC)
    await step_validate(ctx, dataset)
    for stale in await partitions_with_unfinished_runs(ctx, dataset):
        async with partition_lock(ctx.sessions, dataset, stale):
            await recover_partition(ctx, dataset, stale)
    targets = [partition] if partition is not None else await partitions_to_compact(ctx, dataset)
    outcomes = [await compact_partition(ctx, dataset, p, trigger, hook) for p in targets]
    await sweep_orphans(ctx, dataset)
    if partition is None:
        async with ctx.sessions() as session, session.begin():
            await session.execute(
                text(
                    "UPDATE compaction_datasets SET compaction_needed = false, "
                    "needed_since = NULL, updated_at = now() WHERE name = :name "
                    "AND (last_appended_at IS NULL OR last_appended_at <= :started)"
                ),
                {"name": dataset, "started": started},
            )
    return outcomes
