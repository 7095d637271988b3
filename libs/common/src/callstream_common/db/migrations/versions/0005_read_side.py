"""read side: opportunities, analysis versions, teams, credential expiry, search and
filter indexes, change notifications

Revision ID: 0005_read_side
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_read_side"
down_revision: str | None = "0004_drop_processed_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCORE = "((analysis_summary ->> 'overall_score')::double precision)"
QUALIFICATION = "(analysis_summary ->> 'qualification_status')"

CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION callstream_notify_conversation_change() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('callstream_conversation_changed', json_build_object(
    'id', NEW.id, 'rep_id', NEW.rep_id, 'opportunity_id', NEW.opportunity_id,
    'team_id', (SELECT team_id FROM reps WHERE id = NEW.rep_id),
    'status', NEW.status, 'at', extract(epoch FROM clock_timestamp()))::text);
  RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
CHANGE_TRIGGER = """
CREATE TRIGGER conversations_changed
AFTER UPDATE ON conversations FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status
      OR OLD.analysis_summary IS DISTINCT FROM NEW.analysis_summary)
EXECUTE FUNCTION callstream_notify_conversation_change()
"""


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        server_default=None if nullable else sa.text("now()"),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(
        "INSERT INTO teams (id, name) SELECT DISTINCT team_id, team_id FROM reps "
        "WHERE team_id IS NOT NULL ON CONFLICT DO NOTHING"
    )
    op.add_column("reps", sa.Column("active", sa.Boolean(), server_default="true", nullable=False))
    op.add_column("api_credentials", _ts("expires_at", nullable=True))

    op.create_table(
        "opportunities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rep_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("company_name", sa.String(), nullable=True),
        sa.Column("match_key", sa.String(length=700), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("last_call_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("match_key"),
    )
    op.create_index("ix_opportunities_rep_id", "opportunities", ["rep_id"])
    op.create_index("ix_opportunities_last_call", "opportunities", ["last_call_at", "id"])
    op.add_column("conversations", sa.Column("opportunity_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "fk_conversations_opportunity", "conversations", "opportunities", ["opportunity_id"], ["id"]
    )
    op.execute(
        """
        INSERT INTO opportunities (id, rep_id, name, company_name, match_key, last_call_at)
        SELECT gen_random_uuid(), rep_id, min(opportunity_name), min(company_name), key,
               max(created_at)
        FROM (SELECT rep_id, opportunity_name, company_name, created_at,
                     rep_id || '|' || lower(btrim(opportunity_name)) || '|'
                     || lower(btrim(coalesce(company_name, ''))) AS key
              FROM conversations) c
        GROUP BY rep_id, key
        """
    )
    op.execute(
        """
        UPDATE conversations c SET opportunity_id = o.id FROM opportunities o
        WHERE o.match_key = c.rep_id || '|' || lower(btrim(c.opportunity_name)) || '|'
                            || lower(btrim(coalesce(c.company_name, '')))
        """
    )

    op.add_column(
        "meddic_analyses", sa.Column("version", sa.Integer(), server_default="1", nullable=False)
    )
    op.create_table(
        "analysis_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("overall_score", sa.Float(), nullable=False),
        sa.Column("qualification_status", sa.String(length=16), nullable=False),
        *(
            sa.Column(c, postgresql.JSONB(astext_type=sa.Text()), nullable=False)
            for c in ("dimensions", "key_findings", "next_steps", "risks", "agent_outputs")
        ),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        _ts("analyzed_at"),
        _ts("superseded_at"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "version"),
    )
    op.create_index(
        "ix_analysis_versions_conversation_id", "analysis_versions", ["conversation_id"]
    )

    # One index per filter of GET /v1/conversations, each also serving the keyset order
    # (scanned backwards for newest first) so that a filtered page stops after `limit` rows.
    op.create_index("ix_conversations_created_id", "conversations", ["created_at", "id"])
    op.create_index(
        "ix_conversations_rep_created",
        "conversations",
        ["rep_id", "created_at", "id"],
    )
    op.create_index(
        "ix_conversations_opportunity_created",
        "conversations",
        ["opportunity_id", "created_at", "id"],
    )
    op.execute(
        f"CREATE INDEX ix_conversations_qualification_created ON conversations "
        f"({QUALIFICATION}, created_at, id)"
    )
    op.execute(f"CREATE INDEX ix_conversations_score ON conversations ({SCORE}, id)")
    op.execute(
        "ALTER TABLE conversations ADD COLUMN search tsvector GENERATED ALWAYS AS "
        "(to_tsvector('english', coalesce(title, '') || ' ' || coalesce(company_name, '') "
        "|| ' ' || coalesce(opportunity_name, ''))) STORED"
    )
    op.execute("CREATE INDEX ix_conversations_search ON conversations USING gin (search)")
    op.execute(
        "ALTER TABLE transcripts ADD COLUMN search tsvector GENERATED ALWAYS AS "
        "(to_tsvector('english', left(text, 200000))) STORED"
    )
    op.execute("CREATE INDEX ix_transcripts_search ON transcripts USING gin (search)")
    op.execute(CHANGE_FUNCTION)
    op.execute(CHANGE_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS conversations_changed ON conversations")
    op.execute("DROP FUNCTION IF EXISTS callstream_notify_conversation_change()")
    op.execute("DROP INDEX IF EXISTS ix_transcripts_search")
    op.execute("ALTER TABLE transcripts DROP COLUMN IF EXISTS search")
    op.execute("DROP INDEX IF EXISTS ix_conversations_search")
    op.execute("ALTER TABLE conversations DROP COLUMN IF EXISTS search")
    for name in (
        "ix_conversations_score",
        "ix_conversations_qualification_created",
        "ix_conversations_opportunity_created",
        "ix_conversations_rep_created",
        "ix_conversations_created_id",
    ):
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_table("analysis_versions")
    op.drop_column("meddic_analyses", "version")
    op.drop_constraint("fk_conversations_opportunity", "conversations", type_="foreignkey")
    op.drop_column("conversations", "opportunity_id")
    op.drop_table("opportunities")
    op.drop_column("api_credentials", "expires_at")
    op.drop_column("reps", "active")
    op.drop_table("teams")
