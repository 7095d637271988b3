"""How a transcription provider failed, sorted by what the pipeline should do about it.

They subclass the shared ``callstream_common.retry`` markers, so the stage's retry
mechanics sort them without a mapping: ``RetryableProviderError`` goes to the delayed
retry topics (the provider was busy, down or unreachable — later may work; its
``retry_after`` hint is honoured), ``PermanentProviderError`` goes straight to the DLQ (a
bad key, a rejected file, a wrong model name — retrying only burns quota). An undecodable
recording is reported separately, as ``callstream_transcriber.audio.UndecodableAudio`` (a
``ValueError``, hence permanent), before any provider is called.
"""

from __future__ import annotations

from callstream_common.retry import PermanentError, RetryableError


class ProviderError(Exception):
    """A transcription provider did not produce a transcript."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryableProviderError(ProviderError, RetryableError):
    """Transient: 408/429, 5xx, timeouts, connection errors — after in-call retries ran out.

    ``retry_after`` is the provider's own hint in seconds (uncapped), when it gave one, so
    the caller can delay its next attempt accordingly.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        ProviderError.__init__(self, message, status_code=status_code)
        self.retry_after = retry_after


class PermanentProviderError(ProviderError, PermanentError):
    """Will fail the same way every time: 4xx other than 408/429, or a malformed answer."""
