"""Every filter of GET /v1/conversations is served by an index (EXPLAIN, not timing).

The planner may prefer a sequential scan on a small table, so the check disables it
(``enable_seqscan = off``): what is proved is that an index *able* to serve the filter
exists and is chosen when scanning would cost more — as it does on 100,000 rows. Values
are selective ones (a status most calls do not have, a tracker no call has a hit of), as
a filter worth an index is. The plans are taken in a database of their own (migrated,
then 3,000 calls seeded like the bench's 100,000), so the planner's statistics depend
neither on which tests ran before nor on what a kept test stack has piled up.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench.read_seed import SeedPlan, seed
from callstream_common.reads.analytics import TALLY_PLANNING, TALLY_SQL
from callstream_common.reads.conversations import list_sql, scope_sql
from callstream_common.reads.filters import ConversationQuery
from callstream_common.reads.scope import Scope
from tests.support.scratch_database import scratch_database

pytestmark = pytest.mark.stack

# Score bounds are selective (few seeded calls average above 4.6 or below 1.5), as they are
# when an index pays; at a common bound such as 4.0 the planner rightly walks the newest-first
# index and filters, and which of the two it picks then depends on ANALYZE's statistics.
CASES: list[tuple[dict[str, Any], str]] = [
    ({}, "ix_conversations_created_id"),
    ({"status": "failed"}, "ix_conversations_status_created"),
    ({"rep_id": "rep-a"}, "ix_conversations_rep_"),
    ({"team_id": "team-east"}, "ix_conversations_rep_"),
    ({"opportunity_id": str(uuid.UUID(int=1))}, "ix_conversations_opportunity_created"),
    ({"qualification_status": "Strong"}, "ix_conversations_qualification_created"),
    ({"min_score": 4.6}, "ix_conversations_score"),
    ({"max_score": 1.5}, "ix_conversations_score"),
    ({"sort": "score"}, "ix_conversations_score"),
    ({"from": datetime(2026, 1, 1, tzinfo=UTC)}, "Index Cond: (created_at >="),
    ({"q": "pricing"}, "ix_conversations_search"),
    ({"q": "pricing"}, "ix_transcripts_search"),
    ({"tracker": "competitors"}, "ix_meddic_analyses_trackers"),
    ({"tracker": "competitors", "speaker_role": "prospect"}, "ix_meddic_analyses_trackers"),
    ({"tracker": "competitors", "sort": "score"}, "ix_meddic_analyses_trackers"),
]


EXPLAIN_DATABASE = "callstream_explain"
REPS = [("rep-a", "team-east"), ("rep-b", "team-east"), ("rep-c", "team-west")] + [
    (f"rep-{i:02d}", f"team-{i % 5}") for i in range(27)
]


@pytest.fixture(scope="module")
async def explain_sessions(endpoints: Any) -> AsyncIterator[Any]:
    from callstream_common.db.migrate import upgrade

    async with scratch_database(endpoints, EXPLAIN_DATABASE) as scratch:
        await asyncio.to_thread(upgrade, scratch)
        plan = SeedPlan(reps=REPS, opportunities=300, conversations=3000, tracker="pricing")
        await seed(scratch.replace("+asyncpg", ""), plan)
        engine = create_async_engine(scratch)
        yield async_sessionmaker(engine)
        await engine.dispose()


# (filters, the index — or the index condition — that must appear in the plan)
@pytest.mark.parametrize(("filters", "index"), CASES)
async def test_every_filter_uses_an_index(
    explain_sessions: Any, filters: dict[str, Any], index: str
) -> None:
    sql, params = list_sql(Scope.everything(), ConversationQuery.model_validate(filters))
    async with explain_sessions() as session, session.begin():
        await session.execute(text("ANALYZE conversations"))
        await session.execute(text("ANALYZE meddic_analyses"))
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            r[0] for r in (await session.execute(text(f"EXPLAIN {sql}"), params)).all()
        )
    assert index in plan and "Seq Scan" not in plan, plan


@pytest.mark.parametrize(
    "scope",
    [
        Scope.everything(),
        Scope.of("manager", "rep-c", "team-east"),
        Scope.of("user", "rep-a", None),
    ],
    ids=["admin", "manager", "user"],
)
async def test_the_dashboard_tally_reads_its_covering_index_alone(
    explain_sessions: Any, scope: Scope
) -> None:
    """The dashboard's one pass over a scope (its distributions and averages) is an
    index-only scan, planned as the dashboard plans it (no scan disabled): every column it
    reads is in ``ix_conversations_rep_tally``, and a manager's scope is an index
    condition, not a filter over the whole table."""
    where, params = scope_sql(scope)
    async with explain_sessions() as session, session.begin():
        await session.execute(text("ANALYZE conversations"))
        await session.execute(text(TALLY_PLANNING))
        plan = "\n".join(
            r[0]
            for r in (
                await session.execute(text(f"EXPLAIN {TALLY_SQL.format(where=where)}"), params)
            ).all()
        )
    assert "Index Only Scan using ix_conversations_rep_tally" in plan, plan
    assert "Seq Scan on conversations" not in plan, plan
    if scope.team_id:
        assert "Index Cond: (rep_id = ANY" in plan, plan
