"""What the operators' endpoints display — the dead-letter queue and job status — read
straight from PostgreSQL (the read side: no repository, no domain objects, just views)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common.db.models import DlqEntry

Sessions = async_sessionmaker[AsyncSession]


def entry_view(e: DlqEntry, full: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": str(e.id),
        "stage": e.service,
        "consumer_group": e.consumer_group,
        "original_topic": e.original_topic,
        "original_partition": e.original_partition,
        "original_offset": e.original_offset,
        "error_class": e.error_class,
        "error_message": e.error_message,
        "attempts": e.attempts,
        "conversation_id": str(e.conversation_id) if e.conversation_id else None,
        "trace_id": e.trace_id,
        "status": e.status,
        "created_at": e.created_at.isoformat(),
        "resolved_at": e.resolved_at.isoformat() if e.resolved_at else None,
    }
    if full:
        try:
            view["payload"] = json.loads(e.value)
        except ValueError:
            view["payload_raw"] = e.value.decode("utf-8", "replace")
        view["headers"] = e.headers
        view["stack_trace"] = e.stack_trace
    return view


async def dead_letters(
    sessions: Sessions,
    *,
    stage: str | None,
    error_class: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    clauses, params = ["true"], {"limit": limit}
    for name, value, sql in (
        ("stage", stage, "service = :stage"),
        ("error_class", error_class, "error_class LIKE '%' || :error_class"),
        ("status", status, "status = :status"),
        ("since", since, "created_at >= :since"),
        ("until", until, "created_at < :until"),
    ):
        if value is not None:
            clauses.append(sql)
            params[name] = value  # type: ignore[assignment]
    async with sessions() as session:
        rows = (
            await session.execute(
                text(
                    f"SELECT * FROM dlq_entries WHERE {' AND '.join(clauses)} "  # noqa: S608 - fixed clauses, bound values
                    "ORDER BY created_at DESC LIMIT :limit"
                ),
                params,
            )
        ).mappings()
        return [entry_view(DlqEntry.model_validate(dict(r))) for r in rows]


async def dead_letter(sessions: Sessions, entry_id: uuid.UUID) -> dict[str, Any] | None:
    async with sessions() as session:
        entry = await session.get(DlqEntry, entry_id)
    return None if entry is None else entry_view(entry, full=True)


async def dead_letter_status(sessions: Sessions) -> dict[str, Any]:
    async with sessions() as session:
        by_stage = (
            await session.execute(
                text("SELECT service, count(*) FROM dlq_entries WHERE status='new' GROUP BY 1")
            )
        ).all()
        by_error = (
            await session.execute(
                text("SELECT error_class, count(*) FROM dlq_entries WHERE status='new' GROUP BY 1")
            )
        ).all()
        totals = (
            await session.execute(text("SELECT status, count(*) FROM dlq_entries GROUP BY 1"))
        ).all()
        oldest = (
            await session.execute(
                text("SELECT min(created_at) FROM dlq_entries WHERE status = 'new'")
            )
        ).scalar_one()
    return {
        "open": sum(n for _, n in by_stage),
        "by_stage": {s: n for s, n in by_stage},
        "by_error": {e: n for e, n in by_error},
        "by_status": {s: n for s, n in totals},
        "oldest_open_entry_at": oldest.isoformat() if oldest else None,
    }


async def jobs_status(sessions: Sessions) -> dict[str, Any]:
    """What the old job queue answered: counts by status, recent failures, mean times."""
    async with sessions() as session:
        counts = (
            await session.execute(text("SELECT status, count(*) FROM conversations GROUP BY 1"))
        ).all()
        failures = (
            await session.execute(
                text(
                    "SELECT id, failure_stage, failure_reason, updated_at FROM conversations "
                    "WHERE status = 'failed' ORDER BY updated_at DESC LIMIT 20"
                )
            )
        ).all()
        stages = (
            await session.execute(
                text(
                    "SELECT key AS stage, avg((value->>'seconds')::float) AS mean, "
                    "percentile_cont(0.95) WITHIN GROUP (ORDER BY (value->>'seconds')::float) "
                    "AS p95, count(*) AS n FROM conversations, jsonb_each(timings) "
                    "WHERE value ? 'seconds' GROUP BY key"
                )
            )
        ).all()
        end_to_end = (
            await session.execute(
                text(
                    "SELECT avg(extract(epoch FROM completed_at - created_at)) FROM conversations "
                    "WHERE status = 'completed'"
                )
            )
        ).scalar_one()
    return {
        "counts": {s: n for s, n in counts},
        "recent_failures": [
            {"id": str(i), "stage": st, "reason": r, "at": at.isoformat()}
            for i, st, r, at in failures
        ],
        "stage_seconds": {
            s: {"mean": round(m, 3), "p95": round(p, 3), "count": n} for s, m, p, n in stages
        },
        "mean_end_to_end_seconds": round(float(end_to_end), 3) if end_to_end else None,
    }
