"""The upload use case behind every intake (HTTP uploads and files shared in Slack, see
:mod:`callstream_ingest.upload.intake`): a stored recording becomes a pending conversation
and its ``CallUploaded``, written together through the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from callstream_common.contracts import CallUploaded, ConversationMetadata
from callstream_common.conversations.unit_of_work import Conflict, UnitOfWork
from callstream_common.db.models import Conversation, ConversationStatus
from callstream_ingest.upload.metadata import UploadMetadata


@dataclass(frozen=True)
class CallDetails:
    """What describes the call, whatever brought it (validated by the caller)."""

    opportunity_name: str | None
    rep_id: str
    opportunity_id: uuid.UUID | None = None
    company_name: str | None = None
    title: str | None = None
    conversation_date: date | None = None
    participants: list[str] = field(default_factory=list)
    priority: int = 5
    not_before: datetime | None = None
    max_attempts: int | None = None


@dataclass(frozen=True)
class Recording:
    """The recording as the object store keeps it."""

    object_key: str
    content_type: str
    size_bytes: int
    sha256: str
    filename: str | None


def new_conversation(
    conversation_id: uuid.UUID,
    meta: UploadMetadata | CallDetails,
    recording: Recording,
    *,
    idempotency_key: str | None,
    created_by: uuid.UUID | None,
    trace_id: str | None,
    started: datetime,
    slack_thread: dict[str, Any] | None = None,
) -> Conversation:
    """The pending conversation row (pure)."""
    finished = datetime.now(UTC)
    return Conversation(
        id=conversation_id,
        idempotency_key=idempotency_key,
        status=ConversationStatus.PENDING,
        opportunity_name=meta.opportunity_name or "",
        opportunity_id=meta.opportunity_id,
        company_name=meta.company_name,
        rep_id=meta.rep_id,
        title=meta.title,
        conversation_date=meta.conversation_date,
        participants=list(meta.participants),
        object_key=recording.object_key,
        content_type=recording.content_type,
        size_bytes=recording.size_bytes,
        sha256=recording.sha256,
        filename=recording.filename,
        priority=meta.priority,
        trace_id=trace_id,
        created_by=created_by,
        slack_thread=slack_thread,
        timings={
            "upload": {
                "started_at": started.isoformat(),
                "finished_at": finished.isoformat(),
                "seconds": round((finished - started).total_seconds(), 3),
            }
        },
    )


def uploaded(conversation: Conversation, meta: UploadMetadata | CallDetails) -> CallUploaded:
    """The event announcing the conversation (pure; after its opportunity is attached, so
    the event names the deal the call joined)."""
    return CallUploaded(
        conversation_id=conversation.id,
        object_key=conversation.object_key,
        content_type=conversation.content_type,
        size_bytes=conversation.size_bytes,
        sha256=conversation.sha256,
        filename=conversation.filename,
        metadata=ConversationMetadata(
            opportunity_name=conversation.opportunity_name,
            company_name=conversation.company_name,
            rep_id=conversation.rep_id,
            title=conversation.title,
            conversation_date=conversation.conversation_date,
            participants=conversation.participants,
        ),
        priority=conversation.priority,
        not_before=meta.not_before,
        max_attempts=meta.max_attempts,
    )


def new_call(
    conversation_id: uuid.UUID,
    meta: UploadMetadata | CallDetails,
    recording: Recording,
    *,
    idempotency_key: str | None,
    created_by: uuid.UUID | None,
    trace_id: str | None,
    started: datetime,
) -> tuple[Conversation, CallUploaded]:
    """The pending conversation row and the event announcing it (pure)."""
    conversation = new_conversation(
        conversation_id,
        meta,
        recording,
        idempotency_key=idempotency_key,
        created_by=created_by,
        trace_id=trace_id,
        started=started,
    )
    return conversation, uploaded(conversation, meta)


async def previous_upload(
    unit_of_work: Callable[[], UnitOfWork], idempotency_key: str
) -> Conversation | None:
    async with unit_of_work() as uow:
        return await uow.conversations.by_idempotency_key(idempotency_key)


async def register_call(
    unit_of_work: Callable[[], UnitOfWork], conversation: Conversation, event: CallUploaded
) -> tuple[Conversation, bool]:
    """Save the row and its event in one transaction (outbox); the event is published
    right after (ingest's unit of work does it in the background, off the 202's path).

    If Kafka does not acknowledge, or this process dies before it does, the outbox relay
    publishes the event later: a committed call always gets its event, and the upload is
    still accepted while Kafka is briefly away. Returns the conversation and whether it is
    an earlier upload with the same ``Idempotency-Key`` (which won a concurrent race)."""
    try:
        async with unit_of_work() as uow:
            await uow.add_call_and_commit(conversation, event)
    except Conflict:
        key = conversation.idempotency_key
        existing = await previous_upload(unit_of_work, key) if key else None
        if existing is None:
            raise
        return existing, True
    return conversation, False
