from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from callstream_common.retry import (
    PermanentError,
    RetryableError,
    RetryPolicy,
    decide,
    is_permanent,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_backoff_is_exponential_and_capped() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=2, cap_seconds=60)
    assert [policy.delay_after(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [2, 4, 8, 16, 32, 60, 60]


def test_retry_after_overrides_a_shorter_backoff_but_not_the_cap() -> None:
    policy = RetryPolicy(base_seconds=2, cap_seconds=30)
    assert policy.delay_after(1, retry_after=10) == 10
    assert policy.delay_after(3, retry_after=1) == 8
    assert policy.delay_after(1, retry_after=999) == 30


def test_retryable_failure_is_scheduled_with_the_next_attempt() -> None:
    d = decide(TimeoutError("slow"), 1, NOW, RetryPolicy())
    assert not d.dead_letter and d.next_attempt == 2
    assert d.due_at == NOW + timedelta(seconds=2)


def test_exhausted_retries_go_to_the_dlq() -> None:
    d = decide(ConnectionError("down"), 3, NOW, RetryPolicy(max_attempts=3))
    assert d.dead_letter and d.reason == "retries exhausted after 3 attempts"


def test_per_message_max_attempts_wins() -> None:
    assert decide(OSError(), 1, NOW, RetryPolicy(max_attempts=5), max_attempts=1).dead_letter
    assert not decide(OSError(), 4, NOW, RetryPolicy(max_attempts=3), max_attempts=6).dead_letter


class _M(BaseModel):
    x: int


@pytest.mark.parametrize(
    "exc",
    [
        PermanentError("bad"),
        json.JSONDecodeError("x", "doc", 0),
        ValueError("undecodable"),
    ],
)
def test_permanent_errors_skip_retries(exc: Exception) -> None:
    assert is_permanent(exc)
    assert decide(exc, 1, NOW, RetryPolicy()).dead_letter


def test_validation_error_is_permanent() -> None:
    with pytest.raises(Exception) as info:
        _M.model_validate({"x": "nope"})
    assert is_permanent(info.value)


def test_declared_and_explicit_retryable() -> None:
    class Declared(Exception):
        permanent = True

    assert is_permanent(Declared())
    assert not is_permanent(RetryableError("429", retry_after=3))
    assert not is_permanent(OSError("connection reset"))
    d = decide(RetryableError("429", retry_after=7), 1, NOW, RetryPolicy())
    assert d.due_at == NOW + timedelta(seconds=7)
