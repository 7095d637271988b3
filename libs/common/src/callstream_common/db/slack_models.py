"""Tables of the Slack app (ingest's ``/slack/*`` endpoints; the notifier reads the thread a
call was shared in from ``conversations.slack_thread``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, DateTime, String, func
from sqlmodel import Field, SQLModel

from callstream_common.contracts import utcnow
from callstream_common.db.models import Role


def _now() -> datetime:
    return utcnow()


class SlackEvent(SQLModel, table=True):
    """One Slack event that carried a file, claimed by its ``event_id`` before the 200 is
    sent (Slack's retries find the claim and create nothing) and by its ``file_id`` (the
    ``file_shared`` and the ``message`` event of one share make one conversation).
    ``status``: received → accepted | rejected, with ``detail`` saying why."""

    __tablename__ = "slack_events"

    event_id: str = Field(primary_key=True, max_length=64)
    file_id: str | None = Field(
        default=None, sa_column=Column(String(64), unique=True, nullable=True)
    )
    team_id: str | None = Field(default=None, max_length=32)
    channel: str | None = Field(default=None, max_length=32)
    thread_ts: str | None = Field(default=None, max_length=32)
    slack_user: str | None = Field(default=None, max_length=32)
    status: str = Field(default="received", max_length=16)
    detail: str | None = None
    conversation_id: uuid.UUID | None = Field(default=None, foreign_key="conversations.id")
    created_at: datetime = Field(
        default_factory=_now,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    updated_at: datetime = Field(
        default_factory=_now,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class SlackUserLink(SQLModel, table=True):
    """Who a Slack user is in callstream: matched by Slack user id, else by e-mail (as
    ``users.info`` reports it), with the role and rep/team scope of a credential."""

    __tablename__ = "slack_user_links"
    __table_args__ = (
        CheckConstraint(
            "slack_user_id IS NOT NULL OR email IS NOT NULL", name="ck_slack_user_links_key"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    slack_user_id: str | None = Field(
        default=None, sa_column=Column(String(32), unique=True, nullable=True)
    )
    email: str | None = Field(
        default=None, sa_column=Column(String(320), unique=True, nullable=True)
    )
    role: Role = Field(sa_column=Column(String(16), nullable=False))
    rep_id: str | None = Field(default=None, max_length=128)
    team_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(
        default_factory=_now,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class SlackSeenRequest(SQLModel, table=True):
    """Signatures of the commands and interactions already handled within the 5-minute
    window: the same signed request a second time is a replay and gets 401."""

    __tablename__ = "slack_seen_requests"

    signature: str = Field(primary_key=True, max_length=80)
    seen_at: datetime = Field(
        default_factory=_now,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
