"""How a transcription provider failed, sorted by what the pipeline should do about it.

The handler maps these onto the retry topics: ``RetryableProviderError`` goes to the
delayed retry topics (the provider was busy, down or unreachable — later may work),
``PermanentProviderError`` goes straight to the DLQ (a bad key, a rejected file, a wrong
model name — retrying only burns quota). An undecodable recording is reported separately,
as ``callstream_transcriber.audio.UndecodableAudio``, before any provider is called.
"""

from __future__ import annotations


class ProviderError(Exception):
    """A transcription provider did not produce a transcript."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryableProviderError(ProviderError):
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
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class PermanentProviderError(ProviderError):
    """Will fail the same way every time: 4xx other than 408/429, or a malformed answer."""
