"""compaction: archive datasets, manifest, runs, ledger, buffer, uploads, schedule

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = True, default: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=sa.text("now()") if default else None,
        nullable=nullable,
    )


def _str(name: str, length: int | None = None, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "compaction_datasets",
        _str("name", 64),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("arrow_schema", sa.LargeBinary(), nullable=False),
        sa.Column("compaction_needed", sa.Boolean(), nullable=False),
        _ts("needed_since"),
        _ts("last_appended_at"),
        _ts("last_compacted_at"),
        _ts("created_at", nullable=False, default=True),
        _ts("updated_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "compaction_files",
        _str("object_key", 512),
        _str("dataset", 64),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        _ts("min_time"),
        _ts("max_time"),
        _str("origin", 16),
        _ts("created_at", nullable=False, default=True),
        sa.ForeignKeyConstraint(["dataset"], ["compaction_datasets.name"]),
        sa.PrimaryKeyConstraint("object_key"),
    )
    op.create_index(
        "ix_compaction_files_partition", "compaction_files", ["dataset", "partition_date"]
    )
    op.create_table(
        "compaction_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        _str("dataset", 64),
        sa.Column("partition_date", sa.Date(), nullable=True),
        _str("trigger", 16),
        sa.Column("status", sa.String(length=16), nullable=False),
        _str("step", 32),
        sa.Column("input_keys", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("output_keys", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("files_before", sa.Integer(), nullable=False),
        sa.Column("files_after", sa.Integer(), nullable=False),
        sa.Column("rows_before", sa.BigInteger(), nullable=False),
        sa.Column("rows_after", sa.BigInteger(), nullable=False),
        sa.Column("bytes_before", sa.BigInteger(), nullable=False),
        sa.Column("bytes_after", sa.BigInteger(), nullable=False),
        _str("error", nullable=True),
        _ts("started_at", nullable=False, default=True),
        _ts("finished_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_compaction_runs_dataset_started", "compaction_runs", ["dataset", "started_at"]
    )
    op.create_index("ix_compaction_runs_status", "compaction_runs", ["status"])
    op.create_table(
        "compaction_archived",
        _str("dataset", 64),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        _ts("archived_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("dataset", "conversation_id"),
    )
    op.create_table(
        "compaction_buffer",
        _str("dataset", 64),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("partition_date", sa.Date(), nullable=False),
        sa.Column("row", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _ts("buffered_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("dataset", "conversation_id"),
    )
    op.create_table(
        "compaction_uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        _str("dataset", 64),
        _str("staging_key", 512),
        _str("filename", nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        _str("status", 16),
        _str("error", nullable=True),
        sa.Column("uploaded_by", sa.Uuid(), nullable=True),
        _ts("created_at", nullable=False, default=True),
        _ts("ingested_at"),
        sa.ForeignKeyConstraint(["dataset"], ["compaction_datasets.name"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_compaction_uploads_dataset", "compaction_uploads", ["dataset"])
    op.create_table(
        "compaction_schedule_slots",
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("datasets", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        _ts("claimed_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("slot_at"),
    )


def downgrade() -> None:
    op.drop_table("compaction_schedule_slots")
    op.drop_index("ix_compaction_uploads_dataset", table_name="compaction_uploads")
    op.drop_table("compaction_uploads")
    op.drop_table("compaction_buffer")
    op.drop_table("compaction_archived")
    op.drop_index("ix_compaction_runs_status", table_name="compaction_runs")
    op.drop_index("ix_compaction_runs_dataset_started", table_name="compaction_runs")
    op.drop_table("compaction_runs")
    op.drop_index("ix_compaction_files_partition", table_name="compaction_files")
    op.drop_table("compaction_files")
    op.drop_table("compaction_datasets")
