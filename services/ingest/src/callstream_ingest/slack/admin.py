"""``/v1/slack/users``: admins link Slack users to callstream users (by Slack user id or by
e-mail), list and remove the links. The CLI's ``callstream slack link`` writes the same rows."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from callstream_common.db.models import Role
from callstream_common.db.slack_models import SlackUserLink
from callstream_ingest.errors import ApiError
from callstream_ingest.slack import slack_app

router = APIRouter(prefix="/v1/slack/users", tags=["slack"])


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slack_user_id: Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,31}$")] | None = None
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)] | None = None
    role: Role = Role.USER
    rep_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    team_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None

    @model_validator(mode="after")
    def _key_and_scope(self) -> LinkRequest:
        if (self.slack_user_id is None) == (self.email is None):
            raise ValueError("give exactly one of slack_user_id or email")
        if self.role == Role.USER and self.rep_id is None:
            raise ValueError("a user link needs rep_id")
        if self.role == Role.MANAGER and self.team_id is None:
            raise ValueError("a manager link needs team_id")
        return self


class LinkView(BaseModel):
    id: uuid.UUID
    slack_user_id: str | None
    email: str | None
    role: Role
    rep_id: str | None
    team_id: str | None


def _view(link: SlackUserLink) -> LinkView:
    return LinkView(
        id=link.id,
        slack_user_id=link.slack_user_id,
        email=link.email,
        role=Role(link.role),
        rep_id=link.rep_id,
        team_id=link.team_id,
    )


async def _admin(request: Request) -> None:
    who = await slack_app(request).st.auth.principal(request)
    if who.role != Role.ADMIN:
        raise ApiError(403, "forbidden", "only admins manage Slack user links")


@router.post("", status_code=201)
async def link_user(request: Request, body: LinkRequest) -> LinkView:
    await _admin(request)
    link = SlackUserLink(
        slack_user_id=body.slack_user_id,
        email=body.email.lower() if body.email else None,
        role=body.role,
        rep_id=body.rep_id,
        team_id=body.team_id,
    )
    try:
        async with slack_app(request).st.sessions() as session, session.begin():
            session.add(link)
    except IntegrityError:
        raise ApiError(
            409, "already_linked", "that Slack user or e-mail is already linked"
        ) from None
    return _view(link)


@router.get("")
async def list_links(request: Request) -> list[LinkView]:
    await _admin(request)
    async with slack_app(request).st.sessions() as session:
        rows = (await session.execute(select(SlackUserLink))).scalars()
        return [_view(link) for link in rows]


@router.delete("/{link_id}", status_code=204)
async def unlink(request: Request, link_id: uuid.UUID) -> None:
    await _admin(request)
    async with slack_app(request).st.sessions() as session, session.begin():
        link = await session.get(SlackUserLink, link_id)
        if link is None:
            raise ApiError(404, "not_found", f"Slack user link {link_id} not found")
        await session.delete(link)
