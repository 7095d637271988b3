"""Calling a third-party HTTP API (Slack, webhooks, OpenAI-compatible and Gemini
endpoints): ``Retry-After`` parsing, the retryable/permanent provider errors, which HTTP
statuses are worth another attempt, and the short in-call retry loop.

Every adapter retries a transient failure a few times inside the call, with backoff
(honouring the receiver's ``Retry-After``), then raises a
:class:`RetryableProviderError` so that the stage's delayed retry topic takes over, or a
:class:`PermanentProviderError` that goes straight to the DLQ. Long waits never happen
inside the call: a consumer that sleeps for a minute holds its partition.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import AsyncRetrying, RetryCallState, Retrying, stop_after_attempt

from callstream_common.retry import PermanentError, RetryableError

RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""Besides every 5xx: request timeout, too early, too many requests."""


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


class ProviderError(Exception):
    """A third-party API did not do what was asked; ``status_code`` is the last HTTP
    status seen, ``retry_after`` the receiver's own wait hint in seconds (uncapped)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        Exception.__init__(self, message)
        self.status_code = status_code
        self.retry_after = retry_after


class RetryableProviderError(ProviderError, RetryableError):
    """Transient (rate limit, 5xx, timeout, connection): the retry topics take over."""


class PermanentProviderError(ProviderError, PermanentError):
    """Will fail the same way every time (bad key, rejected request): straight to the DLQ."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date form)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """``retry-after-ms`` (OpenAI's finer hint) or else ``Retry-After``."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))


@dataclass(frozen=True, slots=True)
class InCallRetry:
    """The short retry loop inside one call to a provider (the stage's
    :class:`~callstream_common.retry.RetryPolicy` decides what happens after it).

    ``attempts`` counts requests, not retries. A ``Retry-After`` is waited for up to
    ``max_retry_after`` seconds; a longer one ends the loop at once (the error carries
    the hint for the retry topic) unless ``wait_out_long_retry_after``, which waits the
    cap and tries again.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 4.0
    max_retry_after: float = 10.0
    wait_out_long_retry_after: bool = False

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must be >= 0")

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter, so many consumers do not retry in step."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(attempt - 1, 0)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return self.backoff(attempt)

    def gives_up_on(self, retry_after: float | None) -> bool:
        """Whether a hint this long ends the loop instead of being slept on."""
        return (
            retry_after is not None
            and retry_after > self.max_retry_after
            and not self.wait_out_long_retry_after
        )


def _hint(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome is not None else None
    hint = getattr(exc, "retry_after", None)
    return float(hint) if isinstance(hint, int | float) else None


def _tenacity_options(
    policy: InCallRetry,
    retry_on: tuple[type[BaseException], ...],
    on_retry: Callable[[RetryCallState], None] | None,
) -> dict[str, object]:
    def should_retry(state: RetryCallState) -> bool:
        if state.outcome is None or not state.outcome.failed:
            return False
        exc = state.outcome.exception()
        return isinstance(exc, retry_on) and not policy.gives_up_on(_hint(state))

    def wait(state: RetryCallState) -> float:
        return policy.wait(state.attempt_number, _hint(state))

    options: dict[str, object] = {
        "stop": stop_after_attempt(policy.attempts),
        "wait": wait,
        "retry": should_retry,
        "reraise": True,
    }
    if on_retry is not None:
        options["before_sleep"] = on_retry
    return options


def retrying(
    policy: InCallRetry,
    retry_on: tuple[type[BaseException], ...],
    on_retry: Callable[[RetryCallState], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Retrying:
    """A tenacity loop for blocking clients (run in a worker thread)."""
    options = _tenacity_options(policy, retry_on, on_retry)
    if sleep is not None:
        options["sleep"] = sleep
    return Retrying(**options)  # type: ignore[arg-type]


def async_retrying(
    policy: InCallRetry,
    retry_on: tuple[type[BaseException], ...],
    on_retry: Callable[[RetryCallState], None] | None = None,
) -> AsyncRetrying:
    """The same loop for async clients."""
    return AsyncRetrying(**_tenacity_options(policy, retry_on, on_retry))  # type: ignore[arg-type]
