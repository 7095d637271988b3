"""HTTP delivery mechanics of the Slack and webhook adapters, on top of the shared
outbound-HTTP toolkit (:mod:`callstream_common.outbound_http`): transport failures as
delivery errors, the in-call retry loop with its log line, and secret URLs kept out of
httpx's request log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import RetryCallState

from callstream_common.outbound_http import InCallRetry, async_retrying
from callstream_notifier.errors import (
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

logger = logging.getLogger("callstream_notifier.delivery")

T = TypeVar("T")


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


def _log_retry(policy: InCallRetry) -> Callable[[RetryCallState], None]:
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


async def run_with_retries(send: Callable[[], Awaitable[T]], policy: InCallRetry) -> tuple[T, int]:
    """Run ``send`` until it succeeds, fails permanently or the policy is exhausted.

    Returns the result and the number of requests made. The final ``DeliveryError`` is
    re-raised unchanged (with ``attempts`` filled in) so that callers see the real reason,
    not a tenacity wrapper.
    """
    attempt_number = 0
    try:
        async for attempt in async_retrying(policy, (RetryableDeliveryError,), _log_retry(policy)):
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
