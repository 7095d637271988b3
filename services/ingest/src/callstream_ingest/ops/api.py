"""Operators' endpoints: the dead-letter queue (list, show, replay, discard, status) and
job status (counts by status, recent failures, average time per stage).

Reading needs a manager or admin; replaying and discarding need an admin. Reads go
through :mod:`.views`, resolutions through :mod:`.service`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from callstream_common.db.models import Role
from callstream_ingest.auth import Principal
from callstream_ingest.dependencies import principal, state
from callstream_ingest.errors import ApiError
from callstream_ingest.ops import service, views

ops_router = APIRouter(prefix="/v1/ops", tags=["ops"])


def require(who: Principal, *roles: Role) -> None:
    if who.role not in roles:
        raise ApiError(403, "forbidden", f"this needs the role {' or '.join(r for r in roles)}")


@ops_router.get("/dlq")
async def list_dlq(
    request: Request,
    who: Annotated[Principal, Depends(principal)],
    stage: str | None = None,
    error_class: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    require(who, Role.ADMIN, Role.MANAGER)
    entries = await views.dead_letters(
        state(request).sessions,
        stage=stage,
        error_class=error_class,
        status=status,
        since=since,
        until=until,
        limit=limit,
    )
    return {"entries": entries, "count": len(entries)}


@ops_router.get("/dlq/status")
async def dlq_status(
    request: Request, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    require(who, Role.ADMIN, Role.MANAGER)
    return await views.dead_letter_status(state(request).sessions)


@ops_router.get("/dlq/{entry_id}")
async def show_dlq(
    request: Request, entry_id: uuid.UUID, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    require(who, Role.ADMIN, Role.MANAGER)
    entry = await views.dead_letter(state(request).sessions, entry_id)
    if entry is None:
        raise ApiError(404, "not_found", f"DLQ entry {entry_id} not found")
    return entry


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payload: dict[str, Any] | None = None
    """An edited event body to send instead of the dead one."""


def _resolution_error(exc: Exception) -> ApiError:
    if isinstance(exc, service.EntryNotFound):
        return ApiError(404, "not_found", str(exc))
    if isinstance(exc, service.AlreadyResolved):
        return ApiError(409, "already_resolved", str(exc))
    return ApiError(503, "kafka_unavailable", str(exc))


@ops_router.post("/dlq/{entry_id}/replay", status_code=202)
async def replay_dlq(
    request: Request,
    entry_id: uuid.UUID,
    who: Annotated[Principal, Depends(principal)],
    body: ReplayRequest | None = None,
) -> dict[str, Any]:
    require(who, Role.ADMIN)
    try:
        entry = await service.replay(
            state(request).unit_of_work, entry_id, body.payload if body else None
        )
    except (service.EntryNotFound, service.AlreadyResolved, service.ReplayNotPublished) as exc:
        raise _resolution_error(exc) from exc
    return {"id": str(entry_id), "status": "replayed", "topic": entry.original_topic}


@ops_router.post("/dlq/{entry_id}/discard")
async def discard_dlq(
    request: Request, entry_id: uuid.UUID, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    require(who, Role.ADMIN)
    try:
        await service.discard(state(request).unit_of_work, entry_id)
    except (service.EntryNotFound, service.AlreadyResolved) as exc:
        raise _resolution_error(exc) from exc
    return {"id": str(entry_id), "status": "discarded"}


@ops_router.get("/jobs/status")
async def jobs_status(
    request: Request, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    """What the old job queue answered: counts by status, recent failures, mean times."""
    require(who, Role.ADMIN, Role.MANAGER)
    return await views.jobs_status(state(request).sessions)
