"""score columns: the overall score, the qualification status and the per-dimension
scores of a call as typed columns generated from its analysis summary, and an index
that covers the dashboard's aggregates

The dashboard and the performance pages aggregate these over every call of a scope
(100,000 for an admin); reading them out of the JSONB summary cost a parse per field per
row, in two passes per dashboard. Stored generated columns are computed once, when the
summary is written (by the pipeline, a re-analysis or COPY), so the summary stays the one
source of truth. A value that is not a JSON number reads as NULL (no score), never an
error that would fail the write.

The list's score and qualification indexes move from the JSON expressions to the columns
(same names, same order). The rep index ``(rep_id, created_at, id)`` becomes
``ix_conversations_rep_tally``: the same keys (it serves the same lists) plus the status
and the score columns, so the dashboard's tally of a scope — a rep's, a team's or the
whole organisation's — is an index-only scan instead of a pass over the table.
``updated_at`` stays out of it: a timing update touches only that column and should stay
a HOT update.

Adding the columns rewrites the table under an exclusive lock (3 to 9 s for 100,000
calls on the loaded 2-core bench machine; writes wait meanwhile). The rewritten table has
no visibility map, and a rewrite does not count as changes for autovacuum, so the
migration vacuums it (outside the transaction): until then an index-only scan reads the
table after all and the planner scans it instead.

Revision ID: 0012_score_columns
Revises: 0011_cache_facets
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_score_columns"
down_revision: str | None = "0011_cache_facets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMENSIONS = (
    "metrics",
    "economic_buyer",
    "decision_criteria",
    "decision_process",
    "identify_pain",
    "champion",
)
"""The MEDDIC dimensions as they were when this revision was written (a later dimension
gets its column in a revision of its own)."""


def _number(*path: str) -> str:
    """The JSON number at ``path`` (keys from the summary down) as double precision."""
    *parents, leaf = (f"'{key}'" for key in path)
    node = " -> ".join(["analysis_summary", *parents])
    return (
        f"CASE WHEN jsonb_typeof({node} -> {leaf}) = 'number' "
        f"THEN ({node} ->> {leaf})::double precision END"
    )


COLUMNS = {
    "overall_score": ("double precision", _number("overall_score")),
    "qualification_status": ("text", "analysis_summary ->> 'qualification_status'"),
    **{f"score_{d}": ("double precision", _number("scores", d)) for d in DIMENSIONS},
}
"""Column → (type, expression over the summary)."""
INDEXES = {
    "ix_conversations_score": (
        "(overall_score, id)",
        "(((analysis_summary ->> 'overall_score')::double precision), id)",
    ),
    "ix_conversations_qualification_created": (
        "(qualification_status, created_at, id)",
        "((analysis_summary ->> 'qualification_status'), created_at, id)",
    ),
}
"""Index → (its columns now, its JSON expressions before)."""
TALLY_INDEX = (
    "CREATE INDEX ix_conversations_rep_tally ON conversations (rep_id, created_at, id) "
    f"INCLUDE (status, {', '.join(COLUMNS)})"
)


def upgrade() -> None:
    added = ", ".join(
        f"ADD COLUMN {name} {kind} GENERATED ALWAYS AS ({expression}) STORED"
        for name, (kind, expression) in COLUMNS.items()
    )
    op.execute(f"ALTER TABLE conversations {added}")
    for name, (columns, _) in INDEXES.items():
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(f"CREATE INDEX {name} ON conversations {columns}")
    op.execute(TALLY_INDEX)
    op.execute("DROP INDEX IF EXISTS ix_conversations_rep_created")
    with op.get_context().autocommit_block():
        op.execute("VACUUM (ANALYZE) conversations")


def downgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_conversations_rep_created ON conversations "
        "(rep_id, created_at, id)"
    )
    op.execute("DROP INDEX IF EXISTS ix_conversations_rep_tally")
    for name, (_, expressions) in INDEXES.items():
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(f"CREATE INDEX {name} ON conversations {expressions}")
    op.execute("ALTER TABLE conversations " + ", ".join(f"DROP COLUMN {name}" for name in COLUMNS))
