"""The checks an edited DLQ payload passes before a replay changes anything: it must be
what the stage of its topic accepts (the topic's contract, as the consumer decodes it),
name the dead entry's own conversation, and fit in one Kafka record. Otherwise the edit
would only dead-letter again, or reopen one call while another is processed, and leave
the reopened call ``processing`` for ever."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from callstream_common import topics
from callstream_common.contracts import (
    CallAnalyzed,
    CallTranscribed,
    CallUploaded,
    CompactionRequested,
)
from callstream_common.db.models import DlqEntry
from callstream_common.retry import PermanentError
from callstream_common.stage import decode_event
from callstream_ingest.errors import ApiError

CONTRACT_OF_TOPIC: dict[str, type[BaseModel]] = {
    topics.CALLS_UPLOADED: CallUploaded,
    topics.CALLS_TRANSCRIBED: CallTranscribed,
    topics.CALLS_ANALYZED: CallAnalyzed,
    topics.COMPACTION_REQUESTED: CompactionRequested,
}


def contract_for(topic: str) -> type[BaseModel] | None:
    """The contract of a stage topic, its priority lane or its retry topic."""
    for base, model in CONTRACT_OF_TOPIC.items():
        if topic in (base, *topics.input_topics(base), topics.retry_topic_for(base)):
            return model
    return None


def checked_payload(entry: DlqEntry, payload: dict[str, Any], limit: int) -> bytes:
    """The edited payload as the record value, or an :class:`ApiError` naming the problem."""
    value = json.dumps(payload, ensure_ascii=False).encode()
    if len(value) > limit:
        raise ApiError(
            413,
            "too_large",
            f"the edited payload is {len(value)} bytes; one record may carry {limit}",
            {"limit_bytes": limit},
        )
    model = contract_for(entry.original_topic)
    if model is None:
        raise ApiError(
            422,
            "invalid_payload",
            f"no known contract for topic {entry.original_topic!r}; replay it unedited",
        )
    try:
        event = decode_event(model, value)
    except PermanentError as exc:
        raise ApiError(
            422,
            "invalid_payload",
            f"the edited payload is not a valid {model.__name__}: {exc}",
            {"contract": model.__name__, "topic": entry.original_topic},
        ) from exc
    named = getattr(event, "conversation_id", None)
    if entry.conversation_id is not None and named != entry.conversation_id:
        raise ApiError(
            422,
            "invalid_payload",
            "the edited payload names another conversation than the dead entry's",
            {"expected_conversation_id": str(entry.conversation_id)},
        )
    return value
