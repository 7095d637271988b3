"""Accepting a recording, whatever brought it (an HTTP upload or a file shared in Slack).

The bytes stream into the object store, then the conversation row and its ``CallUploaded``
go in one transaction (outbox). A failure after the bytes are stored removes them: nothing
is half-written. An ``idempotency_key`` that already names a conversation returns that one
(after ``same_request`` has checked that the retry is the same request).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from callstream_common.contracts import CallUploaded, ConversationMetadata
from callstream_common.db.models import Conversation, ConversationStatus
from callstream_common.telemetry import current_trace_id
from callstream_ingest.auth import Principal
from callstream_ingest.state import IngestState
from callstream_ingest.upload.sniff import AudioFormat


@dataclass(frozen=True)
class CallDetails:
    """What describes the call (validated by the caller)."""

    opportunity_name: str | None
    rep_id: str
    opportunity_id: uuid.UUID | None = None
    company_name: str | None = None
    title: str | None = None
    conversation_date: date | None = None
    priority: int = 5
    not_before: datetime | None = None
    max_attempts: int | None = None


async def accept_recording(
    st: IngestState,
    *,
    head: bytes,
    rest: AsyncIterator[bytes],
    fmt: AudioFormat,
    details: Callable[[], Awaitable[CallDetails]],
    filename: str | None,
    idempotency_key: str | None,
    who: Principal,
    slack_thread: dict[str, Any] | None = None,
    same_request: Callable[[Conversation, CallDetails, str], None] | None = None,
) -> tuple[Conversation, bool]:
    """Store the recording and announce it; ``(conversation, replayed)``.

    ``details`` is called once the bytes are stored (multipart fields after the file part
    are only known then); an error it raises removes the stored bytes.
    """
    conv_id = uuid.uuid4()
    now = datetime.now(UTC)
    key = f"recordings/{now:%Y/%m/%d}/{conv_id}.{fmt.extension}"
    stored = await st.store.put_stream(key, rest, fmt.content_type, first=head)
    try:
        meta = await details()
        conv = Conversation(
            id=conv_id,
            idempotency_key=idempotency_key,
            status=ConversationStatus.PENDING,
            opportunity_name=meta.opportunity_name or "",
            opportunity_id=meta.opportunity_id,
            company_name=meta.company_name,
            rep_id=meta.rep_id,
            title=meta.title,
            conversation_date=meta.conversation_date,
            object_key=key,
            content_type=fmt.content_type,
            size_bytes=stored.size,
            sha256=stored.sha256,
            filename=filename,
            priority=meta.priority,
            trace_id=current_trace_id(),
            created_by=who.credential_id,
            slack_thread=slack_thread,
            timings={
                "upload": {
                    "started_at": now.isoformat(),
                    "finished_at": datetime.now(UTC).isoformat(),
                    "seconds": round((datetime.now(UTC) - now).total_seconds(), 3),
                }
            },
        )
        await st.attach_opportunity(conv, who)
        event = CallUploaded(
            conversation_id=conv_id,
            object_key=key,
            content_type=fmt.content_type,
            size_bytes=stored.size,
            sha256=stored.sha256,
            filename=filename,
            metadata=ConversationMetadata(
                opportunity_name=conv.opportunity_name,
                company_name=meta.company_name,
                rep_id=meta.rep_id,
                title=meta.title,
                conversation_date=meta.conversation_date,
            ),
            priority=meta.priority,
            not_before=meta.not_before,
            max_attempts=meta.max_attempts,
        )
        await st.save_and_publish(conv, event)
    except IntegrityError:
        await asyncio.to_thread(st.store.remove, key)
        existing = await st.find_by_idempotency_key(idempotency_key or "")
        if existing is None:
            raise
        if same_request is not None:
            same_request(existing, meta, stored.sha256)
        return existing, True
    except BaseException:
        await asyncio.to_thread(st.store.remove, key)
        raise
    return conv, False
