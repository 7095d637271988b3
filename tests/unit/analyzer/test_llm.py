"""The remote analyzers against a real HTTP server on 127.0.0.1 that answers like the OpenAI
and Gemini APIs and records what it was sent."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from callstream_analyzer.errors import PermanentProviderError, RetryableProviderError
from callstream_analyzer.factory import build_analyzer
from callstream_analyzer.llm import GeminiAnalyzer, OpenAIChatAnalyzer, response_schema
from callstream_analyzer.meddic import BuiltinMeddicAnalyzer
from callstream_common.contracts import MeddicDimension, QualificationStatus
from callstream_common.retry import is_permanent

from . import dialogues as dl
from .conftest import HashingEmbedder

KEY = "sk-test-SECRET-0123456789"
TRANSCRIPT = dl.make_transcript(dl.MIXED)


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeProvider:
    """Scripted replies, one per request, in order; every request is recorded."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                provider.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(raw)}
                )
                reply = (
                    provider.replies.popleft()
                    if provider.replies
                    else Reply(500, {"error": {"message": "no scripted reply"}})
                )
                time.sleep(reply.delay)
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = body.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and went away

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[FakeProvider]:
    s = FakeProvider()
    yield s
    s.close()


def analysis_json(**overrides: Any) -> str:
    dims = [
        {
            "dimension": d.value,
            "score": 4 if d is not MeddicDimension.CHAMPION else 2,
            "evidence": [{"quote": "Tom Becker approves anything like this", "start": 15.8}],
            "gaps": [],
            "recommendations": ["Meet Tom"],
            "rationale": "Clear.",
        }
        for d in MeddicDimension
    ]
    data: dict[str, Any] = {
        "dimensions": dims,
        "overall_score": 4.5,
        "qualification_status": "Strong",
        "key_findings": ["EB known"],
        "next_steps": [{"action": "Book Tom", "priority": "high"}],
        "risks": [{"description": "No champion", "severity": "medium"}],
        "provider": "whatever-the-model-says",
    }
    data.update(overrides)
    return json.dumps(data)


def openai_ok(content: str) -> Reply:
    return Reply(
        200,
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "gpt-test",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 900, "completion_tokens": 300, "total_tokens": 1200},
        },
    )


def gemini_ok(content: str) -> Reply:
    return Reply(
        200,
        {
            "candidates": [
                {
                    "content": {"parts": [{"text": content}], "role": "model"},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {"promptTokenCount": 900, "candidatesTokenCount": 300},
            "modelVersion": "gemini-test",
        },
    )


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def openai(server: FakeProvider, sleeps: Sleeps | None = None, **kw: Any) -> OpenAIChatAnalyzer:
    return OpenAIChatAnalyzer(
        base_url=f"{server.url}/v1",
        api_key=KEY,
        model="gpt-test",
        backoff_base=0.0,
        sleep=sleeps if sleeps is not None else Sleeps(),
        **kw,
    )


def gemini(server: FakeProvider, sleeps: Sleeps | None = None, **kw: Any) -> GeminiAnalyzer:
    return GeminiAnalyzer(
        base_url=server.url,
        api_key=KEY,
        model="gemini-test",
        backoff_base=0.0,
        sleep=sleeps if sleeps is not None else Sleeps(),
        **kw,
    )


# --------------------------------------------------------------------------- OpenAI


def test_openai_valid_json(server: FakeProvider) -> None:
    server.replies.append(openai_ok(analysis_json()))
    a = openai(server).analyze(TRANSCRIPT)
    assert a.provider == "openai" and a.model == "gpt-test"
    # overall and status are recomputed with the built-in weights and policy
    assert a.overall_score == pytest.approx((4 * 5.25 + 2) / 6.25, abs=0.01)
    assert a.qualification_status is QualificationStatus.MEDIUM
    assert a.agent_outputs["llm_overall_score"] == 4.5
    assert a.agent_outputs["repaired"] is False
    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == f"Bearer {KEY}"
    body = req["json"]
    assert body["model"] == "gpt-test"
    assert body["response_format"] == {"type": "json_object"}
    system, user = body["messages"]
    assert system["role"] == "system" and '"dimensions"' in system["content"]
    assert "[15.8-" in user["content"] and "Dana (Acme): " in user["content"]


def test_openai_json_schema_mode(server: FakeProvider) -> None:
    server.replies.append(openai_ok(analysis_json()))
    openai(server, response_format="json_schema").analyze(TRANSCRIPT)
    fmt = server.requests[0]["json"]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"] == response_schema()
    assert "provider" not in fmt["json_schema"]["schema"]["properties"]


def test_openai_invalid_json_is_repaired_once(server: FakeProvider) -> None:
    server.replies.append(openai_ok("Here is your analysis: {not json"))
    server.replies.append(openai_ok("```json\n" + analysis_json() + "\n```"))
    a = openai(server).analyze(TRANSCRIPT)
    assert a.agent_outputs["repaired"] is True
    assert len(server.requests) == 2
    messages = server.requests[1]["json"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "Here is your analysis: {not json"
    assert "not JSON" in messages[3]["content"]


def test_openai_schema_errors_are_sent_back(server: FakeProvider) -> None:
    server.replies.append(openai_ok(analysis_json(dimensions=[])))
    server.replies.append(openai_ok(analysis_json()))
    openai(server).analyze(TRANSCRIPT)
    repair = server.requests[1]["json"]["messages"][-1]["content"]
    assert "dimensions" in repair and "exactly one assessment per MEDDIC dimension" in repair


def test_openai_invalid_twice_is_retryable(server: FakeProvider) -> None:
    server.replies.append(openai_ok("nope"))
    server.replies.append(openai_ok(analysis_json(overall_score=9)))
    with pytest.raises(RetryableProviderError, match="after one repair attempt") as exc:
        openai(server).analyze(TRANSCRIPT)
    assert len(server.requests) == 2
    assert not is_permanent(exc.value)


def test_openai_429_honours_retry_after(server: FakeProvider) -> None:
    server.replies.append(
        Reply(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "7"})
    )
    server.replies.append(openai_ok(analysis_json()))
    sleeps = Sleeps()
    a = openai(server, sleeps).analyze(TRANSCRIPT)
    assert a.provider == "openai"
    assert sleeps == [7.0]
    assert len(server.requests) == 2


def test_retry_after_is_capped(server: FakeProvider) -> None:
    server.replies.append(Reply(429, {}, {"Retry-After": "3600"}))
    server.replies.append(openai_ok(analysis_json()))
    sleeps = Sleeps()
    openai(server, sleeps, max_retry_after=5.0).analyze(TRANSCRIPT)
    assert sleeps == [5.0]


def test_openai_500_then_success(server: FakeProvider) -> None:
    server.replies.append(Reply(500, {"error": {"message": "The server had an error"}}))
    server.replies.append(Reply(503, "upstream unavailable"))
    server.replies.append(openai_ok(analysis_json()))
    sleeps = Sleeps()
    openai(server, sleeps).analyze(TRANSCRIPT)
    assert len(server.requests) == 3 and len(sleeps) == 2


def test_persistent_5xx_becomes_retryable(server: FakeProvider) -> None:
    for _ in range(3):
        server.replies.append(Reply(502, "bad gateway"))
    with pytest.raises(RetryableProviderError, match="HTTP 502 after 3 attempt") as exc:
        openai(server, max_attempts=3).analyze(TRANSCRIPT)
    assert exc.value.status_code == 502
    assert len(server.requests) == 3


def test_openai_401_is_permanent_and_key_never_leaks(
    server: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.replies.append(
        Reply(
            401,
            {
                "error": {
                    "message": f"Incorrect API key provided: {KEY}.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
        )
    )
    analyzer = openai(server)
    with pytest.raises(PermanentProviderError) as exc:
        analyzer.analyze(TRANSCRIPT)
    assert exc.value.status_code == 401 and is_permanent(exc.value)
    assert len(server.requests) == 1
    assert "Incorrect API key provided: ***" in str(exc.value)
    for text in (str(exc.value), repr(exc.value), repr(analyzer), caplog.text):
        assert KEY not in text


def test_timeouts_are_retried_then_retryable(server: FakeProvider) -> None:
    server.replies.append(Reply(200, {}, delay=0.6))
    server.replies.append(Reply(200, {}, delay=0.6))
    with pytest.raises(RetryableProviderError, match="timeout"):
        openai(server, timeout=0.15, max_attempts=2).analyze(TRANSCRIPT)
    assert len(server.requests) == 2


def test_connection_refused_is_retryable() -> None:
    a = OpenAIChatAnalyzer(
        base_url="http://127.0.0.1:9", api_key=KEY, model="m", max_attempts=2, sleep=Sleeps()
    )
    with pytest.raises(RetryableProviderError, match="connection error"):
        a.analyze(TRANSCRIPT)


# --------------------------------------------------------------------------- Gemini


def test_gemini_valid_json(server: FakeProvider) -> None:
    server.replies.append(gemini_ok(analysis_json()))
    a = gemini(server).analyze(TRANSCRIPT)
    assert a.provider == "gemini" and a.model == "gemini-test"
    (req,) = server.requests
    assert req["path"] == "/v1beta/models/gemini-test:generateContent"
    assert "key=" not in req["path"]
    assert req["headers"]["x-goog-api-key"] == KEY
    body = req["json"]
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert '"dimensions"' in body["systemInstruction"]["parts"][0]["text"]
    assert [c["role"] for c in body["contents"]] == ["user"]


def test_gemini_repair_uses_model_turn(server: FakeProvider) -> None:
    server.replies.append(gemini_ok('{"dimensions": "six"}'))
    server.replies.append(gemini_ok(analysis_json()))
    a = gemini(server).analyze(TRANSCRIPT)
    assert a.agent_outputs["repaired"] is True
    contents = server.requests[1]["json"]["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]


def test_gemini_invalid_twice_is_retryable(server: FakeProvider) -> None:
    server.replies.append(gemini_ok("{"))
    server.replies.append(gemini_ok("{"))
    with pytest.raises(RetryableProviderError):
        gemini(server).analyze(TRANSCRIPT)


def test_gemini_429_retry_delay_from_body(server: FakeProvider) -> None:
    server.replies.append(
        Reply(
            429,
            {
                "error": {
                    "code": 429,
                    "message": "Resource has been exhausted (e.g. check quota).",
                    "status": "RESOURCE_EXHAUSTED",
                    "details": [
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}
                    ],
                }
            },
        )
    )
    server.replies.append(gemini_ok(analysis_json()))
    sleeps = Sleeps()
    gemini(server, sleeps).analyze(TRANSCRIPT)
    assert sleeps == [3.0]


def test_gemini_500_then_success(server: FakeProvider) -> None:
    server.replies.append(Reply(500, {"error": {"code": 500, "status": "INTERNAL"}}))
    server.replies.append(gemini_ok(analysis_json()))
    assert gemini(server).analyze(TRANSCRIPT).provider == "gemini"


@pytest.mark.parametrize("status", [400, 401, 403])
def test_gemini_client_errors_are_permanent(server: FakeProvider, status: int) -> None:
    server.replies.append(
        Reply(status, {"error": {"code": status, "message": "API key not valid."}})
    )
    with pytest.raises(PermanentProviderError, match=f"HTTP {status}"):
        gemini(server).analyze(TRANSCRIPT)
    assert len(server.requests) == 1


def test_gemini_blocked_prompt_is_permanent(server: FakeProvider) -> None:
    server.replies.append(Reply(200, {"promptFeedback": {"blockReason": "SAFETY"}}))
    with pytest.raises(PermanentProviderError, match="blocked"):
        gemini(server).analyze(TRANSCRIPT)


# --------------------------------------------------------------------------- factory


def test_factory() -> None:
    assert isinstance(build_analyzer("builtin", embedder=HashingEmbedder()), BuiltinMeddicAnalyzer)
    o = build_analyzer("openai", api_key=KEY)
    assert isinstance(o, OpenAIChatAnalyzer) and o.base_url == "https://api.openai.com/v1"
    g = build_analyzer("Gemini", api_key=KEY, model="gemini-x")
    assert isinstance(g, GeminiAnalyzer) and g.model == "gemini-x"
    assert KEY not in repr(o) + repr(g)
    with pytest.raises(ValueError, match="unknown analysis provider"):
        build_analyzer("claude")
