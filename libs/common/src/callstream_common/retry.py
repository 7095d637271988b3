"""Retry policy and error classification — pure, no I/O.

A failure is either *permanent* (the same input will fail the same way: validation,
schema mismatch, undecodable audio) and goes straight to the dead-letter topic, or
*retryable* (timeouts, lost connections, 5xx, 429) and goes to the stage's delayed retry
topic until the attempts run out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError


class PermanentError(Exception):
    """The input can never succeed; do not retry."""


class RetryableError(Exception):
    """A transient failure; ``retry_after`` (seconds) overrides the backoff when given."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownSchemaVersion(PermanentError):
    pass


_PERMANENT_TYPES: tuple[type[BaseException], ...] = (
    PermanentError,
    ValidationError,
    json.JSONDecodeError,
    UnicodeDecodeError,
    ValueError,
    TypeError,
    KeyError,
)


def is_permanent(exc: BaseException) -> bool:
    """Retryable unless we know better: losing a call to a bug is worse than retrying it.

    ``ValueError``/``TypeError``/``KeyError`` are programming or data errors that a retry
    cannot fix; connection and timeout errors (``OSError``, ``TimeoutError``, driver
    errors) are retryable. An exception may declare itself with ``permanent = True``.
    """
    if isinstance(exc, RetryableError):
        return False
    declared = getattr(exc, "permanent", None)
    if isinstance(declared, bool):
        return declared
    return isinstance(exc, _PERMANENT_TYPES)


def is_stale_connection(exc: BaseException) -> bool:
    """A pooled database connection died under the statement (the server restarted since
    it was checked): SQLAlchemy flags the error ``connection_invalidated`` and replaces
    the pool's older connections, so running the record again at once succeeds."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "connection_invalidated", False) is True:
            return True
        seen = seen.__cause__
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: the n-th retry waits ``base ** n`` seconds, capped."""

    max_attempts: int = 3
    base_seconds: float = 2.0
    cap_seconds: float = 300.0

    def delay_after(self, attempt: int, retry_after: float | None = None) -> float:
        """Delay before attempt ``attempt + 1`` given that ``attempt`` (1-based) failed."""
        backoff = min(self.cap_seconds, self.base_seconds**attempt)
        if retry_after is not None:
            return min(self.cap_seconds, max(backoff, retry_after))
        return backoff


@dataclass(frozen=True)
class FailureDecision:
    dead_letter: bool
    reason: str
    next_attempt: int
    due_at: datetime | None = None


def decide(
    exc: BaseException,
    attempt: int,
    now: datetime,
    policy: RetryPolicy,
    max_attempts: int | None = None,
) -> FailureDecision:
    """What to do with a message whose ``attempt``-th processing (1-based) raised ``exc``."""
    limit = max_attempts or policy.max_attempts
    if is_permanent(exc):
        return FailureDecision(True, "permanent", attempt)
    if attempt >= limit:
        return FailureDecision(True, f"retries exhausted after {attempt} attempts", attempt)
    retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
    delay = policy.delay_after(attempt, retry_after)
    return FailureDecision(False, "retry", attempt + 1, now + timedelta(seconds=delay))
