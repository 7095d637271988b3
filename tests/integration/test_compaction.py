"""The archive and compaction workflow against the real PostgreSQL and object store.

The workflow functions are called directly (not over Kafka). A crash is simulated by a
hook raising a ``BaseException`` after a given step, which — like a killed process —
bypasses the workflow's own error handling; the rerun must then lose no row, duplicate
none, and leave no file in the store that the manifest does not list.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import select

from callstream_common.compaction_store import (
    dataset_prefix,
    list_datasets,
    list_runs,
    register_upload,
    staging_key,
)
from callstream_common.db.compaction_models import FILES
from callstream_common.objectstore import ObjectStore
from callstream_compactor import schema as sch
from callstream_compactor.archive import (
    buffer_row,
    ensure_dataset,
    flush_buffer,
    ingest_uploads,
    parquet_bytes,
    read_parquet,
)
from callstream_compactor.compaction import (
    STEPS,
    CompactionContext,
    compact_dataset,
    compact_partition,
    sweep_orphans,
)

pytestmark = pytest.mark.stack

DAY1 = date(2026, 11, 20)
DAY2 = date(2026, 11, 21)


class Killed(BaseException):
    """A simulated crash: not an ``Exception``, so no handler in the workflow sees it."""


def make_row(day: date, i: int, conversation_id: uuid.UUID | None = None) -> dict[str, Any]:
    at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=37 * i)
    return {
        "conversation_id": str(conversation_id or uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "analyzed_at": at.isoformat(),
        "archived_at": (at + timedelta(seconds=1)).isoformat(),
        "status": "completed",
        "opportunity_name": f"Opportunity {i}",
        "company_name": "Acme",
        "rep_id": f"rep-{i % 3}",
        "title": "Discovery call " * 4,
        "overall_score": 1 + (i % 40) / 10,
        "qualification_status": "Medium",
        **{c: 1 + (i + n) % 5 for n, c in enumerate(sch.SCORE_COLUMNS)},
        "upload_seconds": 0.1,
        "trace_id": uuid.uuid4().hex,
    }


@pytest.fixture(scope="module")
async def store(common_settings: Any) -> ObjectStore:
    s = ObjectStore(common_settings)
    await asyncio.to_thread(s.ensure_bucket)
    return s


@pytest.fixture
async def dataset(sessions: Any) -> AsyncIterator[str]:
    name = f"t{uuid.uuid4().hex[:12]}"
    await ensure_dataset(sessions, name)
    yield name


def context(sessions: Any, store: ObjectStore, target: int = 128 * 1024) -> CompactionContext:
    return CompactionContext(sessions=sessions, store=store, target_bytes=target)


async def seed(
    sessions: Any, store: ObjectStore, dataset: str, files: int, rows_per_file: int
) -> list[dict[str, Any]]:
    """``files`` small files per day over two days, through the archive buffer."""
    rows: list[dict[str, Any]] = []
    for f in range(files):
        for day in (DAY1, DAY2):
            for r in range(rows_per_file):
                row = make_row(day, f * rows_per_file + r)
                assert await buffer_row(sessions, dataset, row)
                rows.append(row)
        result = await flush_buffer(sessions, store, dataset)
        assert len(result.files) == 2
    return rows


async def manifest_keys(sessions: Any, dataset: str) -> set[str]:
    async with sessions() as session:
        return set(
            (
                await session.execute(select(FILES.c.object_key).where(FILES.c.dataset == dataset))
            ).scalars()
        )


async def read_back(sessions: Any, store: ObjectStore, dataset: str) -> pa.Table:
    keys = sorted(await manifest_keys(sessions, dataset))
    tables = [read_parquet(await asyncio.to_thread(store.get_bytes, k)) for k in keys]
    return pa.concat_tables(tables) if tables else sch.CALLS_SCHEMA.empty_table()


def canonical(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    table = sch.rows_to_table(rows)
    return sorted(tuple(r.values()) for r in table.to_pylist())


def canonical_table(table: pa.Table) -> list[tuple[Any, ...]]:
    return sorted(tuple(r.values()) for r in table.select(sch.CALLS_SCHEMA.names).to_pylist())


async def store_keys(store: ObjectStore, dataset: str) -> set[str]:
    return set(await asyncio.to_thread(store.list_keys, dataset_prefix(dataset)))


async def test_archive_is_idempotent_and_flush_survives_a_crash(
    sessions: Any, store: ObjectStore, dataset: str
) -> None:
    row = make_row(DAY1, 1)
    assert await buffer_row(sessions, dataset, row)
    assert not await buffer_row(sessions, dataset, dict(row, event_id=str(uuid.uuid4())))

    async def crash(step: str) -> None:
        raise Killed(step)

    with pytest.raises(Killed):
        await flush_buffer(sessions, store, dataset, hook=crash)
    assert await manifest_keys(sessions, dataset) == set()
    assert len(await store_keys(store, dataset)) == 1  # the orphan of the crashed flush

    result = await flush_buffer(sessions, store, dataset)
    assert result.rows == 1
    assert (await flush_buffer(sessions, store, dataset)).rows == 0
    removed = await sweep_orphans(context(sessions, store), dataset, grace=timedelta(0))
    assert len(removed) == 1
    assert await store_keys(store, dataset) == await manifest_keys(sessions, dataset)
    assert canonical_table(await read_back(sessions, store, dataset)) == canonical([row])


async def test_compaction_keeps_every_row_and_reduces_files_to_target(
    sessions: Any, store: ObjectStore, dataset: str
) -> None:
    rows = await seed(sessions, store, dataset, files=30, rows_per_file=20)
    before = await manifest_keys(sessions, dataset)
    assert len(before) == 60
    ctx = context(sessions, store)

    outcomes = await compact_dataset(ctx, dataset, "manual")

    assert [o.partition for o in outcomes] == [DAY1, DAY2]
    after = await manifest_keys(sessions, dataset)
    assert not after & before
    assert len(after) == sum(o.files_after for o in outcomes) < 10
    table = await read_back(sessions, store, dataset)
    assert table.num_rows == len(rows)
    assert canonical_table(table) == canonical(rows)
    assert await store_keys(store, dataset) == after
    async with sessions() as session:
        sizes = (
            await session.execute(select(FILES.c.bytes).where(FILES.c.dataset == dataset))
        ).scalars()
        assert all(size <= ctx.target_bytes * 1.1 for size in sizes)
        summary = next(d for d in await list_datasets(session) if d.name == dataset)
        runs = await list_runs(session, dataset)
    assert (summary.files, summary.rows, summary.partitions) == (len(after), len(rows), 2)
    assert summary.last_compacted_at is not None and not summary.compaction_needed
    assert {r.status for r in runs} == {"succeeded"}
    for key in after:  # each output is sorted by time
        times = read_parquet(await asyncio.to_thread(store.get_bytes, key)).column("analyzed_at")
        assert times.to_pylist() == sorted(times.to_pylist())

    again = await compact_dataset(ctx, dataset, "manual", partition=DAY1)
    assert [o.status for o in again] == ["noop"]
    assert await manifest_keys(sessions, dataset) == after


@pytest.mark.parametrize("killed_after", STEPS)
async def test_a_compaction_killed_after_any_step_and_rerun_loses_and_duplicates_nothing(
    sessions: Any, store: ObjectStore, dataset: str, killed_after: str
) -> None:
    rows = await seed(sessions, store, dataset, files=12, rows_per_file=10)
    ctx = context(sessions, store)

    async def kill(step: str) -> None:
        if step == killed_after:
            raise Killed(step)

    with pytest.raises(Killed):
        await compact_partition(ctx, dataset, DAY1, "manual", hook=kill)
    # Whatever the step, readers (who go by the manifest) see every row exactly once.
    assert canonical_table(await read_back(sessions, store, dataset)) == canonical(rows)

    await compact_dataset(ctx, dataset, "manual")
    await sweep_orphans(ctx, dataset, grace=timedelta(0))

    table = await read_back(sessions, store, dataset)
    assert canonical_table(table) == canonical(rows)
    assert len(set(table.column("conversation_id").to_pylist())) == len(rows)
    assert await store_keys(store, dataset) == await manifest_keys(sessions, dataset)
    async with sessions() as session:
        runs = await list_runs(session, dataset)
    assert not {r.status for r in runs} & {"running", "switched"}
    assert len(await manifest_keys(sessions, dataset)) < 6


async def test_concurrent_compactions_of_one_partition_are_serialised(
    sessions: Any, store: ObjectStore, dataset: str
) -> None:
    rows = await seed(sessions, store, dataset, files=10, rows_per_file=10)
    ctx = context(sessions, store)
    events: list[int] = []

    async def run(n: int) -> str:
        async def hook(step: str) -> None:
            events.append(n)
            await asyncio.sleep(0.05)  # give another run every chance to interleave

        return (await compact_partition(ctx, dataset, DAY1, "manual", hook=hook)).status

    statuses = await asyncio.gather(run(1), run(2), run(3))

    assert sorted(statuses) == ["noop", "noop", "succeeded"]
    blocks = [n for i, n in enumerate(events) if i == 0 or events[i - 1] != n]
    assert sorted(blocks) == [1, 2, 3], f"steps of runs interleaved: {events}"
    assert canonical_table(await read_back(sessions, store, dataset)) == canonical(rows)


async def test_duplicate_rows_in_a_partition_are_removed_by_compaction(
    sessions: Any, store: ObjectStore, dataset: str
) -> None:
    """A row archived twice (the ledger bypassed, e.g. a hand-placed file) ends up once."""
    from callstream_compactor.archive import new_file_key, register_files, write_file

    cid = uuid.uuid4()
    first = make_row(DAY1, 1, cid)
    later = dict(first, archived_at=(datetime.now(UTC)).isoformat(), status="failed")
    written = [
        await write_file(store, new_file_key(dataset, DAY1), DAY1, sch.rows_to_table([r]))
        for r in (first, later, make_row(DAY1, 2))
    ]
    async with sessions() as session, session.begin():
        await register_files(session, dataset, written, "archive")

    await compact_dataset(context(sessions, store), dataset, "manual")

    table = await read_back(sessions, store, dataset)
    assert table.num_rows == 2
    kept = [r for r in table.to_pylist() if r["conversation_id"] == str(cid)]
    assert [r["status"] for r in kept] == ["failed"]


async def test_an_upload_adds_only_rows_not_yet_archived(
    sessions: Any, store: ObjectStore, dataset: str
) -> None:
    archived = make_row(DAY1, 1)
    assert await buffer_row(sessions, dataset, archived)
    await flush_buffer(sessions, store, dataset)
    new = [make_row(DAY2, i) for i in range(5)]
    upload_id = uuid.uuid4()
    key = staging_key(dataset, upload_id)
    data = parquet_bytes(sch.rows_to_table([archived, *new]))
    await asyncio.to_thread(store.put_bytes, key, data)
    async with sessions() as session, session.begin():
        await register_upload(session, upload_id, dataset, key, 6, len(data), "x.parquet", None)

    async def crash(step: str) -> None:
        raise Killed(step)

    with pytest.raises(Killed):
        await ingest_uploads(sessions, store, dataset, hook=crash)
    assert await ingest_uploads(sessions, store, dataset) == 5
    assert await ingest_uploads(sessions, store, dataset) == 0
    await sweep_orphans(context(sessions, store), dataset, grace=timedelta(0))

    assert canonical_table(await read_back(sessions, store, dataset)) == canonical([archived, *new])
    assert await store_keys(store, dataset) == await manifest_keys(sessions, dataset)
