"""Tables of the Parquet archive and its compaction (SQLModel).

They live in libs/common because two services meet in them: the compactor writes them and
ingest's compaction API lists them and records uploads. The object store holds the data;
these tables hold the truth about it:

* ``compaction_files`` is the *manifest*: the live files of each partition. A file that is
  in the store but not here is an orphan (written by a run that never switched it in) and
  is never read; switching a compaction's outputs in is one transaction on this table.
* ``compaction_archived`` is the ledger of archived conversation ids, written in the same
  transaction as the row's arrival, so a redelivered ``CallAnalyzed`` archives nothing new.
* ``compaction_buffer`` holds archived rows that are durable but not yet in a Parquet file
  (flushed by count or age), so the consumer may commit its offset without waiting.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, String, Table
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from callstream_common.db.models import _ts


class CompactionDataset(SQLModel, table=True):
    """A dataset of the archive with its versioned Arrow schema (IPC-serialised), so that
    a service without the compactor's code (ingest) can check an upload against it."""

    __tablename__ = "compaction_datasets"

    name: str = Field(primary_key=True, max_length=64)
    schema_version: int
    arrow_schema: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    compaction_needed: bool = False
    needed_since: datetime | None = _ts(nullable=True, default=False)
    last_appended_at: datetime | None = _ts(nullable=True, default=False)
    last_compacted_at: datetime | None = _ts(nullable=True, default=False)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class DatasetFile(SQLModel, table=True):
    """One live Parquet file of a partition (the manifest)."""

    __tablename__ = "compaction_files"
    __table_args__ = (Index("ix_compaction_files_partition", "dataset", "partition_date"),)

    object_key: str = Field(primary_key=True, max_length=512)
    dataset: str = Field(foreign_key="compaction_datasets.name", max_length=64)
    partition_date: date
    rows: int = Field(sa_column=Column(BigInteger, nullable=False))
    bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    min_time: datetime | None = _ts(nullable=True, default=False)
    max_time: datetime | None = _ts(nullable=True, default=False)
    origin: str = Field(max_length=16)
    """``archive`` (flushed from the buffer), ``upload`` or ``compaction``."""
    created_at: datetime = _ts()


class CompactionRunStatus:
    RUNNING = "running"
    SWITCHED = "switched"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NOOP = "noop"


class CompactionRun(SQLModel, table=True):
    """One compaction of one partition. Its planned output keys are recorded *before*
    any is written, so a run that dies before its switch can be undone exactly; one that
    dies after it can be finished (its inputs deleted)."""

    __tablename__ = "compaction_runs"
    __table_args__ = (
        Index("ix_compaction_runs_dataset_started", "dataset", "started_at"),
        Index("ix_compaction_runs_status", "status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    dataset: str = Field(max_length=64)
    partition_date: date | None = None
    trigger: str = Field(max_length=16)
    status: str = Field(sa_column=Column(String(16), nullable=False))
    step: str = Field(default="validate", max_length=32)
    input_keys: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    output_keys: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    files_before: int = 0
    files_after: int = 0
    rows_before: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    rows_after: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    bytes_before: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    bytes_after: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    error: str | None = None
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True, default=False)


class ArchivedConversation(SQLModel, table=True):
    """Ledger: a conversation is archived at most once per dataset."""

    __tablename__ = "compaction_archived"

    dataset: str = Field(primary_key=True, max_length=64)
    conversation_id: uuid.UUID = Field(primary_key=True)
    partition_date: date
    archived_at: datetime = _ts()


class ArchiveBufferRow(SQLModel, table=True):
    """An archived row waiting for the next flush into a Parquet file."""

    __tablename__ = "compaction_buffer"

    dataset: str = Field(primary_key=True, max_length=64)
    conversation_id: uuid.UUID = Field(primary_key=True)
    partition_date: date
    row: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    buffered_at: datetime = _ts()


class CompactionUpload(SQLModel, table=True):
    """A validated Parquet file uploaded into a dataset, staged until the compactor
    splits it into partitions (``pending`` → ``ingested`` | ``rejected``)."""

    __tablename__ = "compaction_uploads"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    dataset: str = Field(foreign_key="compaction_datasets.name", max_length=64, index=True)
    staging_key: str = Field(max_length=512)
    filename: str | None = None
    rows: int = Field(sa_column=Column(BigInteger, nullable=False))
    bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(default="pending", max_length=16)
    error: str | None = None
    uploaded_by: uuid.UUID | None = None
    created_at: datetime = _ts()
    ingested_at: datetime | None = _ts(nullable=True, default=False)


class CompactionScheduleSlot(SQLModel, table=True):
    """One scheduled firing, claimed by exactly one compactor replica."""

    __tablename__ = "compaction_schedule_slots"

    slot_at: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    datasets: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    claimed_at: datetime = _ts()


def table(model: type[SQLModel]) -> Table:
    """The Core table of a model, typed (SQLModel leaves ``__table__`` untyped)."""
    t = model.__table__  # type: ignore[attr-defined]
    assert isinstance(t, Table)
    return t


DATASETS = table(CompactionDataset)
FILES = table(DatasetFile)
RUNS = table(CompactionRun)
ARCHIVED = table(ArchivedConversation)
BUFFER = table(ArchiveBufferRow)
UPLOADS = table(CompactionUpload)
SCHEDULE_SLOTS = table(CompactionScheduleSlot)
