"""Compaction throughput: a 100k-row dataset made of 500 small files, compacted once.

Runs against whichever stack ``CALLSTREAM_*`` points at (dev by default; the test stack
with its ports in the environment). Needs migrations up to 0002. The bench dataset is
created under a unique name and removed afterwards.

    uv run python bench/compaction.py [--files 500] [--rows 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from callstream_common.compaction_store import dataset_prefix
from callstream_common.db.engine import make_engine, make_sessionmaker
from callstream_common.objectstore import ObjectStore
from callstream_common.settings import CommonSettings
from callstream_compactor import schema as sch
from callstream_compactor.archive import ensure_dataset, new_file_key, register_files, write_file
from callstream_compactor.compaction import CompactionContext, compact_partition

DAY = date(2026, 1, 15)


def rows(start: int, count: int) -> list[dict[str, object]]:
    t0 = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    out: list[dict[str, object]] = []
    for i in range(start, start + count):
        at = t0 + timedelta(milliseconds=i * 800)
        out.append(
            {
                "conversation_id": str(uuid.uuid4()),
                "event_id": str(uuid.uuid4()),
                "analyzed_at": at.isoformat(),
                "archived_at": at.isoformat(),
                "status": "completed",
                "opportunity_name": f"Opportunity {i % 5000}",
                "company_name": f"Company {i % 700}",
                "rep_id": f"rep-{i % 40}",
                "title": "Discovery call",
                "content_type": "audio/wav",
                "size_bytes": 1_000_000 + i,
                "duration_seconds": 600.0 + i % 1200,
                "priority": 5,
                "overall_score": 1 + (i % 40) / 10,
                "qualification_status": ("Strong", "Medium", "Weak", "At Risk")[i % 4],
                **{c: 1 + (i + n) % 5 for n, c in enumerate(sch.SCORE_COLUMNS)},
                "upload_seconds": 0.2,
                "transcription_seconds": 30.0,
                "analysis_seconds": 2.0,
                "trace_id": uuid.uuid4().hex,
            }
        )
    return out


async def main(files: int, total_rows: int) -> None:
    settings = CommonSettings()
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    store = ObjectStore(settings)
    await asyncio.to_thread(store.ensure_bucket)
    dataset = f"bench-{uuid.uuid4().hex[:8]}"
    await ensure_dataset(sessions, dataset)
    per_file = total_rows // files
    try:
        t = time.perf_counter()
        sem = asyncio.Semaphore(8)

        async def one(n: int) -> object:
            async with sem:
                table = sch.rows_to_table(rows(n * per_file, per_file))
                return await write_file(store, new_file_key(dataset, DAY), DAY, table)

        written = list(await asyncio.gather(*(one(n) for n in range(files))))
        async with sessions() as session, session.begin():
            await register_files(session, dataset, written, "archive")  # type: ignore[arg-type]
        seed_s = time.perf_counter() - t
        size_before = sum(w.bytes for w in written)  # type: ignore[attr-defined]

        ctx = CompactionContext(sessions=sessions, store=store)
        t = time.perf_counter()
        outcome = await compact_partition(ctx, dataset, DAY, "manual")
        took = time.perf_counter() - t
        async with sessions() as session:
            size_after = (
                await session.execute(
                    text("SELECT coalesce(sum(bytes), 0) FROM compaction_files WHERE dataset=:d"),
                    {"d": dataset},
                )
            ).scalar_one()
        print(f"dataset          {dataset} ({files} files x {per_file} rows)")
        print(f"seeded in        {seed_s:.1f} s")
        print(f"files            {outcome.files_before} -> {outcome.files_after}")
        print(f"rows             {outcome.rows_before} -> {outcome.rows_after}")
        print(f"bytes            {size_before} -> {size_after}")
        print(f"compaction took  {took:.2f} s  ({outcome.rows_after / took:,.0f} rows/s)")
    finally:
        keys = await asyncio.to_thread(store.list_keys, dataset_prefix(dataset))
        for key in keys:
            await asyncio.to_thread(store.remove, key)
        async with sessions() as session, session.begin():
            for table in ("compaction_files", "compaction_runs", "compaction_archived"):
                await session.execute(
                    text(f"DELETE FROM {table} WHERE dataset = :d"),  # noqa: S608
                    {"d": dataset},
                )
            await session.execute(
                text("DELETE FROM compaction_datasets WHERE name = :d"), {"d": dataset}
            )
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(main(args.files, args.rows))
