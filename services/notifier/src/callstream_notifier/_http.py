"""HTTP delivery mechanics shared by the Slack and webhook adapters.

Both adapters classify every outcome into delivered / retryable / permanent, retry the
retryable ones a few times in process with short backoff (honouring ``Retry-After``), then
raise so that the Kafka retry topics take over. Long waits never happen here: a consumer that
sleeps for a minute holds its partition and stalls every other call behind it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt

from callstream_notifier.errors import (
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

logger = logging.getLogger("callstream_notifier.delivery")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """In-process retries of one delivery.

    ``attempts`` counts requests, not retries. ``max_retry_after`` caps how long we are
    willing to wait on a receiver's ``Retry-After``; a longer request ends the in-process loop
    at once (the error carries ``retry_after`` for the retry topic to honour) instead of
    either sleeping that long or ignoring it and getting rate limited again.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 4.0
    max_retry_after: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must be >= 0")

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter, so many consumers do not retry in step."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(attempt - 1, 0)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


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


def transport_error(exc: Exception, *, target: str) -> DeliveryError:
    """Map an httpx exception raised before any response arrived.

    A timeout or a dropped connection may hit a request the receiver already processed, so a
    retry can duplicate a message: delivery is at-least-once (webhook receivers dedupe on
    ``X-Callstream-Event-Id``). A malformed URL or an unsupported scheme is configuration and
    will never succeed.
    """
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return PermanentDeliveryError(
            f"request cannot be sent: {type(exc).__name__}", target=target
        )
    if isinstance(exc, httpx.TimeoutException):
        return RetryableDeliveryError(f"timed out ({type(exc).__name__})", target=target)
    return RetryableDeliveryError(f"transport error: {type(exc).__name__}", target=target)


def _should_retry(policy: RetryPolicy) -> Callable[[RetryCallState], bool]:
    def should_retry(state: RetryCallState) -> bool:
        if state.outcome is None or not state.outcome.failed:
            return False
        exc = state.outcome.exception()
        if not isinstance(exc, RetryableDeliveryError):
            return False
        return exc.retry_after is None or exc.retry_after <= policy.max_retry_after

    return should_retry


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RetryableDeliveryError) and exc.retry_after is not None:
            return min(exc.retry_after, policy.max_retry_after)
        return policy.backoff(state.attempt_number)

    return wait


def _log_retry(policy: RetryPolicy) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        sleep = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning(
            "delivery failed, retrying in %.2fs (attempt %d/%d): %s",
            sleep,
            state.attempt_number,
            policy.attempts,
            exc,
        )

    return before_sleep


async def run_with_retries(send: Callable[[], Awaitable[T]], policy: RetryPolicy) -> tuple[T, int]:
    """Run ``send`` until it succeeds, fails permanently or the policy is exhausted.

    Returns the result and the number of requests made. The final ``DeliveryError`` is
    re-raised unchanged (with ``attempts`` filled in) so that callers see the real reason,
    not a tenacity wrapper.
    """
    attempt_number = 0
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(policy.attempts),
            wait=_wait(policy),
            retry=_should_retry(policy),
            before_sleep=_log_retry(policy),
            reraise=True,
        ):
            with attempt:
                attempt_number = attempt.retry_state.attempt_number
                result = await send()
    except DeliveryError as exc:
        exc.attempts = attempt_number
        raise
    return result, attempt_number


def describe_url(url: str) -> str:
    """A loggable name for a URL: scheme and host only, since paths and queries of webhook
    URLs are often the credential itself (Slack ``/services/T…/B…/secret``)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")


class _SecretUrlFilter(logging.Filter):
    """Rewrites registered secret URLs in httpx's ``HTTP Request: POST <url>`` INFO log line.

    httpx logs the full request URL of every call; for an incoming-webhook URL that is the
    token. Filtering at the ``httpx`` logger keeps the secret out of every handler without
    asking each deployment to silence httpx.
    """

    def __init__(self) -> None:
        super().__init__("callstream-secret-urls")
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}

    def register(self, url: str) -> None:
        if url in self._secrets:
            return
        replacement = describe_url(url) + "/***"
        with self._lock:
            # httpx normalises URLs (default port, percent-encoding); match both spellings.
            updated = dict(self._secrets)
            updated[url] = replacement
            try:
                updated[str(httpx.URL(url))] = replacement
            except httpx.InvalidURL:
                pass
            self._secrets = updated

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets  # replaced, never mutated: safe to read without the lock
        if secrets and isinstance(record.msg, str):
            for secret, replacement in secrets.items():
                record.msg = record.msg.replace(secret, replacement)
        if not secrets or not isinstance(record.args, tuple):
            return True
        redacted: list[object] = []
        changed = False
        for arg in record.args:
            if isinstance(arg, str | httpx.URL):
                text = str(arg)
                for secret, replacement in secrets.items():
                    if secret in text:
                        text = text.replace(secret, replacement)
                if text != str(arg):
                    redacted.append(text)
                    changed = True
                    continue
            redacted.append(arg)
        if changed:
            record.args = tuple(redacted)
        return True


_secret_urls = _SecretUrlFilter()
logging.getLogger("httpx").addFilter(_secret_urls)


def register_secret_url(url: str, *loggers: logging.Logger) -> None:
    """Keep ``url`` out of httpx's request log and out of ``loggers`` (e.g. the one given to
    slack-sdk's webhook client, which logs the URL it posts to)."""
    _secret_urls.register(url)
    for log in loggers:
        if _secret_urls not in log.filters:
            log.addFilter(_secret_urls)
