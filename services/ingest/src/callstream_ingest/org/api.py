"""Organisation management for admins: teams, reps, users and their tokens (no SQL)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common import org
from callstream_common.db.models import Role
from callstream_ingest.auth import Principal
from callstream_ingest.cache.policy import ORG
from callstream_ingest.dependencies import principal, state
from callstream_ingest.errors import ApiError
from callstream_ingest.read.common import read_cache

admin_router = APIRouter(prefix="/v1/admin", tags=["admin"])

STATUS_OF = {"already_exists": 409, "not_found": 404}
T = TypeVar("T")


async def admin(request: Request) -> Principal:
    who = await principal(request)
    if who.role != Role.ADMIN:
        raise ApiError(403, "forbidden", "managing the organisation needs the role admin")
    return who


Admin = Annotated[Principal, Depends(admin)]


async def reading(request: Request, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with state(request).sessions() as session:
        return await work(session)


async def changing(request: Request, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``work`` in one transaction; an :class:`org.OrgError` becomes its HTTP error; after
    the commit the read cache's organisation version moves on (who sees what may have
    changed)."""
    try:
        async with state(request).sessions() as session, session.begin():
            done = await work(session)
    except org.OrgError as exc:
        raise ApiError(STATUS_OF.get(exc.code, 422), exc.code, str(exc)) from exc
    request.app.state.ingest.auth.forget()
    await read_cache(request).invalidate([ORG], "org")
    return done


@admin_router.get("/teams")
async def list_teams(request: Request, _: Admin) -> list[org.TeamOut]:
    return await reading(request, org.list_teams)


@admin_router.post("/teams", status_code=201)
async def add_team(request: Request, team: org.TeamIn, _: Admin) -> org.TeamOut:
    return await changing(request, lambda session: org.add_team(session, team))


@admin_router.get("/reps")
async def list_reps(request: Request, _: Admin, team_id: str | None = None) -> list[org.RepOut]:
    return await reading(request, lambda session: org.list_reps(session, team_id))


@admin_router.post("/reps", status_code=201)
async def add_rep(request: Request, rep: org.RepIn, _: Admin) -> org.RepOut:
    return await changing(request, lambda session: org.add_rep(session, rep))


@admin_router.patch("/reps/{rep_id}")
async def change_rep(request: Request, rep_id: str, rep: org.RepChange, _: Admin) -> org.RepOut:
    """Rename, move to another team, or deactivate a rep."""
    return await changing(request, lambda session: org.change_rep(session, rep_id, rep))


@admin_router.get("/users")
async def list_users(
    request: Request, _: Admin, include_revoked: bool = False
) -> list[org.UserOut]:
    return await reading(request, lambda session: org.list_users(session, include_revoked))


@admin_router.post("/users", status_code=201)
async def add_user(request: Request, user: org.UserIn, _: Admin) -> org.NewUser:
    """A new user and their token; the token is in this answer only (stored hashed)."""
    return await changing(request, lambda session: org.add_user(session, user))


@admin_router.post("/users/{name_or_id}/revoke")
async def revoke_user(request: Request, name_or_id: str, _: Admin) -> list[org.UserOut]:
    return await changing(request, lambda session: org.revoke_user(session, name_or_id))
