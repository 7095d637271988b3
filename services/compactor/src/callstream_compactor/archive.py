"""Archiving analysed calls: ledger + durable buffer in Postgres, flushed to Parquet.

Why a buffer in Postgres rather than in memory: the stage consumes one record at a time
and commits its offset when the handler returns. An in-memory batch would either hold the
offset back (each call waiting for the flush timer, one row per file) or lose rows on a
crash. Instead the handler writes the row and its ledger entry in one transaction — after
that the row is durable and the offset may be committed — and a flusher turns the
buffer into one Parquet file per partition when enough rows wait or the oldest has
waited long enough. A flush writes its files first, then in one transaction registers
them in the manifest and deletes the flushed buffer rows: a crash in between leaves an
orphan file (swept later) and the rows still buffered (flushed again), never a loss or a
duplicate.
"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common.compaction_store import dataset_prefix
from callstream_common.contracts import CallAnalyzed, MeddicAnalysis
from callstream_common.db.compaction_models import (
    ARCHIVED,
    BUFFER,
    DATASETS,
    FILES,
    UPLOADS,
    ArchivedConversation,
    CompactionDataset,
    CompactionUpload,
)
from callstream_common.db.models import Conversation
from callstream_common.objectstore import ObjectStore
from callstream_common.retry import PermanentError
from callstream_compactor import schema as sch

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- files


def partition_prefix(dataset: str, partition: date) -> str:
    return f"{dataset_prefix(dataset)}date={partition.isoformat()}/"


def new_file_key(dataset: str, partition: date, tag: str = "") -> str:
    return f"{partition_prefix(dataset, partition)}part-{tag or uuid.uuid4().hex}.parquet"


def parquet_bytes(table: pa.Table) -> bytes:
    """One Parquet file; zstd and statistics so that engines can skip row groups by time."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", write_statistics=True)
    return sink.getvalue()


def read_parquet(data: bytes) -> pa.Table:
    return pq.read_table(pa.BufferReader(data))


def time_bounds(table: pa.Table) -> tuple[datetime | None, datetime | None]:
    if table.num_rows == 0:
        return None, None
    bounds = pc.min_max(table.column(sch.TIME_COLUMN))
    return bounds["min"].as_py(), bounds["max"].as_py()


def sort_by_time(table: pa.Table) -> pa.Table:
    return table.sort_by([(sch.TIME_COLUMN, "ascending"), (sch.KEY_COLUMN, "ascending")])


def split_by_partition(table: pa.Table) -> dict[date, pa.Table]:
    """Rows grouped by the UTC day of ``analyzed_at`` (the partition)."""
    days = pc.cast(table.column(sch.TIME_COLUMN), pa.date32())
    out: dict[date, pa.Table] = {}
    for day in pc.unique(days).to_pylist():
        out[day] = table.filter(pc.equal(days, pa.scalar(day, pa.date32())))
    return out


@dataclass(frozen=True)
class WrittenFile:
    key: str
    partition: date
    rows: int
    bytes: int
    min_time: datetime | None
    max_time: datetime | None

    def manifest_row(self, dataset: str, origin: str) -> dict[str, Any]:
        return {
            "object_key": self.key,
            "dataset": dataset,
            "partition_date": self.partition,
            "rows": self.rows,
            "bytes": self.bytes,
            "min_time": self.min_time,
            "max_time": self.max_time,
            "origin": origin,
        }


async def write_file(store: ObjectStore, key: str, partition: date, table: pa.Table) -> WrittenFile:
    data = await asyncio.to_thread(parquet_bytes, table)
    await asyncio.to_thread(store.put_bytes, key, data, "application/vnd.apache.parquet")
    lo, hi = time_bounds(table)
    return WrittenFile(key, partition, table.num_rows, len(data), lo, hi)


# --------------------------------------------------------------------------- metadata


async def ensure_dataset(
    sessions: async_sessionmaker[AsyncSession], name: str, schema: pa.Schema | None = None
) -> None:
    """Register the dataset and its schema (a newer schema version replaces an older)."""
    schema = schema or sch.dataset_schema(name)
    stmt = insert(DATASETS).values(
        name=name,
        schema_version=sch.SCHEMA_VERSION,
        arrow_schema=schema.serialize().to_pybytes(),
        compaction_needed=False,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "schema_version": stmt.excluded.schema_version,
            "arrow_schema": stmt.excluded.arrow_schema,
        },
        where=DATASETS.c.schema_version <= stmt.excluded.schema_version,
    )
    async with sessions() as session, session.begin():
        await session.execute(stmt)


async def register_files(
    session: AsyncSession, dataset: str, files: list[WrittenFile], origin: str
) -> None:
    """Add files to the manifest and mark the dataset as needing compaction."""
    if not files:
        return
    await session.execute(
        insert(FILES),
        [f.manifest_row(dataset, origin) for f in files],
    )
    await session.execute(
        text(
            "UPDATE compaction_datasets SET compaction_needed = true, "
            "needed_since = coalesce(needed_since, now()), last_appended_at = now(), "
            "updated_at = now() WHERE name = :name"
        ),
        {"name": dataset},
    )


# --------------------------------------------------------------------------- archive rows


def _seconds(timings: dict[str, Any] | None, stage: str) -> float | None:
    entry = (timings or {}).get(stage)
    value = entry.get("seconds") if isinstance(entry, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def archive_row(
    event: CallAnalyzed,
    conv: Conversation,
    analysis: MeddicAnalysis | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The archive row of a call (JSON-ready), from its conversation and analysis (pure)."""
    scores = (
        {f"score_{d.dimension.value}": d.score for d in analysis.dimensions} if analysis else {}
    )
    timings = conv.timings if isinstance(conv.timings, dict) else None
    return {
        "conversation_id": str(conv.id),
        "event_id": str(event.event_id),
        "analyzed_at": _iso(event.occurred_at),
        "archived_at": _iso(now or datetime.now(UTC)),
        "status": str(conv.status),
        "failure_reason": conv.failure_reason,
        "opportunity_name": conv.opportunity_name,
        "company_name": conv.company_name,
        "rep_id": conv.rep_id,
        "title": conv.title,
        "conversation_date": conv.conversation_date.isoformat() if conv.conversation_date else None,
        "content_type": conv.content_type,
        "size_bytes": conv.size_bytes,
        "duration_seconds": conv.duration_seconds,
        "priority": conv.priority,
        "overall_score": analysis.overall_score if analysis else event.overall_score,
        "qualification_status": (
            analysis.qualification_status.value if analysis else event.qualification_status.value
        ),
        **{c: scores.get(c) for c in sch.SCORE_COLUMNS},
        "created_at": _iso(conv.created_at),
        "completed_at": _iso(conv.completed_at),
        "upload_seconds": _seconds(timings, "upload"),
        "transcription_seconds": _seconds(timings, "transcription"),
        "analysis_seconds": _seconds(timings, "analysis"),
        "trace_id": conv.trace_id,
    }


async def buffer_row(
    sessions: async_sessionmaker[AsyncSession], dataset: str, row: dict[str, Any]
) -> bool:
    """Ledger entry + buffered row in one transaction; False if already archived."""
    conversation_id = uuid.UUID(row[sch.KEY_COLUMN])
    partition = sch.partition_of(datetime.fromisoformat(row[sch.TIME_COLUMN]))
    async with sessions() as session, session.begin():
        claimed = await session.execute(
            insert(ARCHIVED)
            .values(dataset=dataset, conversation_id=conversation_id, partition_date=partition)
            .on_conflict_do_nothing()
            .returning(ARCHIVED.c.conversation_id)
        )
        if claimed.first() is None:
            return False
        await session.execute(
            insert(BUFFER).values(
                dataset=dataset, conversation_id=conversation_id, partition_date=partition, row=row
            )
        )
    return True


@dataclass(frozen=True)
class FlushResult:
    rows: int
    files: list[WrittenFile]


async def flush_buffer(
    sessions: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    dataset: str,
    max_rows: int = 10_000,
    hook: Callable[[str], Awaitable[None]] | None = None,
) -> FlushResult:
    """Move up to ``max_rows`` buffered rows into one new Parquet file per partition.

    The rows are locked (``SKIP LOCKED``) for the duration, so two flushers never write
    the same row; ``hook("written")`` runs between the upload and the commit (tests).
    """
    b = BUFFER.c
    async with sessions() as session, session.begin():
        result = await session.execute(
            select(b.conversation_id, b.partition_date, b.row)
            .where(b.dataset == dataset)
            .order_by(b.buffered_at)
            .limit(max_rows)
            .with_for_update(skip_locked=True)
        )
        by_partition: dict[date, list[dict[str, Any]]] = defaultdict(list)
        ids: list[uuid.UUID] = []
        for conversation_id, partition, row in result:
            by_partition[partition].append(row)
            ids.append(conversation_id)
        if not ids:
            return FlushResult(0, [])
        written = [
            await write_file(
                store,
                new_file_key(dataset, partition),
                partition,
                sort_by_time(sch.rows_to_table(rows)),
            )
            for partition, rows in sorted(by_partition.items())
        ]
        if hook is not None:
            await hook("written")
        await register_files(session, dataset, written, "archive")
        await session.execute(
            delete(BUFFER).where(b.dataset == dataset, b.conversation_id.in_(ids))
        )
    log.info("archived %d rows of %s into %d files", len(ids), dataset, len(written))
    return FlushResult(len(ids), written)


async def buffer_state(
    sessions: async_sessionmaker[AsyncSession], dataset: str
) -> tuple[int, datetime | None]:
    """How many rows wait in the buffer, and since when the oldest."""
    b = BUFFER.c
    async with sessions() as session:
        row = (
            await session.execute(
                select(func.count(), func.min(b.buffered_at)).where(b.dataset == dataset)
            )
        ).one()
    return int(row[0]), row[1]


@dataclass
class Flusher:
    """Flushes the buffer when ``flush_rows`` wait or the oldest is ``flush_seconds`` old.

    ``notify()`` (after each buffered row) wakes it for the count trigger; otherwise it
    polls at a fraction of ``flush_seconds`` for the time trigger. ``on_flushed`` learns
    of every flush (the app uses it to request compaction of crowded partitions).
    """

    sessions: async_sessionmaker[AsyncSession]
    store: ObjectStore
    dataset: str
    flush_rows: int
    flush_seconds: float
    on_flushed: Callable[[FlushResult], Awaitable[None]] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        self._wake.set()

    async def flush_if_due(self, now: datetime | None = None) -> FlushResult | None:
        count, oldest = await buffer_state(self.sessions, self.dataset)
        now = now or datetime.now(UTC)
        if count == 0:
            return None
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        if count < self.flush_rows and age < self.flush_seconds:
            return None
        result = await flush_buffer(self.sessions, self.store, self.dataset)
        if self.on_flushed is not None and result.rows:
            await self.on_flushed(result)
        return result

    async def run(self) -> None:
        poll = max(0.2, min(5.0, self.flush_seconds / 4))
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), poll)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                while (result := await self.flush_if_due()) is not None and result.rows:
                    pass
            except Exception:
                log.exception("archive flush of %s failed; the rows stay buffered", self.dataset)

    async def drain(self) -> None:
        """Flush everything buffered (on shutdown), whatever its age."""
        while (await flush_buffer(self.sessions, self.store, self.dataset)).rows:
            pass


# --------------------------------------------------------------------------- uploads


async def ingest_uploads(
    sessions: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    dataset: str,
    hook: Callable[[str], Awaitable[None]] | None = None,
) -> int:
    """Split every pending upload of ``dataset`` into partition files; rows whose
    conversation is already archived are dropped (ledger), the rest enter the ledger in
    the same transaction that switches the files into the manifest. Returns rows added."""
    async with sessions() as session:
        uploads = list(
            (
                await session.execute(
                    select(CompactionUpload)
                    .where(
                        CompactionUpload.dataset == dataset,  # type: ignore[arg-type]
                        CompactionUpload.status == "pending",  # type: ignore[arg-type]
                    )
                    .order_by(CompactionUpload.created_at)  # type: ignore[arg-type]
                )
            ).scalars()
        )
        ds = await session.get(CompactionDataset, dataset)
    if ds is None:
        raise PermanentError(f"unknown dataset {dataset!r}")
    expected = pa.ipc.read_schema(pa.py_buffer(ds.arrow_schema))
    added = 0
    for upload in uploads:
        added += await _ingest_upload(sessions, store, dataset, upload, expected, hook)
    return added


async def _ingest_upload(
    sessions: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    dataset: str,
    upload: CompactionUpload,
    expected: pa.Schema,
    hook: Callable[[str], Awaitable[None]] | None,
) -> int:
    try:
        data = await asyncio.to_thread(store.get_bytes, upload.staging_key)
        table = sch.conform(await asyncio.to_thread(read_parquet, data), expected)
    except (pa.ArrowException, ValueError) as exc:
        async with sessions() as session, session.begin():
            await session.execute(
                update(UPLOADS)
                .where(UPLOADS.c.id == upload.id)
                .values(status="rejected", error=str(exc)[:2000])
            )
        log.warning("upload %s rejected: %s", upload.id, exc)
        return 0
    ids = [uuid.UUID(v) for v in table.column(sch.KEY_COLUMN).to_pylist()]
    async with sessions() as session:
        known = set(
            (
                await session.execute(
                    select(ArchivedConversation.conversation_id).where(  # type: ignore[call-overload]
                        ArchivedConversation.dataset == dataset,
                        ArchivedConversation.conversation_id.in_(ids),  # type: ignore[attr-defined]
                    )
                )
            ).scalars()
        )
    keep: list[int] = []
    seen: set[uuid.UUID] = set()
    for i, cid in enumerate(ids):
        if cid not in known and cid not in seen:
            seen.add(cid)
            keep.append(i)
    table = table.take(pa.array(keep, pa.int64()))
    written = [
        await write_file(store, new_file_key(dataset, p), p, sort_by_time(t))
        for p, t in sorted(split_by_partition(table).items())
    ]
    if hook is not None:
        await hook("written")
    async with sessions() as session, session.begin():
        claimed = await session.execute(
            update(UPLOADS)
            .where(
                UPLOADS.c.id == upload.id,
                UPLOADS.c.status == "pending",
            )
            .values(status="ingested", ingested_at=datetime.now(UTC), rows=len(keep))
            .returning(UPLOADS.c.id)
        )
        if claimed.first() is None:
            # Another replica ingested it meanwhile: our files must never become live.
            for f in written:
                await asyncio.to_thread(_remove_quietly, store, f.key)
            return 0
        days = pc.cast(table.column(sch.TIME_COLUMN), pa.date32()).to_pylist()
        if keep:
            await session.execute(
                insert(ARCHIVED).on_conflict_do_nothing(),
                [
                    {"dataset": dataset, "conversation_id": cid, "partition_date": day}
                    for cid, day in zip([ids[i] for i in keep], days, strict=True)
                ],
            )
        await register_files(session, dataset, written, "upload")
    await asyncio.to_thread(_remove_quietly, store, upload.staging_key)
    log.info("upload %s: %d new rows into %d files", upload.id, len(keep), len(written))
    return len(keep)


def _remove_quietly(store: ObjectStore, key: str) -> None:
    try:
        store.remove(key)
    except Exception:
        log.warning("could not remove %s; the orphan sweep will", key, exc_info=True)
