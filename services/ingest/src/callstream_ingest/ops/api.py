"""Operators' endpoints: the dead-letter queue (list, show, replay, discard, status) and
job status (counts by status, recent failures, average time per stage).

Reading needs a manager or admin and is scoped to the caller's calls; replaying and
discarding need an admin. The routes only check the role and translate: what is shown
comes from :mod:`~callstream_ingest.ops.views`, what changes goes through the unit of work
in :mod:`~callstream_ingest.ops.service`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.db.models import Role
from callstream_common.reads.scope import Scope
from callstream_ingest.auth import Principal
from callstream_ingest.dependencies import principal, state
from callstream_ingest.errors import ApiError
from callstream_ingest.ops import service, views
from callstream_ingest.params import CalendarInstant, like_literal
from callstream_ingest.read.common import scope_of

ops_router = APIRouter(prefix="/v1/ops", tags=["ops"])


Caller = Annotated[Principal, Depends(principal)]
T = TypeVar("T")


def require(who: Principal, *roles: Role) -> None:
    if who.role not in roles:
        raise ApiError(403, "forbidden", f"this needs the role {' or '.join(r for r in roles)}")


async def operators_view(
    request: Request, who: Principal, view: Callable[[AsyncSession, Scope], Awaitable[T]]
) -> T:
    """What ``view`` shows a manager or an admin, within their scope."""
    require(who, Role.ADMIN, Role.MANAGER)
    async with state(request).sessions() as session:
        return await view(session, scope_of(who))


@ops_router.get("/dlq")
async def list_dlq(
    request: Request,
    who: Caller,
    stage: str | None = None,
    error_class: str | None = None,
    status: str | None = None,
    since: CalendarInstant | None = None,
    until: CalendarInstant | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    wanted = views.DeadLetterFilter(
        stage=stage,
        error_class=like_literal(error_class) if error_class is not None else None,
        status=status,
        since=since,
        until=until,
        limit=limit,
    )
    entries = await operators_view(
        request, who, lambda session, scope: views.dead_letters(session, scope, wanted)
    )
    return {"entries": entries, "count": len(entries)}


@ops_router.get("/dlq/status")
async def dlq_status(request: Request, who: Caller) -> dict[str, Any]:
    return await operators_view(request, who, views.dead_letter_status)


@ops_router.get("/dlq/{entry_id}")
async def show_dlq(request: Request, entry_id: uuid.UUID, who: Caller) -> dict[str, Any]:
    entry = await operators_view(
        request, who, lambda session, scope: views.dead_letter(session, scope, entry_id)
    )
    if entry is None:
        raise ApiError(404, "not_found", f"DLQ entry {entry_id} not found")
    return views.entry_view(entry, full=True, stack_trace=who.role == Role.ADMIN)


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payload: dict[str, Any] | None = None
    """An edited event body to send instead of the dead one."""


@ops_router.post("/dlq/{entry_id}/replay", status_code=202)
async def replay_dlq(
    request: Request,
    entry_id: uuid.UUID,
    who: Caller,
    body: ReplayRequest | None = None,
) -> dict[str, Any]:
    require(who, Role.ADMIN)
    st = state(request)
    entry = await service.replay(
        st.unit_of_work,
        entry_id,
        scope_of(who),
        body.payload if body else None,
        max_payload_bytes=st.settings.max_replay_payload_bytes,
    )
    return {"id": str(entry_id), "status": "replayed", "topic": entry.original_topic}


@ops_router.post("/dlq/{entry_id}/discard")
async def discard_dlq(request: Request, entry_id: uuid.UUID, who: Caller) -> dict[str, Any]:
    require(who, Role.ADMIN)
    await service.discard(state(request).unit_of_work, entry_id, scope_of(who))
    return {"id": str(entry_id), "status": "discarded"}


@ops_router.get("/jobs/status")
async def jobs_status(request: Request, who: Caller) -> dict[str, Any]:
    """What the old job queue answered: counts by status, recent failures, mean times."""
    return await operators_view(request, who, views.jobs_status)
