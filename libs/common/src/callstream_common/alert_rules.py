"""Alert rules as stored, and the alerts they raised: listed, added and removed by the web
console and the ``callstream alerts`` command, which share these functions (the notifier
evaluates the enabled rules for every analysed call)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from callstream_common.db.models import AlertRow, AlertRuleRow, Conversation

RULE_KINDS = ("overall_below", "status_is", "dimension_at_most", "any_dimension_at_most")
ALERT_HISTORY_LIMIT = 100


async def alert_rules(session: AsyncSession) -> list[AlertRuleRow]:
    """Every rule, enabled or not, oldest first."""
    rows = await session.execute(select(AlertRuleRow).order_by(col(AlertRuleRow.created_at)))
    return list(rows.scalars())


async def add_alert_rule(
    session: AsyncSession, name: str, kind: str, params: dict[str, Any]
) -> bool:
    """Add a rule in the caller's transaction; False when a rule of that name exists
    (names are unique)."""
    taken = (
        await session.execute(select(AlertRuleRow).where(col(AlertRuleRow.name) == name))
    ).scalar_one_or_none()
    if taken is not None:
        return False
    session.add(AlertRuleRow(name=name, kind=kind, params=params))
    return True


async def remove_alert_rule(session: AsyncSession, rule_id: uuid.UUID) -> str | None:
    """Delete a rule that never fired; one with history is disabled instead, so the
    history keeps naming it. None when there is no such rule."""
    if await session.get(AlertRuleRow, rule_id) is None:
        return None
    fired = (
        await session.execute(select(exists().where(col(AlertRow.rule_id) == rule_id)))
    ).scalar_one()
    if fired:
        await session.execute(
            update(AlertRuleRow).where(col(AlertRuleRow.id) == rule_id).values(enabled=False)
        )
        return "disabled"
    await session.execute(delete(AlertRuleRow).where(col(AlertRuleRow.id) == rule_id))
    return "deleted"


async def alert_history(session: AsyncSession) -> list[tuple[AlertRow, str, str | None]]:
    """Recent alerts with their rule's name and the call's opportunity."""
    rows = await session.execute(
        select(AlertRow, col(AlertRuleRow.name), col(Conversation.opportunity_name))
        .join(AlertRuleRow, col(AlertRuleRow.id) == col(AlertRow.rule_id))
        .outerjoin(Conversation, col(Conversation.id) == col(AlertRow.conversation_id))
        .order_by(col(AlertRow.created_at).desc())
        .limit(ALERT_HISTORY_LIMIT)
    )
    return [(a, name, opp) for a, name, opp in rows.all()]
