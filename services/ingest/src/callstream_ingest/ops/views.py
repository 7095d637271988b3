"""What the operators' endpoints and the console display — the dead-letter queue (and one
call's visits to it), job status and the outbox backlog — read straight from PostgreSQL
(the read side, cosmicpython's views: no repository, no domain rules, just the rows a page
shows).

The listings and counts take the caller's :class:`Scope` and apply it in SQL, so a
manager never counts or sees a dead letter or a job outside their team.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.db.models import DlqEntry
from callstream_common.reads.conversations import naming_conversations_in, scope_sql
from callstream_common.reads.rows import mapped, single
from callstream_common.reads.scope import Scope

RECENT_FAILURES = 20


def entry_view(e: DlqEntry, full: bool = False, stack_trace: bool = False) -> dict[str, Any]:
    """A dead letter as the API and the console show it; ``full`` adds the payload and the
    headers, ``stack_trace`` the trace (admins only: it can name internals)."""
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
        if stack_trace:
            view["stack_trace"] = e.stack_trace
    return view


class DeadLetterFilter(BaseModel):
    """The listing's filters; ``error_class`` matches as a suffix (LIKE, escaped by the
    caller)."""

    stage: str | None = None
    error_class: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50


FILTER_SQL = {
    "stage": "service = :stage",
    "error_class": "error_class LIKE '%' || :error_class ESCAPE '\\'",
    "status": "status = :status",
    "since": "created_at >= :since",
    "until": "created_at < :until",
}


async def dead_letters(
    session: AsyncSession, scope: Scope, wanted: DeadLetterFilter
) -> list[dict[str, Any]]:
    """Newest first, at most ``wanted.limit``."""
    where, params = naming_conversations_in(scope, "conversation_id")
    clauses = [where]
    for name, value in wanted.model_dump(exclude={"limit"}, exclude_none=True).items():
        clauses.append(FILTER_SQL[name])
        params[name] = value
    rows = await mapped(
        session,
        f"SELECT * FROM dlq_entries WHERE {' AND '.join(clauses)} "  # noqa: S608 - fixed clauses, bound values
        "ORDER BY created_at DESC LIMIT :limit",
        params | {"limit": wanted.limit},
    )
    return [entry_view(DlqEntry.model_validate(dict(r))) for r in rows]


async def dead_letter(session: AsyncSession, scope: Scope, entry_id: uuid.UUID) -> DlqEntry | None:
    """One dead letter, if it exists inside ``scope``."""
    where, params = naming_conversations_in(scope, "conversation_id")
    row = (
        await mapped(
            session,
            f"SELECT * FROM dlq_entries WHERE id = :entry AND {where}",  # noqa: S608 - fixed clauses, bound values
            params | {"entry": entry_id},
        )
    ).first()
    return DlqEntry.model_validate(dict(row)) if row is not None else None


async def dead_letters_of(session: AsyncSession, conversation_id: uuid.UUID) -> list[DlqEntry]:
    """A call's dead-letter visits, oldest first (for its timeline; the caller has already
    checked that the call is in scope)."""
    rows = await mapped(
        session,
        "SELECT * FROM dlq_entries WHERE conversation_id = :id ORDER BY created_at",
        {"id": conversation_id},
    )
    return [DlqEntry.model_validate(dict(r)) for r in rows]


async def dead_letter_status(session: AsyncSession, scope: Scope) -> dict[str, Any]:
    """Open entries by stage and by error class, all entries by status, the oldest open."""
    where, params = naming_conversations_in(scope, "conversation_id")

    async def counted(column: str, only_open: bool = True) -> dict[str, int]:
        condition = "status = 'new'" if only_open else "true"
        rows = await mapped(
            session,
            f"SELECT {column} AS name, count(*) AS n FROM dlq_entries "  # noqa: S608 - fixed clauses, bound values
            f"WHERE {condition} AND {where} GROUP BY 1",
            params,
        )
        return {r["name"]: r["n"] for r in rows}

    by_stage = await counted("service")
    by_error = await counted("error_class")
    by_status = await counted("status", only_open=False)
    oldest = await single(
        session,
        f"SELECT min(created_at) FROM dlq_entries WHERE status = 'new' AND {where}",  # noqa: S608 - fixed clauses, bound values
        params,
    )
    return {
        "open": sum(by_stage.values()),
        "by_stage": by_stage,
        "by_error": by_error,
        "by_status": by_status,
        "oldest_open_entry_at": oldest.isoformat() if oldest else None,
    }


async def jobs_status(session: AsyncSession, scope: Scope) -> dict[str, Any]:
    """What the old job queue answered: counts by status, recent failures, mean times."""
    where, params = scope_sql(scope)
    counts = await mapped(
        session,
        f"SELECT c.status, count(*) AS n FROM conversations c WHERE {where} GROUP BY 1",  # noqa: S608 - fixed clauses, bound values
        params,
    )
    failures = await mapped(
        session,
        "SELECT c.id, c.failure_stage, c.failure_reason, c.updated_at FROM conversations c "  # noqa: S608 - fixed clauses, bound values
        f"WHERE c.status = 'failed' AND {where} ORDER BY c.updated_at DESC LIMIT :recent",
        params | {"recent": RECENT_FAILURES},
    )
    stages = await mapped(
        session,
        "SELECT key AS stage, avg((value->>'seconds')::float) AS mean, "  # noqa: S608 - fixed clauses, bound values
        "percentile_cont(0.95) WITHIN GROUP (ORDER BY (value->>'seconds')::float) AS p95, "
        "count(*) AS n FROM conversations c, jsonb_each("
        "CASE jsonb_typeof(c.timings) WHEN 'object' THEN c.timings ELSE '{}' END) "
        f"WHERE value ? 'seconds' AND {where} GROUP BY key",
        params,
    )
    end_to_end = await single(
        session,
        "SELECT avg(extract(epoch FROM c.completed_at - c.created_at)) FROM conversations c "  # noqa: S608 - fixed clauses, bound values
        f"WHERE c.status = 'completed' AND {where}",
        params,
    )
    return {
        "counts": {r["status"]: r["n"] for r in counts},
        "recent_failures": [
            {
                "id": str(r["id"]),
                "stage": r["failure_stage"],
                "reason": r["failure_reason"],
                "at": r["updated_at"].isoformat(),
            }
            for r in failures
        ],
        "stage_seconds": {
            r["stage"]: {"mean": round(r["mean"], 3), "p95": round(r["p95"], 3), "count": r["n"]}
            for r in stages
        },
        "mean_end_to_end_seconds": round(float(end_to_end), 3) if end_to_end else None,
    }


class OutboxBacklog(BaseModel):
    events: int
    oldest_age_seconds: float


async def outbox_backlog(session: AsyncSession) -> OutboxBacklog:
    """Events committed but not yet acknowledged by Kafka, and how long the oldest waits."""
    row = (
        await mapped(
            session,
            "SELECT count(*) AS events, "
            "coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest_age_seconds "
            "FROM event_outbox",
            {},
        )
    ).one()
    return OutboxBacklog.model_validate(dict(row))
