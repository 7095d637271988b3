"""Archive metadata that both the compactor and ingest's compaction API read or write.

Only what both sides need lives here: looking a dataset up, listing datasets (with their
live files aggregated from the manifest) and runs, and recording an upload. The workflow
itself (writing Parquet, switching manifests) belongs to the compactor alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.db.compaction_models import (
    DATASETS,
    FILES,
    CompactionDataset,
    CompactionRun,
    CompactionUpload,
)


def dataset_prefix(dataset: str) -> str:
    """Every object of a dataset lives under this prefix (partitions and staging)."""
    return f"datasets/{dataset}/"


def staging_key(dataset: str, upload_id: uuid.UUID) -> str:
    return f"{dataset_prefix(dataset)}_staging/{upload_id}.parquet"


@dataclass(frozen=True)
class DatasetSummary:
    name: str
    schema_version: int
    files: int
    partitions: int
    rows: int
    bytes: int
    compaction_needed: bool
    needed_since: datetime | None
    last_appended_at: datetime | None
    last_compacted_at: datetime | None


async def get_dataset(session: AsyncSession, name: str) -> CompactionDataset | None:
    return await session.get(CompactionDataset, name)


async def list_datasets(session: AsyncSession) -> list[DatasetSummary]:
    f = FILES.c
    totals = (
        select(
            f.dataset,
            func.count().label("files"),
            func.count(func.distinct(f.partition_date)).label("partitions"),
            func.coalesce(func.sum(f.rows), 0).label("rows"),
            func.coalesce(func.sum(f.bytes), 0).label("bytes"),
        )
        .group_by(f.dataset)
        .subquery()
    )
    d = DATASETS.c
    result = await session.execute(
        select(
            d.name,
            d.schema_version,
            d.compaction_needed,
            d.needed_since,
            d.last_appended_at,
            d.last_compacted_at,
            totals.c.files,
            totals.c.partitions,
            totals.c.rows,
            totals.c.bytes,
        )
        .select_from(DATASETS.outerjoin(totals, totals.c.dataset == d.name))
        .order_by(d.name)
    )
    return [
        DatasetSummary(
            name=r.name,
            schema_version=r.schema_version,
            files=int(r.files or 0),
            partitions=int(r.partitions or 0),
            rows=int(r.rows or 0),
            bytes=int(r.bytes or 0),
            compaction_needed=r.compaction_needed,
            needed_since=r.needed_since,
            last_appended_at=r.last_appended_at,
            last_compacted_at=r.last_compacted_at,
        )
        for r in result
    ]


async def list_runs(
    session: AsyncSession, dataset: str | None = None, limit: int = 50
) -> list[CompactionRun]:
    query = select(CompactionRun).order_by(CompactionRun.started_at.desc()).limit(limit)  # type: ignore[attr-defined]
    if dataset is not None:
        query = query.where(CompactionRun.dataset == dataset)  # type: ignore[arg-type]
    return list((await session.execute(query)).scalars())


async def register_upload(
    session: AsyncSession,
    upload_id: uuid.UUID,
    dataset: str,
    key: str,
    rows: int,
    size: int,
    filename: str | None,
    uploaded_by: uuid.UUID | None,
) -> CompactionUpload:
    """Record a validated, staged upload in the caller's transaction (``pending``)."""
    upload = CompactionUpload(
        id=upload_id,
        dataset=dataset,
        staging_key=key,
        filename=filename,
        rows=rows,
        bytes=size,
        uploaded_by=uploaded_by,
    )
    session.add(upload)
    await session.flush()
    return upload
