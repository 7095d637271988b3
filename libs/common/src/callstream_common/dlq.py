"""Dead-letter records: turning a DLQ Kafka record into a database row (the notifier's
DLQ recorder writes it; the ops API in ingest lists and replays it)."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.dlq_headers import (
    H_ATTEMPT,
    H_EXC_CLASS,
    H_EXC_MESSAGE,
    H_EXC_STACK,
    H_GROUP,
    H_ORIGINAL_OFFSET,
    H_ORIGINAL_PARTITION,
    H_ORIGINAL_TOPIC,
    H_REASON,
    H_SERVICE,
    int_header,
    trace_id_of,
)


def conversation_id_of(value: bytes) -> uuid.UUID | None:
    """The conversation a dead record belongs to, when its body still says so."""
    try:
        data = json.loads(value)
        return uuid.UUID(str(data["conversation_id"])) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


async def record_entry(
    session: AsyncSession,
    *,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes,
    headers: dict[str, str],
) -> bool:
    """Insert the DLQ record (idempotent on its DLQ partition/offset); True if new."""
    result = await session.execute(
        text(
            "INSERT INTO dlq_entries (id, dlq_partition, dlq_offset, original_topic, "
            "original_partition, original_offset, key, value, headers, service, consumer_group, "
            "error_class, error_message, stack_trace, attempts, conversation_id, trace_id, "
            "status, created_at) VALUES (:id, :p, :o, :topic, :op, :oo, :key, :value, "
            "CAST(:headers AS jsonb), :service, :group, :cls, :msg, :stack, :attempts, :conv, "
            ":trace, 'new', now()) ON CONFLICT (dlq_partition, dlq_offset) DO NOTHING "
            "RETURNING id"
        ),
        {
            "id": uuid.uuid4(),
            "p": partition,
            "o": offset,
            "topic": headers.get(H_ORIGINAL_TOPIC, "unknown"),
            "op": int_header(headers.get(H_ORIGINAL_PARTITION)),
            "oo": int_header(headers.get(H_ORIGINAL_OFFSET)),
            "key": key,
            "value": value,
            "headers": json.dumps(headers),
            "service": headers.get(H_SERVICE, "unknown")[:64],
            "group": headers.get(H_GROUP, "unknown")[:128],
            "cls": headers.get(H_EXC_CLASS, "unknown")[:256],
            "msg": headers.get(H_REASON, "") + ": " + headers.get(H_EXC_MESSAGE, ""),
            "stack": headers.get(H_EXC_STACK),
            "attempts": int_header(headers.get(H_ATTEMPT)) or 0,
            "conv": conversation_id_of(value),
            "trace": trace_id_of(headers),
        },
    )
    return result.first() is not None
