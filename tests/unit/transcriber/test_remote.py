"""The OpenAI-compatible provider against a real local HTTP server that mimics the API."""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest
from pydantic import SecretStr

from callstream_common.retry import is_permanent
from callstream_transcriber.audio import UndecodableAudio, probe_audio
from callstream_transcriber.errors import PermanentProviderError, RetryableProviderError
from callstream_transcriber.remote import (
    OpenAICompatibleTranscriber,
    normalise_language,
)
from tests.support.audio import make_garbage

API_KEY = "sk-test-0123456789"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    fields: dict[str, str]
    filename: str
    content_type: str
    content: bytes


@dataclass
class Scripted:
    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeOpenAI:
    """Answers like ``POST /v1/audio/transcriptions`` with ``verbose_json``.

    Scripted replies are served first, in order; after that every request succeeds with one
    segment per uploaded file spanning its decoded duration, text ``part <n>``.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: list[Scripted] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorded = fake.record(self.path, dict(self.headers.items()), body)
                with fake._lock:
                    reply = fake.script.pop(0) if fake.script else None
                if reply is None:
                    reply = Scripted(200, fake.success(recorded))
                if reply.delay:
                    time.sleep(reply.delay)
                payload = (
                    reply.body.encode()
                    if isinstance(reply.body, str)
                    else json.dumps(reply.body).encode()
                )
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def record(self, path: str, headers: dict[str, str], body: bytes) -> Recorded:
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body
        )
        fields: dict[str, str] = {}
        filename, content_type, content = "", "", b""
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            if part.get_filename():
                filename, content_type, content = (
                    str(part.get_filename()),
                    part.get_content_type(),
                    data,
                )
            else:
                fields[str(name)] = data.decode()
        rec = Recorded(path, headers, fields, filename, content_type, content)
        with self._lock:
            self.requests.append(rec)
        return rec

    def success(self, rec: Recorded) -> dict[str, object]:
        with av.open(io.BytesIO(rec.content), mode="r") as container:
            duration = 0.0
            for frame in container.decode(audio=0):
                duration += frame.samples / frame.sample_rate
        n = len(self.requests)
        return {
            "task": "transcribe",
            "language": "english",
            "duration": round(duration, 2),
            "text": f" part {n}",
            "segments": [
                {
                    "id": 0,
                    "seek": 0,
                    "start": 0.0,
                    "end": round(duration, 2),
                    "text": f" part {n}",
                    "tokens": [1, 2, 3],
                    "temperature": 0.0,
                    "avg_logprob": -0.2,
                    "compression_ratio": 1.1,
                    "no_speech_prob": 0.01,
                }
            ],
            "x_groq": {"id": "req_123"},
        }


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def client(fake: FakeOpenAI, **kwargs: object) -> OpenAICompatibleTranscriber:
    options: dict[str, object] = {
        "base_url": fake.base_url,
        "api_key": SecretStr(API_KEY),
        "model": "whisper-large-v3-turbo",
        "backoff_seconds": 0.01,
        "max_backoff_seconds": 0.05,
    }
    options.update(kwargs)
    return OpenAICompatibleTranscriber(**options)  # type: ignore[arg-type]


def test_uploads_file_and_maps_verbose_json(fake: FakeOpenAI, short_mp3: Path) -> None:
    fake.script.append(
        Scripted(
            200,
            {
                "task": "transcribe",
                "language": "english",
                "duration": 7.2,
                "text": "Hello there. The budget is fifty thousand.",
                "segments": [
                    {"id": 0, "start": 0.0, "end": 3.1, "text": " Hello there."},
                    {"id": 1, "start": 3.4, "end": 7.1, "text": " The budget is fifty thousand."},
                ],
            },
        )
    )
    with client(fake) as transcriber:
        transcript = transcriber.transcribe(short_mp3)
    (req,) = fake.requests
    assert req.path == "/v1/audio/transcriptions"
    assert req.headers["Authorization"] == f"Bearer {API_KEY}"
    assert req.fields == {
        "model": "whisper-large-v3-turbo",
        "response_format": "verbose_json",
        "timestamp_granularities[]": "segment",
        "temperature": "0",
        "language": "en",
    }
    assert req.filename == "short.mp3"
    assert req.content_type == "audio/mpeg"
    assert req.content == short_mp3.read_bytes()
    assert transcript.provider == "openai"
    assert transcript.model == "whisper-large-v3-turbo"
    assert transcript.language == "en"
    assert [(s.start, s.end, s.text) for s in transcript.segments] == [
        (0.0, 3.1, "Hello there."),
        (3.4, 7.1, "The budget is fifty thousand."),
    ]
    assert transcript.duration_seconds == pytest.approx(7.2, abs=0.1)


def test_429_honours_retry_after_then_succeeds(fake: FakeOpenAI, short_mp3: Path) -> None:
    fake.script.append(
        Scripted(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "1"})
    )
    started = time.monotonic()
    transcript = client(fake).transcribe(short_mp3)
    assert time.monotonic() - started >= 0.95
    assert len(fake.requests) == 2
    assert transcript.segments[0].text == "part 2"


def test_500_then_success(fake: FakeOpenAI, short_mp3: Path) -> None:
    fake.script.append(Scripted(500, {"error": {"message": "internal error"}}))
    transcript = client(fake).transcribe(short_mp3)
    assert len(fake.requests) == 2
    assert transcript.text == "part 2"
    # Each attempt uploads the whole file again, from its first byte.
    assert fake.requests[0].content == fake.requests[1].content == short_mp3.read_bytes()


def test_401_is_permanent_and_never_leaks_the_key(fake: FakeOpenAI, short_mp3: Path) -> None:
    fake.script.append(
        Scripted(
            401,
            {"error": {"message": f"Invalid API Key {API_KEY}", "type": "invalid_request_error"}},
        )
    )
    with pytest.raises(PermanentProviderError) as err:
        client(fake).transcribe(short_mp3)
    assert len(fake.requests) == 1
    assert err.value.status_code == 401
    assert is_permanent(err.value)
    assert "Invalid API Key" in str(err.value)
    assert API_KEY not in str(err.value)
    assert API_KEY not in repr(client(fake).__dict__)


def test_400_invalid_file_is_permanent(fake: FakeOpenAI, short_mp3: Path) -> None:
    fake.script.append(Scripted(400, {"error": {"message": "could not process file"}}))
    with pytest.raises(PermanentProviderError, match="HTTP 400: could not process file"):
        client(fake).transcribe(short_mp3)
    assert len(fake.requests) == 1


def test_repeated_503_becomes_retryable(fake: FakeOpenAI, short_mp3: Path) -> None:
    fake.script.extend(Scripted(503, "Service Unavailable") for _ in range(5))
    with pytest.raises(RetryableProviderError) as err:
        client(fake, max_attempts=3).transcribe(short_mp3)
    assert len(fake.requests) == 3
    assert err.value.status_code == 503
    # The shared retry mechanics recognise it as transient without a mapping.
    assert not is_permanent(err.value)


def test_long_retry_after_is_handed_to_the_pipeline(fake: FakeOpenAI, short_mp3: Path) -> None:
    fake.script.append(Scripted(429, {"error": "slow down"}, {"Retry-After": "600"}))
    started = time.monotonic()
    with pytest.raises(RetryableProviderError) as err:
        client(fake, max_retry_after_seconds=5).transcribe(short_mp3)
    assert time.monotonic() - started < 2
    assert len(fake.requests) == 1
    assert err.value.retry_after == 600


def test_timeouts_are_retried_then_retryable(fake: FakeOpenAI, short_mp3: Path) -> None:
    fake.script.extend(Scripted(200, {}, delay=1.0) for _ in range(2))
    with pytest.raises(RetryableProviderError, match="timed out"):
        client(fake, timeout_seconds=0.3, max_attempts=2).transcribe(short_mp3)
    assert len(fake.requests) == 2


def test_connection_refused_is_retryable(short_mp3: Path) -> None:
    transcriber = OpenAICompatibleTranscriber(
        base_url="http://127.0.0.1:9/v1", api_key=None, backoff_seconds=0.01, max_attempts=2
    )
    with pytest.raises(RetryableProviderError, match="unreachable"):
        transcriber.transcribe(short_mp3)


def test_malformed_success_is_permanent(fake: FakeOpenAI, short_mp3: Path) -> None:
    fake.script.append(Scripted(200, "<html>gateway</html>"))
    with pytest.raises(PermanentProviderError, match="malformed"):
        client(fake).transcribe(short_mp3)


def test_undecodable_file_is_rejected_locally(fake: FakeOpenAI, tmp_path: Path) -> None:
    with pytest.raises(UndecodableAudio):
        client(fake).transcribe(make_garbage(tmp_path / "x.mp3"))
    assert fake.requests == []


def test_large_file_is_split_into_flac_chunks_with_offsets(
    fake: FakeOpenAI, minute_wav: Path
) -> None:
    limit = 400_000  # ~12.5 s per chunk at the 16-bit PCM upper bound
    assert minute_wav.stat().st_size > limit
    transcript = client(fake, max_upload_bytes=limit).transcribe(minute_wav)
    duration = probe_audio(minute_wav).duration_seconds

    assert len(fake.requests) >= 5
    for i, req in enumerate(fake.requests):
        assert req.filename == f"chunk-{i:04d}.flac"
        assert req.content_type == "audio/flac"
        assert req.content[:4] == b"fLaC"
        assert len(req.content) <= limit
    starts = [s.start for s in transcript.segments]
    assert starts[0] == 0.0 and starts == sorted(starts)
    # Chunks tile the call: each segment starts where the previous one ended.
    for prev, nxt in zip(transcript.segments, transcript.segments[1:], strict=False):
        assert nxt.start == pytest.approx(prev.end, abs=0.02)
    assert transcript.segments[-1].end == pytest.approx(duration, abs=0.05)
    assert transcript.duration_seconds == pytest.approx(duration, abs=0.01)
    assert [s.text for s in transcript.segments] == [
        f"part {i + 1}" for i in range(len(fake.requests))
    ]


def test_unsupported_container_is_transcoded(
    fake: FakeOpenAI, short_wav: Path, tmp_path: Path
) -> None:
    odd = tmp_path / "call.bin"
    odd.write_bytes(short_wav.read_bytes())
    client(fake).transcribe(odd)
    (req,) = fake.requests
    assert req.filename == "chunk-0000.flac" and req.content[:4] == b"fLaC"


def test_no_key_means_no_authorization_header(fake: FakeOpenAI, short_mp3: Path) -> None:
    client(fake, api_key=None, language=None).transcribe(short_mp3)
    (req,) = fake.requests
    assert "Authorization" not in req.headers
    assert "language" not in req.fields


def test_language_names_become_codes() -> None:
    assert normalise_language("English") == "en"
    assert normalise_language("en") == "en"
    assert normalise_language("") is None


def test_server_without_segments_gives_one_segment(fake: FakeOpenAI, short_mp3: Path) -> None:
    """Some local servers ignore ``timestamp_granularities`` and send only the text."""
    fake.script.append(Scripted(200, {"text": " Hello there. "}))
    transcript = client(fake).transcribe(short_mp3)
    (segment,) = transcript.segments
    assert segment.text == "Hello there."
    assert segment.start == 0.0
    assert segment.end == pytest.approx(transcript.duration_seconds)
    assert transcript.language == "en"  # the configured language, as none was reported
