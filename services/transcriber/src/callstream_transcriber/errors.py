"""How a transcription provider failed, sorted by what the pipeline should do about it.

They subclass the shared provider errors of ``callstream_common.outbound_http``, so the
stage's retry mechanics sort them without a mapping: ``RetryableProviderError`` goes to the delayed
retry topics (the provider was busy, down or unreachable — later may work; its
``retry_after`` hint is honoured), ``PermanentProviderError`` goes straight to the DLQ (a
bad key, a rejected file, a wrong model name — retrying only burns quota). An undecodable
recording is reported separately, as ``callstream_transcriber.audio.UndecodableAudio`` (a
``ValueError``, hence permanent), before any provider is called.
"""

from __future__ import annotations

from callstream_common import outbound_http


class ProviderError(outbound_http.ProviderError):
    """A transcription provider did not produce a transcript."""


class RetryableProviderError(ProviderError, outbound_http.RetryableProviderError):
    """Transient: 408/429, 5xx, timeouts, connection errors — after in-call retries ran out.

    ``retry_after`` is the provider's own hint in seconds (uncapped), when it gave one, so
    the caller can delay its next attempt accordingly.
    """


class PermanentProviderError(ProviderError, outbound_http.PermanentProviderError):
    """Will fail the same way every time: 4xx other than 408/429, or a malformed answer."""
