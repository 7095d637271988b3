"""Transcription by any OpenAI-compatible ``POST {base_url}/audio/transcriptions`` endpoint.

Works with OpenAI (``https://api.openai.com/v1``, model ``whisper-1``), Groq
(``https://api.groq.com/openai/v1``, ``whisper-large-v3-turbo``) and local servers that
mimic the API. We ask for ``verbose_json`` with segment timestamps and map it onto the
shared ``Transcript`` contract.

Failures are sorted for the pipeline (see ``errors``): transient ones (408/429/5xx,
timeouts, connection errors) are retried a few times inside the call with short backoff,
honouring ``Retry-After``, then surface as ``RetryableProviderError`` so the retry topics
take over; everything else is a ``PermanentProviderError``.

Providers cap the upload size (25 MB for OpenAI and Groq's free tier). A larger file — or
one in a format the API does not accept — is decoded as a stream, cut at pauses into chunks
(see ``audio.iter_audio_chunks``), each re-encoded as 16 kHz mono FLAC (lossless, ~1 MB a
minute) and sent on its own; segment times are shifted by each chunk's exact offset.
"""

from __future__ import annotations

import io
import logging
import mimetypes
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError
from tenacity import RetryCallState

from callstream_common.contracts import Transcript, TranscriptSegment
from callstream_common.outbound_http import (
    InCallRetry,
    is_retryable_status,
    retry_after_of,
    retrying,
)
from callstream_transcriber.audio import (
    SAMPLE_RATE,
    default_search_seconds,
    encode_flac,
    iter_audio_chunks,
    probe_audio,
)
from callstream_transcriber.errors import PermanentProviderError, RetryableProviderError
from callstream_transcriber.transcription import place_segment, vocabulary_prompt

log = logging.getLogger(__name__)

REMOTE_PROVIDER = "openai"
DEFAULT_REMOTE_MODEL = "whisper-1"
DEFAULT_MAX_UPLOAD_BYTES = 25_000_000
"""Below both readings of "25 MB" (25·10⁶ and 25·2²⁰) so multipart overhead never tips it."""
DEFAULT_TIMEOUT_SECONDS = 300.0
"""Per request: a 25-MB upload plus server-side transcription of up to ~25 min of audio."""

UPLOADABLE_SUFFIXES = frozenset(
    {".flac", ".m4a", ".mp3", ".mp4", ".mpeg", ".mpga", ".oga", ".ogg", ".opus", ".wav", ".webm"}
)
"""Formats the OpenAI/Groq API accepts as-is; anything else is transcoded to FLAC first."""

_PCM16_BYTES_PER_SECOND = SAMPLE_RATE * 2
"""Upper bound for 16-kHz mono FLAC: it never exceeds raw 16-bit PCM (verbatim fallback)."""

_MAX_ERROR_TEXT = 300

_LANGUAGE_CODES = {
    "english": "en",
    "spanish": "es",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "polish": "pl",
    "swedish": "sv",
    "danish": "da",
    "norwegian": "no",
    "finnish": "fi",
    "russian": "ru",
    "ukrainian": "uk",
    "turkish": "tr",
    "arabic": "ar",
    "hindi": "hi",
    "japanese": "ja",
    "korean": "ko",
    "chinese": "zh",
}


class _Segment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    start: float
    end: float
    text: str


class _VerboseJson(BaseModel):
    """The part of OpenAI's ``verbose_json`` we use; providers add fields freely."""

    model_config = ConfigDict(extra="ignore")

    text: str = ""
    language: str | None = None
    duration: float | None = None
    segments: list[_Segment] | None = None


def normalise_language(value: str | None) -> str | None:
    """OpenAI answers ``"english"``, the builtin engine ``"en"``: store ISO 639-1 codes."""
    if not value:
        return None
    key = value.strip().lower()
    return _LANGUAGE_CODES.get(key, key)


class OpenAICompatibleTranscriber:
    """Client for one OpenAI-compatible transcription endpoint (sync httpx, pooled).

    Thread-safe: the handler may call ``transcribe`` from several worker threads.
    The API key is held as a ``SecretStr``; it only ever leaves in the ``Authorization``
    header and is scrubbed from any provider error text we keep.
    """

    provider = REMOTE_PROVIDER

    def __init__(
        self,
        *,
        base_url: str,
        api_key: SecretStr | None = None,
        model: str = DEFAULT_REMOTE_MODEL,
        language: str | None = "en",
        chunk_seconds: float = 600.0,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_attempts: int = 3,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 8.0,
        max_retry_after_seconds: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``language=None`` lets the provider detect it; ``"en"`` is more accurate for
        English calls. A ``Retry-After`` longer than ``max_retry_after_seconds`` is not
        slept on inside the call: the error is raised at once with the hint, so a worker
        thread is not parked for minutes and the pipeline's delayed retry takes over.
        """
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if max_upload_bytes < 64 * 1024:
            raise ValueError("max_upload_bytes is unrealistically small")
        self.url = base_url.rstrip("/") + "/audio/transcriptions"
        self.model_name = model
        self.language = language
        self.chunk_seconds = min(
            float(chunk_seconds), 0.9 * max_upload_bytes / _PCM16_BYTES_PER_SECOND
        )
        self.max_upload_bytes = max_upload_bytes
        self.retry = InCallRetry(
            attempts=max_attempts,
            base_delay=backoff_seconds,
            max_delay=max_backoff_seconds,
            max_retry_after=max_retry_after_seconds,
        )
        self._api_key = api_key
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds, connect=min(10.0, timeout_seconds)),
            transport=transport,
        )

    # ------------------------------------------------------------------ public

    def transcribe(self, path: Path, vocabulary: Sequence[str] = ()) -> Transcript:
        """Validate locally, upload whole if it fits, else in re-encoded chunks.

        ``vocabulary`` (names the call is likely to contain) goes to the API as ``prompt``.
        """
        info = probe_audio(path)
        prompt = vocabulary_prompt(vocabulary)
        direct = (
            info.size_bytes <= self.max_upload_bytes and path.suffix.lower() in UPLOADABLE_SUFFIXES
        )
        languages: list[str] = []
        segments: list[TranscriptSegment] = []
        if direct:
            result = self._request(path.name, path, _content_type(path), prompt)
            duration = max(info.duration_seconds, result.duration or 0.0)
            segments = self._place(result, offset=0.0, limit=duration, previous=segments)
            languages.append(result.language or "")
        else:
            duration = 0.0
            for index, chunk in enumerate(
                iter_audio_chunks(
                    path,
                    self.chunk_seconds,
                    search_seconds=default_search_seconds(self.chunk_seconds),
                )
            ):
                payload = encode_flac(chunk.samples)
                result = self._request(f"chunk-{index:04d}.flac", payload, "audio/flac", prompt)
                segments.extend(
                    self._place(result, offset=chunk.start, limit=chunk.end, previous=segments)
                )
                languages.append(result.language or "")
                duration = chunk.end
            log.info("transcribed in chunks", extra={"chunks": len(languages)})
        language = next(
            (code for code in map(normalise_language, languages) if code), self.language
        )
        return Transcript(
            language=language or "und",
            duration_seconds=round(duration, 3),
            segments=segments,
            provider=self.provider,
            model=self.model_name,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAICompatibleTranscriber:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ mapping

    @staticmethod
    def _place(
        result: _VerboseJson, *, offset: float, limit: float, previous: list[TranscriptSegment]
    ) -> list[TranscriptSegment]:
        raw = result.segments
        if raw is None:  # a server that ignores timestamp_granularities: one segment
            raw = [_Segment(start=0.0, end=limit - offset, text=result.text)] if result.text else []
        floor = previous[-1].start if previous else 0.0
        out: list[TranscriptSegment] = []
        for seg in raw:
            text = seg.text.strip()
            if not text:
                continue
            start, end = place_segment(seg.start, seg.end, offset=offset, limit=limit, floor=floor)
            floor = start
            out.append(TranscriptSegment(start=start, end=end, text=text))
        return out

    # ------------------------------------------------------------------ HTTP

    def _request(
        self,
        filename: str,
        payload: Path | bytes,
        content_type: str,
        prompt: str | None = None,
    ) -> _VerboseJson:
        loop = retrying(self.retry, (RetryableProviderError,), self._log_retry)
        return loop(self._post_once, filename, payload, content_type, prompt)

    def _post_once(
        self,
        filename: str,
        payload: Path | bytes,
        content_type: str,
        prompt: str | None = None,
    ) -> _VerboseJson:
        data: dict[str, Any] = {
            "model": self.model_name,
            "response_format": "verbose_json",
            "timestamp_granularities[]": "segment",
            "temperature": "0",
        }
        if self.language:
            data["language"] = self.language
        if prompt:
            data["prompt"] = prompt
        headers = {"Accept": "application/json"}
        if self._api_key is not None and self._api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        try:
            with _upload(payload) as body:
                response = self._client.post(
                    self.url,
                    data=data,
                    files={"file": (filename, body, content_type)},
                    headers=headers,
                )
        except httpx.TimeoutException as exc:
            raise RetryableProviderError(f"provider timed out ({type(exc).__name__})") from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
            raise RetryableProviderError(
                f"provider unreachable ({type(exc).__name__}: {self._scrub(str(exc))})"
            ) from exc
        except httpx.HTTPError as exc:
            raise PermanentProviderError(
                f"request failed ({type(exc).__name__}: {self._scrub(str(exc))})"
            ) from exc
        return self._parse(response)

    def _parse(self, response: httpx.Response) -> _VerboseJson:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return _VerboseJson.model_validate_json(response.content)
            except ValidationError as exc:
                raise PermanentProviderError(
                    f"malformed transcription response ({exc.error_count()} error(s)): "
                    f"{self._scrub(response.text[:_MAX_ERROR_TEXT])}",
                    status_code=status,
                ) from exc
        message = f"HTTP {status}: {self._error_text(response)}"
        if is_retryable_status(status):
            raise RetryableProviderError(
                message, status_code=status, retry_after=retry_after_of(response.headers)
            )
        raise PermanentProviderError(message, status_code=status)

    def _error_text(self, response: httpx.Response) -> str:
        text = response.text
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict) and isinstance(err.get("message"), str):
                text = err["message"]
            elif isinstance(err, str):
                text = err
            elif isinstance(body.get("detail"), str):
                text = body["detail"]
        return self._scrub(" ".join(text.split())[:_MAX_ERROR_TEXT]) or response.reason_phrase

    def _scrub(self, text: str) -> str:
        secret = self._api_key.get_secret_value() if self._api_key is not None else ""
        return text.replace(secret, "***") if len(secret) >= 4 else text

    # ------------------------------------------------------------------ retry policy

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        log.warning(
            "transcription provider failed, retrying",
            extra={
                "attempt": state.attempt_number,
                "max_attempts": self.retry.attempts,
                "sleep_seconds": round(state.next_action.sleep, 2) if state.next_action else None,
                "error": str(exc),
            },
        )


@contextmanager
def _upload(payload: Path | bytes) -> Iterator[IO[bytes]]:
    """A fresh readable body per attempt (a retried upload must start from byte 0)."""
    if isinstance(payload, bytes):
        yield io.BytesIO(payload)
    else:
        with payload.open("rb") as fh:
            yield fh


def _content_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"
