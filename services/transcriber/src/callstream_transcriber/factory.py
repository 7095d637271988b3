"""Pick the transcription engine from configuration: the built-in Whisper or a remote API."""

from __future__ import annotations

import logging

from pydantic import SecretStr

from callstream_transcriber.models import MODEL_NAMES, TINY_EN
from callstream_transcriber.remote import (
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_REMOTE_MODEL,
    DEFAULT_TIMEOUT_SECONDS,
    OpenAICompatibleTranscriber,
)
from callstream_transcriber.transcription import DEFAULT_CHUNK_SECONDS, Transcriber
from callstream_transcriber.whisper import BUILTIN_PROVIDER, WhisperTranscriber

log = logging.getLogger(__name__)


def build_transcriber(
    provider: str,
    *,
    base_url: str | None = None,
    api_key: SecretStr | str | None = None,
    model: str | None = None,
    beam_size: int = 1,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    cpu_threads: int | None = None,
    max_upload_bytes: int | None = None,
    timeout_seconds: float | None = None,
) -> Transcriber:
    """Build the configured engine: ``"builtin"`` (local Whisper) or ``"openai"``.

    ``"openai"`` means any OpenAI-compatible ``/audio/transcriptions`` endpoint (OpenAI,
    Groq, a local server); it needs ``base_url`` and, unless the server is open, ``api_key``.
    ``model`` names the remote model; for the builtin provider it picks a bundled model
    (``tiny.en``, the default, or ``base``) and any other name is ignored (and logged) — one
    settings file can then carry the remote model while the builtin engine is selected.
    """
    name = provider.strip().lower()
    if name == BUILTIN_PROVIDER:
        short = {v: k for k, v in MODEL_NAMES.items()}.get(model or "", model or TINY_EN)
        if short not in MODEL_NAMES:
            log.info(
                "model setting ignored: the builtin provider has %s, using %s (got %r)",
                sorted(MODEL_NAMES),
                TINY_EN,
                model,
            )
            short = TINY_EN
        return WhisperTranscriber(
            model=short, beam_size=beam_size, chunk_seconds=chunk_seconds, cpu_threads=cpu_threads
        )
    if name == "openai":
        if not base_url:
            raise ValueError("the openai provider needs a base_url")
        secret = SecretStr(api_key) if isinstance(api_key, str) else api_key
        return OpenAICompatibleTranscriber(
            base_url=base_url,
            api_key=secret,
            model=model or DEFAULT_REMOTE_MODEL,
            chunk_seconds=chunk_seconds,
            max_upload_bytes=max_upload_bytes or DEFAULT_MAX_UPLOAD_BYTES,
            timeout_seconds=timeout_seconds or DEFAULT_TIMEOUT_SECONDS,
        )
    raise ValueError(f"unknown transcription provider {provider!r} (expected builtin|openai)")
