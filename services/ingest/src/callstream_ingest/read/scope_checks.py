"""A rep, team or opportunity named in a request must be inside the caller's scope; if it
is not (or does not exist) the answer is 404, never an empty page that would confirm it.
A tracker belongs to the whole organisation (everyone signed in may read them), so an
unknown one is simply an invalid value: 422 naming the field."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.db.trackers import tracker_by_reference
from callstream_common.reads.filters import ConversationQuery
from callstream_common.reads.scope import Scope, ScopeKind
from callstream_ingest.read.common import invalid, not_found


async def rep_team(session: AsyncSession, rep_id: str) -> tuple[bool, str | None]:
    row = (
        await session.execute(text("SELECT team_id FROM reps WHERE id = :id"), {"id": rep_id})
    ).first()
    return (row is not None, row[0] if row is not None else None)


async def check_rep(session: AsyncSession, scope: Scope, rep_id: str) -> None:
    known, team_id = await rep_team(session, rep_id)
    if not scope.sees(rep_id, team_id):
        raise not_found(f"rep {rep_id}")
    if not known and scope.kind == ScopeKind.ALL:
        has_calls = (
            await session.execute(
                text("SELECT 1 FROM conversations WHERE rep_id = :id LIMIT 1"), {"id": rep_id}
            )
        ).first()
        if has_calls is None:
            raise not_found(f"rep {rep_id}")


async def check_team(session: AsyncSession, scope: Scope, team_id: str) -> None:
    if not scope.sees_team(team_id):
        raise not_found(f"team {team_id}")
    exists = (
        await session.execute(
            text(
                "SELECT 1 FROM teams WHERE id = :id "
                "UNION ALL SELECT 1 FROM reps WHERE team_id = :id LIMIT 1"
            ),
            {"id": team_id},
        )
    ).first()
    if exists is None:
        raise not_found(f"team {team_id}")


async def check_opportunity(session: AsyncSession, scope: Scope, opportunity_id: uuid.UUID) -> None:
    row = (
        await session.execute(
            text(
                "SELECT o.rep_id, r.team_id FROM opportunities o "
                "LEFT JOIN reps r ON r.id = o.rep_id WHERE o.id = :id"
            ),
            {"id": opportunity_id},
        )
    ).first()
    if row is None or not scope.sees(row[0], row[1]):
        raise not_found(f"opportunity {opportunity_id}")


async def check_filters_in_scope(
    session: AsyncSession,
    scope: Scope,
    rep_id: str | None,
    team_id: str | None,
    opportunity_id: uuid.UUID | None,
) -> None:
    if rep_id is not None:
        await check_rep(session, scope, rep_id)
    if team_id is not None:
        await check_team(session, scope, team_id)
    if opportunity_id is not None:
        await check_opportunity(session, scope, opportunity_id)


async def checked_query(
    session: AsyncSession, scope: Scope, query: ConversationQuery
) -> ConversationQuery:
    """The list's query once its filters are known to be in scope, with the tracker (given
    by name or id) resolved to its name, which is what the analysis' hits carry."""
    await check_filters_in_scope(session, scope, query.rep_id, query.team_id, query.opportunity_id)
    if query.tracker is None:
        return query
    tracker = await tracker_by_reference(session, query.tracker)
    if tracker is None:
        raise invalid("query.tracker", f"no tracker named {query.tracker!r} (name or id)")
    return query.model_copy(update={"tracker": tracker.name})
