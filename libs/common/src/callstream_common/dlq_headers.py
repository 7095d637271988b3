"""The header protocol of the retry and dead-letter topics, in one place.

Headers follow Spring Kafka's retry topics and Kafka Connect's DLQ context: the original
topic/partition/offset, attempts, first failure time, due time, exception class, message
and a truncated stack trace. The trace context travels in ``traceparent`` and is set
afresh by the producer on every hop, so it is never copied. The stage writes these
headers, the DLQ recorder reads them, and a replay drops them so attempts start over.
"""

from __future__ import annotations

import traceback
from datetime import datetime
from typing import Any

H_ATTEMPT = "x-callstream-attempt"
H_MAX_ATTEMPTS = "x-callstream-max-attempts"
H_FIRST_FAILURE = "x-callstream-first-failure-at"
H_DUE_AT = "x-callstream-due-at"
H_ORIGINAL_TOPIC = "x-callstream-original-topic"
H_ORIGINAL_PARTITION = "x-callstream-original-partition"
H_ORIGINAL_OFFSET = "x-callstream-original-offset"
H_SERVICE = "x-callstream-service"
H_GROUP = "x-callstream-consumer-group"
H_EXC_CLASS = "x-callstream-exception-class"
H_EXC_MESSAGE = "x-callstream-exception-message"
H_EXC_STACK = "x-callstream-exception-stacktrace"
H_REASON = "x-callstream-dlq-reason"

PROTOCOL_PREFIX = "x-callstream-"
TRACE_HEADERS = ("traceparent", "tracestate")
STACK_LIMIT = 4000
MESSAGE_LIMIT = 1000


def str_headers(raw: Any) -> dict[str, str]:
    """Kafka header values (bytes) as text."""
    out: dict[str, str] = {}
    for k, v in (raw or {}).items():
        out[k] = v.decode("utf-8", "replace") if isinstance(v, bytes | bytearray) else str(v)
    return out


def without_trace(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in TRACE_HEADERS}


def replay_headers(stored: dict[str, Any]) -> dict[str, str]:
    """The headers a record started with: the retry/DLQ bookkeeping (and the old trace
    context) dropped, so a replayed or re-failed record's attempts start over."""
    return {
        k: str(v)
        for k, v in stored.items()
        if not k.startswith(PROTOCOL_PREFIX) and k not in TRACE_HEADERS
    }


def due_at_ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def failure_headers(
    headers: dict[str, str],
    *,
    topic: str,
    partition: int,
    offset: int,
    service: str,
    group: str,
    exc: BaseException,
    attempts: int,
    now: datetime,
) -> dict[str, str]:
    """The headers of a failed record on its way to the retry topic: where it came from
    first (kept from an earlier failure), who failed it with what, after how many
    attempts."""
    out = replay_headers(headers)
    out.update(
        {
            H_ATTEMPT: str(attempts),
            H_FIRST_FAILURE: headers.get(H_FIRST_FAILURE, now.isoformat()),
            H_ORIGINAL_TOPIC: headers.get(H_ORIGINAL_TOPIC, topic),
            H_ORIGINAL_PARTITION: headers.get(H_ORIGINAL_PARTITION, str(partition)),
            H_ORIGINAL_OFFSET: headers.get(H_ORIGINAL_OFFSET, str(offset)),
            H_SERVICE: service,
            H_GROUP: group,
            H_EXC_CLASS: f"{type(exc).__module__}.{type(exc).__qualname__}",
            H_EXC_MESSAGE: str(exc)[:MESSAGE_LIMIT],
        }
    )
    return out


def dead_letter_headers(failure: dict[str, str], exc: BaseException, reason: str) -> dict[str, str]:
    """A failure's headers plus what the DLQ keeps: the reason and the stack trace."""
    stack = "".join(traceback.format_exception(exc))[-STACK_LIMIT:]
    return failure | {H_EXC_STACK: stack, H_REASON: reason}


def int_header(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def trace_id_of(headers: dict[str, str]) -> str | None:
    """The trace id of a W3C ``traceparent``."""
    parent = headers.get("traceparent", "")
    parts = parent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None
