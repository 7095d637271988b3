"""Delivery failures, split by what the caller should do next.

The Kafka handler only needs one decision per failure: try again later (send the record to a
retry topic) or never (send it to the DLQ). The adapters have already retried a few times in
process before raising, so a ``RetryableDeliveryError`` means "the receiver is still unhappy
after a short in-process backoff", not "a single request failed".
"""

from __future__ import annotations

from callstream_common.outbound_http import (
    PermanentProviderError,
    ProviderError,
    RetryableProviderError,
)


class DeliveryError(ProviderError):
    """A notification could not be delivered.

    ``target`` describes the destination without secrets (never a token or a webhook URL
    path), so the exception text is safe to log and to store as a failure reason.
    """

    def __init__(
        self,
        message: str,
        *,
        target: str,
        status_code: int | None = None,
        error: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        ProviderError.__init__(self, message, status_code=status_code, retry_after=retry_after)
        self.message = message
        self.target = target
        self.error = error
        # Set by the retry loop: how many requests were made before giving up.
        self.attempts = 1

    def __str__(self) -> str:
        parts = [f"{self.target}: {self.message}"]
        if self.status_code is not None:
            parts.append(f"http={self.status_code}")
        if self.error:
            parts.append(f"error={self.error}")
        if self.retry_after is not None:
            parts.append(f"retry_after={self.retry_after:g}s")
        if self.attempts > 1:
            parts.append(f"attempts={self.attempts}")
        return " ".join(parts)


class RetryableDeliveryError(DeliveryError, RetryableProviderError):
    """Transient: rate limited, receiver 5xx, timeout or connection failure.

    ``retry_after`` (seconds), when set, is the receiver's own request for how long to wait;
    a retry scheduled earlier than that will most likely be rate limited again.
    """


class PermanentDeliveryError(DeliveryError, PermanentProviderError):
    """Will fail the same way on every retry (bad token, unknown channel, rejected payload).

    Retrying only burns rate limit; the record belongs in the DLQ with this reason.
    """
