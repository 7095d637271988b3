"""Database operations that several stages share: the processed-message ledger, stage
timings and status transitions of a conversation.

Status only moves forward (pending → processing → completed | failed), enforced in SQL so
that a late or redelivered message can never move a finished call back.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.contracts import utcnow


async def claim_event(session: AsyncSession, consumer_group: str, event_id: uuid.UUID) -> bool:
    """Insert the event into the ledger in the caller's transaction; False if already there."""
    result = await session.execute(
        text(
            "INSERT INTO processed_messages (consumer_group, event_id, processed_at) "
            "VALUES (:g, :e, now()) ON CONFLICT DO NOTHING RETURNING event_id"
        ),
        {"g": consumer_group, "e": event_id},
    )
    return result.first() is not None


async def record_stage(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    stage: str,
    started_at: datetime,
    finished_at: datetime | None = None,
    **extra: Any,
) -> None:
    entry: dict[str, Any] = {"started_at": started_at.isoformat(), **extra}
    if finished_at is not None:
        entry["finished_at"] = finished_at.isoformat()
        entry["seconds"] = round((finished_at - started_at).total_seconds(), 3)
    import json

    await session.execute(
        text(
            "UPDATE conversations SET timings = coalesce(timings, '{}'::jsonb) "
            "|| jsonb_build_object(CAST(:stage AS text), CAST(:entry AS jsonb)), "
            "updated_at = now() "
            "WHERE id = :id"
        ),
        {"id": conversation_id, "stage": stage, "entry": json.dumps(entry)},
    )


async def mark_processing(session: AsyncSession, conversation_id: uuid.UUID) -> bool:
    result = await session.execute(
        text(
            "UPDATE conversations SET status = 'processing', updated_at = now() "
            "WHERE id = :id AND status IN ('pending', 'processing') RETURNING id"
        ),
        {"id": conversation_id},
    )
    return result.first() is not None


async def mark_completed(session: AsyncSession, conversation_id: uuid.UUID) -> None:
    await session.execute(
        text(
            "UPDATE conversations SET status = 'completed', completed_at = :now, "
            "updated_at = :now, failure_reason = NULL "
            "WHERE id = :id AND status IN ('pending', 'processing')"
        ),
        {"id": conversation_id, "now": utcnow()},
    )


async def mark_failed(
    session: AsyncSession, conversation_id: uuid.UUID, stage: str, reason: str
) -> None:
    await session.execute(
        text(
            "UPDATE conversations SET status = 'failed', failure_reason = :reason, "
            "failure_stage = :stage, completed_at = :now, updated_at = :now "
            "WHERE id = :id AND status IN ('pending', 'processing')"
        ),
        {"id": conversation_id, "reason": reason[:2000], "stage": stage, "now": utcnow()},
    )
