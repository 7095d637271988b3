"""The organisation: teams, reps, and users with their credentials — managed without SQL
by the admin API and the ``callstream users|teams|reps`` commands, which share these
functions. A token is returned once at creation and stored only as its SHA-256; it may
expire and can be revoked.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from callstream_common.credentials import create_credential, hash_token
from callstream_common.db.models import ApiCredential, Rep, Role, Team

ORG_VERSION_KEY = "cs:rc:v:org"
"""The read cache's organisation version in Redis: bumped after every change here, so that
no cached answer computed under the old organisation (who is in which team) is served."""

Ident = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._@-]+$")]


class OrgError(ValueError):
    """A change that conflicts with what exists (duplicate, unknown reference)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class TeamIn(BaseModel):
    id: Ident
    name: Annotated[str, Field(min_length=1, max_length=200)]


class TeamOut(TeamIn):
    created_at: datetime
    reps: int = 0


class RepIn(BaseModel):
    id: Ident
    name: Annotated[str, Field(min_length=1, max_length=200)]
    team_id: Ident | None = None
    email: Annotated[str, Field(max_length=320)] | None = None


class RepOut(RepIn):
    active: bool


class RepChange(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    team_id: Ident | None = None
    active: bool | None = None


class UserIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role
    rep_id: Ident | None = None
    team_id: Ident | None = None
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class UserOut(BaseModel):
    id: uuid.UUID
    name: str
    role: Role
    rep_id: str | None
    team_id: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class NewUser(UserOut):
    token: str
    """Shown once: only its hash is stored."""


async def add_team(session: AsyncSession, team: TeamIn) -> TeamOut:
    if await session.get(Team, team.id) is not None:
        raise OrgError("already_exists", f"team {team.id} already exists")
    row = Team(id=team.id, name=team.name)
    session.add(row)
    await session.flush()
    return TeamOut(id=row.id, name=row.name, created_at=row.created_at)


async def list_teams(session: AsyncSession) -> list[TeamOut]:
    teams = (await session.execute(select(Team).order_by(col(Team.id)))).scalars().all()
    reps = (await session.execute(select(Rep))).scalars().all()
    return [
        TeamOut(
            id=t.id,
            name=t.name,
            created_at=t.created_at,
            reps=sum(1 for r in reps if r.team_id == t.id),
        )
        for t in teams
    ]


async def _require_team(session: AsyncSession, team_id: str | None) -> None:
    if team_id is not None and await session.get(Team, team_id) is None:
        raise OrgError("unknown_team", f"team {team_id} does not exist")


async def add_rep(session: AsyncSession, rep: RepIn) -> RepOut:
    if await session.get(Rep, rep.id) is not None:
        raise OrgError("already_exists", f"rep {rep.id} already exists")
    await _require_team(session, rep.team_id)
    session.add(Rep(id=rep.id, name=rep.name, team_id=rep.team_id, email=rep.email))
    return RepOut(**rep.model_dump(), active=True)


async def change_rep(session: AsyncSession, rep_id: str, change: RepChange) -> RepOut:
    row = await session.get(Rep, rep_id)
    if row is None:
        raise OrgError("not_found", f"rep {rep_id} does not exist")
    await _require_team(session, change.team_id)
    for name, value in change.model_dump(exclude_unset=True).items():
        setattr(row, name, value)
    return RepOut(id=row.id, name=row.name, team_id=row.team_id, email=row.email, active=row.active)


async def list_reps(session: AsyncSession, team_id: str | None = None) -> list[RepOut]:
    query = select(Rep).order_by(col(Rep.id))
    if team_id is not None:
        query = query.where(col(Rep.team_id) == team_id)
    return [
        RepOut(id=r.id, name=r.name, team_id=r.team_id, email=r.email, active=r.active)
        for r in (await session.execute(query)).scalars().all()
    ]


def _user_out(row: ApiCredential) -> UserOut:
    return UserOut(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        rep_id=row.rep_id,
        team_id=row.team_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


async def add_user(session: AsyncSession, user: UserIn) -> NewUser:
    """A user is a named credential with a role and its scope (a rep for users, a team for
    managers); the token is returned here and never again."""
    if user.role == Role.USER and user.rep_id is None:
        raise OrgError("missing_rep", "a user needs the rep whose calls they see (rep_id)")
    if user.role == Role.MANAGER and user.team_id is None:
        raise OrgError("missing_team", "a manager needs the team they manage (team_id)")
    if user.rep_id is not None and await session.get(Rep, user.rep_id) is None:
        raise OrgError("unknown_rep", f"rep {user.rep_id} does not exist")
    await _require_team(session, user.team_id)
    token = await create_credential(session, user.name, user.role, user.rep_id, user.team_id)
    await session.flush()
    row = (
        await session.execute(
            select(ApiCredential).where(col(ApiCredential.token_hash) == hash_token(token))
        )
    ).scalar_one()
    if user.expires_in_days is not None:
        row.expires_at = datetime.now(UTC) + timedelta(days=user.expires_in_days)
    return NewUser(**_user_out(row).model_dump(), token=token)


async def list_users(session: AsyncSession, include_revoked: bool = False) -> list[UserOut]:
    query = select(ApiCredential).order_by(col(ApiCredential.created_at))
    if not include_revoked:
        query = query.where(col(ApiCredential.revoked_at).is_(None))
    return [_user_out(r) for r in (await session.execute(query)).scalars().all()]


async def revoke_user(session: AsyncSession, name_or_id: str) -> list[UserOut]:
    """Revoke the credential with this id, or every live credential with this name."""
    try:
        ident: uuid.UUID | None = uuid.UUID(name_or_id)
    except ValueError:
        ident = None
    query = select(ApiCredential).where(col(ApiCredential.revoked_at).is_(None))
    query = query.where(
        or_(col(ApiCredential.id) == ident, col(ApiCredential.name) == name_or_id)
        if ident is not None
        else col(ApiCredential.name) == name_or_id
    )
    rows = (await session.execute(query)).scalars().all()
    if not rows:
        raise OrgError("not_found", f"no live credential named or with id {name_or_id}")
    now = datetime.now(UTC)
    for row in rows:
        row.revoked_at = now
    return [_user_out(r) for r in rows]
