"""Tables of the system (SQLModel), shared because several services meet in them.

The conversation row is the unit the user sees; transcripts and analyses hang off it,
one each (unique ``conversation_id``), which is also what makes a redelivered event
harmless: the second insert of the same natural key is a no-op.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from callstream_common.contracts import utcnow


def _ts(nullable: bool = False, default: bool = True) -> Any:
    return Field(
        default_factory=utcnow if default else None,
        sa_column=Column(
            DateTime(timezone=True),
            nullable=nullable,
            server_default=func.now() if default else None,
        ),
    )


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSONB, nullable=nullable))


class ConversationStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class Role(StrEnum):
    USER = "user"
    MANAGER = "manager"
    ADMIN = "admin"


class Team(SQLModel, table=True):
    __tablename__ = "teams"

    id: str = Field(primary_key=True, max_length=128)
    name: str
    created_at: datetime = _ts()


class Rep(SQLModel, table=True):
    __tablename__ = "reps"

    id: str = Field(primary_key=True, max_length=128)
    name: str
    team_id: str | None = Field(default=None, index=True, max_length=128)
    email: str | None = None
    active: bool = True


class ApiCredential(SQLModel, table=True):
    """A bearer token, stored only as its SHA-256, tied to a role and (for users) a rep."""

    __tablename__ = "api_credentials"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    role: Role = Field(sa_column=Column(String(16), nullable=False))
    rep_id: str | None = Field(default=None, max_length=128)
    team_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True, default=False)
    expires_at: datetime | None = _ts(nullable=True, default=False)
    """After this instant the token no longer authenticates (None: never expires)."""


class Opportunity(SQLModel, table=True):
    """A deal under one rep, made of its calls; found again by (rep, name, company) so that
    every upload for "Acme renewal" at Acme joins the same row."""

    __tablename__ = "opportunities"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    rep_id: str = Field(index=True, max_length=128)
    name: str
    company_name: str | None = None
    match_key: str = Field(sa_column=Column(String(700), unique=True, nullable=False))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    last_call_at: datetime | None = _ts(nullable=True, default=False)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_status_created", "status", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(255), unique=True, nullable=True)
    )
    status: ConversationStatus = Field(
        default=ConversationStatus.PENDING, sa_column=Column(String(16), nullable=False)
    )
    failure_reason: str | None = None
    failure_stage: str | None = None
    opportunity_name: str = Field(index=True)
    opportunity_id: uuid.UUID | None = Field(default=None, foreign_key="opportunities.id")
    company_name: str | None = None
    rep_id: str = Field(index=True, max_length=128)
    title: str | None = None
    conversation_date: date | None = None
    participants: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    """Names of the people on the call as the upload gave them (Whisper's vocabulary)."""
    object_key: str
    content_type: str
    size_bytes: int
    sha256: str = Field(max_length=64)
    filename: str | None = None
    priority: int = 5
    duration_seconds: float | None = None
    trace_id: str | None = Field(default=None, max_length=32)
    analysis_summary: dict[str, Any] | None = _json()
    slack_thread: dict[str, Any] | None = _json()
    """``{"channel", "thread_ts"}`` of the Slack message the recording was shared in: the
    notifier posts the scorecard as a reply there."""
    timings: dict[str, Any] | None = _json()
    created_by: uuid.UUID | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    completed_at: datetime | None = _ts(nullable=True, default=False)


class TranscriptRow(SQLModel, table=True):
    __tablename__ = "transcripts"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conversation_id: uuid.UUID = Field(foreign_key="conversations.id", unique=True)
    language: str
    duration_seconds: float
    text: str
    segments: list[dict[str, Any]] = _json(nullable=False)
    provider: str
    model: str
    diarization: str = Field(default="none", sa_column_kwargs={"server_default": "none"})
    created_at: datetime = _ts()


class TranscriptChunkRow(SQLModel, table=True):
    """One chunk of a long call split across transcribers, as its transcriber stored it:
    inserted once per (conversation, chunk index), so a redelivered chunk adds nothing; the
    transcript is assembled from all of them when the last one arrives."""

    __tablename__ = "transcript_chunks"

    conversation_id: uuid.UUID = Field(foreign_key="conversations.id", primary_key=True)
    chunk_index: int = Field(primary_key=True)
    chunk_count: int
    start_seconds: float
    end_seconds: float
    words: list[list[Any]] = _json(nullable=False)
    """``[start, end, text]`` per word, at call time."""
    speech: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    """The chunk's speech windows (compressed arrays) for diarization over the whole call."""
    language: str = Field(max_length=16)
    provider: str
    model: str
    elapsed_seconds: float = 0.0
    created_at: datetime = _ts()


class ReanalysisRequestRow(SQLModel, table=True):
    """The re-analysis requests already applied: a redelivered request adds no version."""

    __tablename__ = "reanalysis_requests"

    event_id: uuid.UUID = Field(primary_key=True)
    conversation_id: uuid.UUID = Field(foreign_key="conversations.id", index=True)
    created_at: datetime = _ts()


class MeddicAnalysisRow(SQLModel, table=True):
    """The full analysis; its summary is also copied onto the conversation (JSONB)."""

    __tablename__ = "meddic_analyses"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conversation_id: uuid.UUID = Field(foreign_key="conversations.id", unique=True)
    overall_score: float
    qualification_status: str = Field(max_length=16)
    dimensions: list[dict[str, Any]] = _json(nullable=False)
    key_findings: list[str] = _json(nullable=False)
    next_steps: list[dict[str, Any]] = _json(nullable=False)
    risks: list[dict[str, Any]] = _json(nullable=False)
    agent_outputs: dict[str, Any] = _json(nullable=False)
    stats: dict[str, Any] | None = _json()
    trackers: list[dict[str, Any]] | None = _json()
    provider: str
    model: str
    version: int = 1
    """Raised by every re-analysis; earlier versions move to ``analysis_versions``."""
    created_at: datetime = _ts()


class AnalysisVersion(SQLModel, table=True):
    """An analysis a re-analysis superseded, kept readable as it was."""

    __tablename__ = "analysis_versions"
    __table_args__ = (UniqueConstraint("conversation_id", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conversation_id: uuid.UUID = Field(foreign_key="conversations.id", index=True)
    version: int
    overall_score: float
    qualification_status: str = Field(max_length=16)
    dimensions: list[dict[str, Any]] = _json(nullable=False)
    key_findings: list[str] = _json(nullable=False)
    next_steps: list[dict[str, Any]] = _json(nullable=False)
    risks: list[dict[str, Any]] = _json(nullable=False)
    agent_outputs: dict[str, Any] = _json(nullable=False)
    provider: str
    model: str
    analyzed_at: datetime = _ts()
    superseded_at: datetime = _ts()


class TrackerRow(SQLModel, table=True):
    """A tracker of the organisation (this deployment): see ``contracts.TrackerDefinition``."""

    __tablename__ = "trackers"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_column=Column(String(80), unique=True, nullable=False))
    kind: str = Field(max_length=16)
    phrases: list[str] = _json(nullable=False)
    threshold: float = 0.6
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Notification(SQLModel, table=True):
    """One delivery to one target; unique per (conversation, channel, target) so a
    redelivered ``CallAnalyzed`` never sends the same Slack message twice."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("conversation_id", "channel", "target"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conversation_id: uuid.UUID = Field(foreign_key="conversations.id", index=True)
    channel: str = Field(max_length=32)
    target: str = Field(max_length=512)
    status: str = Field(max_length=16)
    payload: dict[str, Any] = _json(nullable=False)
    response: dict[str, Any] | None = _json()
    attempts: int = 0
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True, default=False)


class AlertRuleRow(SQLModel, table=True):
    __tablename__ = "alert_rules"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(unique=True)
    kind: str = Field(max_length=32)
    params: dict[str, Any] = _json(nullable=False)
    enabled: bool = True
    created_at: datetime = _ts()


class AlertRow(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("rule_id", "conversation_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    rule_id: uuid.UUID = Field(foreign_key="alert_rules.id")
    conversation_id: uuid.UUID | None = Field(default=None, foreign_key="conversations.id")
    message: str
    severity: str = Field(max_length=16)
    created_at: datetime = _ts()
    acknowledged_at: datetime | None = _ts(nullable=True, default=False)
    acknowledged_by: str | None = Field(default=None, max_length=64)


class DlqEntry(SQLModel, table=True):
    __tablename__ = "dlq_entries"
    __table_args__ = (
        UniqueConstraint("dlq_partition", "dlq_offset"),
        Index("ix_dlq_entries_stage_created", "service", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    dlq_partition: int
    dlq_offset: int
    original_topic: str
    original_partition: int | None = None
    original_offset: int | None = None
    key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: dict[str, Any] = _json(nullable=False)
    service: str = Field(max_length=64)
    consumer_group: str = Field(max_length=128)
    error_class: str = Field(max_length=256, index=True)
    error_message: str
    stack_trace: str | None = None
    attempts: int = 0
    conversation_id: uuid.UUID | None = Field(default=None, index=True)
    trace_id: str | None = Field(default=None, max_length=32)
    status: str = Field(default="new", max_length=16)
    created_at: datetime = _ts()
    resolved_at: datetime | None = _ts(nullable=True, default=False)


class OutboxEvent(SQLModel, table=True):
    """An event written in the same transaction as the row it announces (transactional
    outbox): if the process dies or Kafka refuses between the commit and the publish, the
    relay publishes it later, so a committed call can never miss its event."""

    __tablename__ = "event_outbox"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    topic: str = Field(max_length=255)
    key: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    payload: dict[str, Any] = _json(nullable=False)
    headers: dict[str, Any] = _json(nullable=False)
    created_at: datetime = _ts()
