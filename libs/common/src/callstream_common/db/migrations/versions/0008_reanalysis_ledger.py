"""re-analysis ledger and the transcript's diarization

``processed_messages`` is gone (0004): the stages are idempotent by natural keys. A
re-analysis is not (each one adds a version), so it gets its own ledger of applied
requests. The transcript keeps how its speakers were told apart.

Revision ID: 0008_reanalysis_ledger
Revises: 0007_slack
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_reanalysis_ledger"
down_revision: str | None = "0007_slack"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reanalysis_requests",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        "ix_reanalysis_requests_conversation_id", "reanalysis_requests", ["conversation_id"]
    )
    op.add_column(
        "transcripts",
        sa.Column("diarization", sa.String(), server_default="none", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("transcripts", "diarization")
    op.drop_index("ix_reanalysis_requests_conversation_id", table_name="reanalysis_requests")
    op.drop_table("reanalysis_requests")
