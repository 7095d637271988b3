"""Provider failures, split by what the pipeline should do about them.

The Kafka handler maps these onto its retry/DLQ mechanics: a ``RetryableProviderError`` goes to
the delayed retry topics (the provider may answer next time: rate limit, outage, a model that
produced malformed JSON twice), a ``PermanentProviderError`` goes straight to the DLQ (bad
credentials or a request the provider rejects will fail the same way however often it is
sent). Messages never contain API keys.
"""

from __future__ import annotations

from callstream_common import outbound_http


class ProviderError(outbound_http.ProviderError):
    """An analysis provider failed; ``provider`` names it, ``status_code`` is the last HTTP
    status seen, if any."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, retry_after=retry_after)
        self.provider = provider


class RetryableProviderError(ProviderError, outbound_http.RetryableProviderError):
    """Worth trying again later: 429, 5xx, timeouts, connection errors, invalid output.

    The stage sends it to the retry topics; ``retry_after`` carries the provider's last
    ``Retry-After`` (seconds) when it gave one."""


class PermanentProviderError(ProviderError, outbound_http.PermanentProviderError):
    """Will not succeed by retrying: 400/401/403/404 and other client errors, blocked prompts.
    The stage dead-letters it at once."""
