"""The outbound-HTTP toolkit: ``Retry-After`` in its forms, retryable statuses, and the
in-call retry loop's decisions."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from callstream_common.outbound_http import (
    InCallRetry,
    PermanentProviderError,
    RetryableProviderError,
    is_retryable_status,
    parse_retry_after,
    retry_after_of,
    retrying,
)
from callstream_common.retry import is_permanent


def test_retry_after_in_seconds_milliseconds_and_http_dates() -> None:
    assert retry_after_of(httpx.Headers({"Retry-After": "2.5"})) == 2.5
    assert retry_after_of(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    assert retry_after_of(httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert retry_after_of(httpx.Headers({})) is None
    assert retry_after_of(httpx.Headers({"Retry-After": "soon"})) is None
    now = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sun, 29 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("-3") == 0.0


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (408, True),
        (425, True),
        (429, True),
        (500, True),
        (503, True),
        (400, False),
        (401, False),
        (404, False),
        (422, False),
    ],
)
def test_which_statuses_are_worth_another_attempt(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


def test_provider_errors_sort_themselves_for_the_stage() -> None:
    assert not is_permanent(RetryableProviderError("503", status_code=503, retry_after=4))
    assert is_permanent(PermanentProviderError("401", status_code=401))


def run(policy: InCallRetry, failures: list[Exception]) -> tuple[int, list[float]]:
    calls, sleeps = 0, []

    def call() -> str:
        nonlocal calls
        calls += 1
        if failures:
            raise failures.pop(0)
        return "ok"

    loop = retrying(policy, (RetryableProviderError,), sleep=sleeps.append)
    loop(call)
    return calls, sleeps


def test_a_retry_after_is_slept_on_up_to_the_cap() -> None:
    policy = InCallRetry(attempts=3, base_delay=0, max_retry_after=5)
    assert run(policy, [RetryableProviderError("429", retry_after=2)]) == (2, [2.0])


def test_a_long_retry_after_ends_the_loop_unless_it_is_waited_out() -> None:
    policy = InCallRetry(attempts=3, base_delay=0, max_retry_after=5)
    with pytest.raises(RetryableProviderError) as raised:
        run(policy, [RetryableProviderError("429", retry_after=600)])
    assert raised.value.retry_after == 600
    patient = InCallRetry(attempts=3, max_retry_after=5, wait_out_long_retry_after=True)
    assert run(patient, [RetryableProviderError("429", retry_after=600)]) == (2, [5.0])


def test_permanent_errors_are_not_retried_and_attempts_are_bounded() -> None:
    policy = InCallRetry(attempts=2, base_delay=0)
    with pytest.raises(PermanentProviderError):
        run(policy, [PermanentProviderError("400")])
    with pytest.raises(RetryableProviderError):
        run(policy, [RetryableProviderError("a"), RetryableProviderError("b")])


def test_backoff_grows_with_equal_jitter_and_is_capped() -> None:
    policy = InCallRetry(base_delay=1, max_delay=4)
    for attempt, ceiling in ((1, 1), (2, 2), (3, 4), (6, 4)):
        assert ceiling / 2 <= policy.backoff(attempt) <= ceiling
