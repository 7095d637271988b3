"""Operators' endpoints: the dead-letter queue (list, show, replay, discard, status) and
job status (counts by status, recent failures, average time per stage).

Reading needs a manager or admin; replaying and discarding need an admin. A replay sends
the dead record back to its original topic with the retry bookkeeping removed (attempts
start over), optionally with an edited payload, and reopens a conversation the failure
had closed, so the stage processes it instead of skipping a finished call.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text

from callstream_common.conversations.sql import SqlConversationRepository
from callstream_common.db.models import ConversationStatus, DlqEntry, Role
from callstream_common.dlq_headers import replay_headers
from callstream_ingest.auth import Principal
from callstream_ingest.dependencies import principal, state
from callstream_ingest.errors import ApiError, classify_unexpected
from callstream_ingest.ops.replay_check import checked_payload
from callstream_ingest.params import CalendarInstant, like_literal
from callstream_ingest.scope import conversations_in_scope

ops_router = APIRouter(prefix="/v1/ops", tags=["ops"])

STAGE_OF_SERVICE = {
    "transcriber": "transcription",
    "analyzer": "analysis",
    "notifier": "notification",
    "compactor": "compaction",
}


def require(who: Principal, *roles: Role) -> None:
    if who.role not in roles:
        raise ApiError(403, "forbidden", f"this needs the role {' or '.join(r for r in roles)}")


def entry_view(e: DlqEntry, full: bool = False, stack_trace: bool = False) -> dict[str, Any]:
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


@ops_router.get("/dlq")
async def list_dlq(
    request: Request,
    who: Annotated[Principal, Depends(principal)],
    stage: str | None = None,
    error_class: str | None = None,
    status: str | None = None,
    since: CalendarInstant | None = None,
    until: CalendarInstant | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    require(who, Role.ADMIN, Role.MANAGER)
    scope, params = conversations_in_scope(who, "conversation_id")
    clauses: list[str] = [scope]
    params["limit"] = limit
    if error_class is not None:
        error_class = like_literal(error_class)
    for name, value, sql in (
        ("stage", stage, "service = :stage"),
        ("error_class", error_class, "error_class LIKE '%' || :error_class ESCAPE '\\'"),
        ("status", status, "status = :status"),
        ("since", since, "created_at >= :since"),
        ("until", until, "created_at < :until"),
    ):
        if value is not None:
            clauses.append(sql)
            params[name] = value
    async with state(request).sessions() as session:
        rows = (
            await session.execute(
                text(
                    f"SELECT * FROM dlq_entries WHERE {' AND '.join(clauses)} "  # noqa: S608 - fixed clauses, bound values
                    "ORDER BY created_at DESC LIMIT :limit"
                ),
                params,
            )
        ).mappings()
        entries = [entry_view(DlqEntry.model_validate(dict(r))) for r in rows]
    return {"entries": entries, "count": len(entries)}


@ops_router.get("/dlq/status")
async def dlq_status(
    request: Request, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    require(who, Role.ADMIN, Role.MANAGER)
    scope, params = conversations_in_scope(who, "conversation_id")

    async def query(select: str, where: str = "true", group: str = " GROUP BY 1") -> Any:
        sql = f"SELECT {select} FROM dlq_entries WHERE {where} AND {scope}{group}"  # noqa: S608 - fixed clauses, bound values
        return await session.execute(text(sql), params)

    async with state(request).sessions() as session:
        by_stage = (await query("service, count(*)", "status = 'new'")).all()
        by_error = (await query("error_class, count(*)", "status = 'new'")).all()
        totals = (await query("status, count(*)")).all()
        oldest = (await query("min(created_at)", "status = 'new'", "")).scalar_one()
    return {
        "open": sum(n for _, n in by_stage),
        "by_stage": {s: n for s, n in by_stage},
        "by_error": {e: n for e, n in by_error},
        "by_status": {s: n for s, n in totals},
        "oldest_open_entry_at": oldest.isoformat() if oldest else None,
    }


async def load_entry(request: Request, entry_id: uuid.UUID, who: Principal) -> DlqEntry:
    scope, params = conversations_in_scope(who, "conversation_id")
    async with state(request).sessions() as session:
        entry = await session.get(DlqEntry, entry_id)
        if entry is not None and who.role != Role.ADMIN:
            visible = (
                await session.execute(
                    text(f"SELECT 1 FROM dlq_entries WHERE id = :entry AND {scope}"),  # noqa: S608 - fixed clauses, bound values
                    params | {"entry": entry_id},
                )
            ).first()
            entry = entry if visible else None
    if entry is None:
        raise ApiError(404, "not_found", f"DLQ entry {entry_id} not found")
    return entry


@ops_router.get("/dlq/{entry_id}")
async def show_dlq(
    request: Request, entry_id: uuid.UUID, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    require(who, Role.ADMIN, Role.MANAGER)
    entry = await load_entry(request, entry_id, who)
    return entry_view(entry, full=True, stack_trace=who.role == Role.ADMIN)


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payload: dict[str, Any] | None = None
    """An edited event body to send instead of the dead one."""


@ops_router.post("/dlq/{entry_id}/replay", status_code=202)
async def replay_dlq(
    request: Request,
    entry_id: uuid.UUID,
    who: Annotated[Principal, Depends(principal)],
    body: ReplayRequest | None = None,
) -> dict[str, Any]:
    require(who, Role.ADMIN)
    st = state(request)
    entry = await load_entry(request, entry_id, who)
    if entry.status != "new":
        raise ApiError(409, "already_resolved", f"the entry was already {entry.status}")
    value = (
        checked_payload(entry, body.payload, st.settings.max_replay_payload_bytes)
        if body and body.payload
        else entry.value
    )
    conversation = entry.conversation_id
    async with st.sessions() as session, session.begin():
        claimed = (
            await session.execute(
                text(
                    "UPDATE dlq_entries SET status = 'replayed', resolved_at = now() "
                    "WHERE id = :id AND status = 'new' RETURNING id"
                ),
                {"id": entry_id},
            )
        ).first()
        if claimed is None:
            raise ApiError(409, "already_resolved", "the entry was resolved meanwhile")
        reopened = conversation is not None and await SqlConversationRepository(session).move(
            conversation, ConversationStatus.PROCESSING, reopen=True
        )
    # Committed before publishing: the stage must find the call reopened, never `failed`.
    try:
        await asyncio.wait_for(
            st.broker.publish(
                value, entry.original_topic, key=entry.key, headers=replay_headers(entry.headers)
            ),
            st.settings.kafka_publish_timeout_seconds,
        )
    except Exception as exc:
        async with st.sessions() as session, session.begin():
            await session.execute(
                text("UPDATE dlq_entries SET status = 'new', resolved_at = NULL WHERE id = :id"),
                {"id": entry_id},
            )
            if reopened and conversation is not None:
                await SqlConversationRepository(session).move(
                    conversation,
                    ConversationStatus.FAILED,
                    stage=STAGE_OF_SERVICE.get(entry.service, entry.service),
                    reason=entry.error_message,
                )
        refusal = classify_unexpected(exc)
        if refusal.status == 413:
            raise refusal from exc
        raise ApiError(503, "kafka_unavailable", "the replay was not published") from exc
    return {"id": str(entry_id), "status": "replayed", "topic": entry.original_topic}


@ops_router.post("/dlq/{entry_id}/discard")
async def discard_dlq(
    request: Request, entry_id: uuid.UUID, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    require(who, Role.ADMIN)
    await load_entry(request, entry_id, who)
    async with state(request).sessions() as session, session.begin():
        done = (
            await session.execute(
                text(
                    "UPDATE dlq_entries SET status = 'discarded', resolved_at = now() "
                    "WHERE id = :id AND status = 'new' RETURNING id"
                ),
                {"id": entry_id},
            )
        ).first()
    if done is None:
        raise ApiError(409, "already_resolved", "the entry was already resolved")
    return {"id": str(entry_id), "status": "discarded"}


@ops_router.get("/jobs/status")
async def jobs_status(
    request: Request, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    """What the old job queue answered: counts by status, recent failures, mean times."""
    require(who, Role.ADMIN, Role.MANAGER)
    scope, params = conversations_in_scope(who, "conversations.id")
    failures_sql = (
        "SELECT id, failure_stage, failure_reason, updated_at FROM conversations "  # noqa: S608 - fixed clauses, bound values
        f"WHERE status = 'failed' AND {scope} ORDER BY updated_at DESC LIMIT 20"
    )
    stages_sql = (
        "SELECT key AS stage, avg((value->>'seconds')::float) AS mean, "  # noqa: S608 - fixed clauses, bound values
        "percentile_cont(0.95) WITHIN GROUP (ORDER BY (value->>'seconds')::float) "
        "AS p95, count(*) AS n FROM conversations, jsonb_each("
        "CASE jsonb_typeof(timings) WHEN 'object' THEN timings ELSE '{}' END) "
        f"WHERE value ? 'seconds' AND {scope} GROUP BY key"
    )
    end_to_end_sql = (
        "SELECT avg(extract(epoch FROM completed_at - created_at)) FROM conversations "  # noqa: S608 - fixed clauses, bound values
        f"WHERE status = 'completed' AND {scope}"
    )
    async with state(request).sessions() as session:
        counts = (
            await session.execute(
                text(f"SELECT status, count(*) FROM conversations WHERE {scope} GROUP BY 1"),  # noqa: S608 - fixed clauses, bound values
                params,
            )
        ).all()
        failures = (await session.execute(text(failures_sql), params)).all()
        stages = (await session.execute(text(stages_sql), params)).all()
        end_to_end = (await session.execute(text(end_to_end_sql), params)).scalar_one()
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
