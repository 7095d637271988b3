"""Every filter of GET /v1/conversations is served by an index (EXPLAIN, not timing).

The planner may prefer a sequential scan on a small table, so the check disables it
(``enable_seqscan = off``): what is proved is that an index *able* to serve the filter
exists and is chosen when scanning would cost more — as it does on 100,000 rows. Values
are selective ones (a status most calls do not have), as a filter worth an index is.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from callstream_common.reads.conversations import list_sql
from callstream_common.reads.filters import ConversationQuery
from callstream_common.reads.scope import Scope

pytestmark = pytest.mark.stack

CASES: list[tuple[dict[str, Any], str]] = [
    ({}, "ix_conversations_created_id"),
    ({"status": "failed"}, "ix_conversations_status_created"),
    ({"rep_id": "rep-a"}, "ix_conversations_rep_"),
    ({"team_id": "team-east"}, "ix_conversations_rep_"),
    ({"opportunity_id": str(uuid.UUID(int=1))}, "ix_conversations_opportunity_created"),
    ({"qualification_status": "Strong"}, "ix_conversations_qualification_created"),
    ({"min_score": 4.0}, "ix_conversations_score"),
    ({"max_score": 2.0}, "ix_conversations_score"),
    ({"sort": "score"}, "ix_conversations_score"),
    ({"from": datetime(2026, 1, 1, tzinfo=UTC)}, "Index Cond: (created_at >="),
    ({"q": "pricing"}, "ix_conversations_search"),
    ({"q": "pricing"}, "ix_transcripts_search"),
]


# (filters, the index — or the index condition — that must appear in the plan)
@pytest.mark.parametrize(("filters", "index"), CASES)
async def test_every_filter_uses_an_index(
    stack: Any, sessions: Any, filters: dict[str, Any], index: str
) -> None:
    sql, params = list_sql(Scope.everything(), ConversationQuery.model_validate(filters))
    async with sessions() as session, session.begin():
        await session.execute(text("ANALYZE conversations"))
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            r[0] for r in (await session.execute(text(f"EXPLAIN {sql}"), params)).all()
        )
    assert index in plan and "Seq Scan" not in plan, plan
