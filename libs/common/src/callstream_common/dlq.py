"""Dead-letter records: turning a DLQ Kafka record into a database row, and back into a
replay. Shared by the DLQ recorder (notifier) and the ops API (ingest)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from callstream_common.stage import (
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
)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def conversation_id_of(value: bytes) -> uuid.UUID | None:
    """The conversation a dead record belongs to, when its body still says so."""
    try:
        data = json.loads(value)
        return uuid.UUID(str(data["conversation_id"])) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def trace_id_of(headers: dict[str, str]) -> str | None:
    parent = headers.get("traceparent", "")
    parts = parent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


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
            "op": _int(headers.get(H_ORIGINAL_PARTITION)),
            "oo": _int(headers.get(H_ORIGINAL_OFFSET)),
            "key": key,
            "value": value,
            "headers": json.dumps(headers),
            "service": headers.get(H_SERVICE, "unknown")[:64],
            "group": headers.get(H_GROUP, "unknown")[:128],
            "cls": headers.get(H_EXC_CLASS, "unknown")[:256],
            "msg": headers.get(H_REASON, "") + ": " + headers.get(H_EXC_MESSAGE, ""),
            "stack": headers.get(H_EXC_STACK),
            "attempts": _int(headers.get(H_ATTEMPT)) or 0,
            "conv": conversation_id_of(value),
            "trace": trace_id_of(headers),
        },
    )
    return result.first() is not None


def replay_headers(stored: dict[str, Any]) -> dict[str, str]:
    """Headers for a replay: the retry/DLQ bookkeeping is dropped so attempts start over."""
    return {
        k: str(v)
        for k, v in stored.items()
        if not k.startswith("x-callstream-") and k not in ("traceparent", "tracestate")
    }
