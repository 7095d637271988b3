"""Accepting a recording, whatever brought it (an HTTP upload or a file shared in Slack).

The bytes stream into the object store, then the conversation row and its ``CallUploaded``
go in one unit of work (outbox, :mod:`callstream_ingest.upload.service`). A failure after
the bytes are stored removes them: nothing is half-written. An ``idempotency_key`` that
already names a conversation returns that one (after ``same_request`` has checked that the
retry is the same request).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from callstream_common.db.models import Conversation
from callstream_common.telemetry import current_trace_id
from callstream_ingest.auth import Principal
from callstream_ingest.state import IngestState
from callstream_ingest.upload.service import (
    CallDetails,
    Recording,
    new_conversation,
    register_call,
    uploaded,
)
from callstream_ingest.upload.sniff import AudioFormat

__all__ = ["CallDetails", "accept_recording"]


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
    length: int | None = None,
) -> tuple[Conversation, bool]:
    """Store the recording and announce it; ``(conversation, replayed)``.

    ``length`` (the recording's size, when the request declared it) lets the object store
    receive the bytes as they arrive rather than once they are all in.

    ``details`` is called once the bytes are stored (multipart fields after the file part
    are only known then); an error it raises removes the stored bytes.
    """
    conv_id = uuid.uuid4()
    started = datetime.now(UTC)
    key = f"recordings/{started:%Y/%m/%d}/{conv_id}.{fmt.extension}"
    stored = await st.store.put_stream(key, rest, fmt.content_type, first=head, length=length)
    try:
        meta = await details()
        recording = Recording(key, fmt.content_type, stored.size, stored.sha256, filename)
        conv = new_conversation(
            conv_id,
            meta,
            recording,
            idempotency_key=idempotency_key,
            created_by=who.credential_id,
            trace_id=current_trace_id(),
            started=started,
            slack_thread=slack_thread,
        )
        await st.attach_opportunity(conv, who)
        conv, replayed = await register_call(st.unit_of_work, conv, uploaded(conv, meta))
    except BaseException:
        await asyncio.to_thread(st.store.remove, key)
        raise
    if replayed:
        await asyncio.to_thread(st.store.remove, key)
        if same_request is not None:
            same_request(conv, meta, stored.sha256)
    return conv, replayed
