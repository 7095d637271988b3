"""Trackers of the organisation: everyone signed in may read them (they label every call's
scorecard); only an admin may create, replace or delete one. Changes apply to calls
analysed from then on (the analyzer re-reads the list at least every 30 s), and at once to
the conversations list's ``tracker`` filter (its cached pages depend on the trackers)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from callstream_common.contracts import TrackerDefinition, TrackerKind
from callstream_common.db.models import Role
from callstream_common.db.trackers import delete_tracker, get_tracker, list_trackers, put_tracker
from callstream_ingest.auth import Principal
from callstream_ingest.cache.policy import TRACKERS
from callstream_ingest.dependencies import principal, state
from callstream_ingest.errors import ApiError
from callstream_ingest.read.common import read_cache

trackers_router = APIRouter(prefix="/v1/trackers", tags=["trackers"])

TrackerName = Annotated[str, Path(min_length=1, max_length=80)]


class TrackerBody(BaseModel):
    """A tracker as PUT takes it (its name is in the path)."""

    model_config = ConfigDict(extra="forbid")

    kind: TrackerKind = TrackerKind.KEYWORD
    phrases: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]],
        Field(min_length=1, max_length=100),
    ]
    threshold: Annotated[float, Field(gt=0, le=1)] = 0.6


def _require_admin(who: Principal) -> None:
    if who.role is not Role.ADMIN:
        raise ApiError(403, "forbidden", "managing trackers needs the admin role")


@trackers_router.get("")
async def list_all(
    request: Request, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    async with state(request).sessions() as session:
        trackers = await list_trackers(session)
    return {"trackers": [t.model_dump(mode="json") for t in trackers], "count": len(trackers)}


@trackers_router.get("/{name}")
async def show(
    name: TrackerName, request: Request, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    async with state(request).sessions() as session:
        tracker = await get_tracker(session, name)
    if tracker is None:
        raise ApiError(404, "tracker_not_found", f"no tracker named {name!r}")
    return tracker.model_dump(mode="json")


@trackers_router.put(
    "/{name}",
    responses={
        200: {"description": "the tracker was replaced"},
        201: {"description": "the tracker was created"},
    },
)
async def put(
    name: TrackerName,
    body: TrackerBody,
    request: Request,
    response: Response,
    who: Annotated[Principal, Depends(principal)],
) -> dict[str, Any]:
    _require_admin(who)
    tracker = TrackerDefinition(name=name, **body.model_dump())
    async with state(request).sessions() as session, session.begin():
        created = await put_tracker(session, tracker)
        stored = await get_tracker(session, name)
    await read_cache(request).invalidate([TRACKERS], "trackers")
    response.status_code = 201 if created else 200
    return (stored or tracker).model_dump(mode="json")


@trackers_router.delete("/{name}", status_code=204)
async def remove(
    name: TrackerName, request: Request, who: Annotated[Principal, Depends(principal)]
) -> Response:
    _require_admin(who)
    async with state(request).sessions() as session, session.begin():
        existed = await delete_tracker(session, name)
    if not existed:
        raise ApiError(404, "tracker_not_found", f"no tracker named {name!r}")
    await read_cache(request).invalidate([TRACKERS], "trackers")
    return Response(status_code=204)
