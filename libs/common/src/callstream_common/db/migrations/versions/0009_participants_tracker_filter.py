"""participants of an upload; the index behind the conversations list's tracker filter

The names an upload gives for the people on the call are kept on the conversation (they
travel to the transcriber as custom vocabulary and are shown with the call). Tracker hits
live in the analysis' ``trackers`` JSONB array; a GIN index (``jsonb_path_ops``) serves
"has at least one hit of tracker X (said by role R)" as one containment test
(``trackers @> '[{"tracker": X, "role": R}]'``).

Revision ID: 0009_participants_tracker_filter
Revises: 0008_reanalysis_ledger
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_participants_tracker_filter"
down_revision: str | None = "0008_reanalysis_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column(
            "participants",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.execute(
        "CREATE INDEX ix_meddic_analyses_trackers ON meddic_analyses "
        "USING gin (trackers jsonb_path_ops)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_meddic_analyses_trackers")
    op.drop_column("conversations", "participants")
