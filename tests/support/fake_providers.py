"""A local fake of the OpenAI-compatible APIs the product calls (Groq/OpenAI speech-to-text,
OpenAI chat completions), answering like them after a configured latency.

Used by the remote-provider benchmark: with real providers a transcription takes seconds and
an analysis a few more, and what matters is whether a stage overlaps that waiting. The fake
answers ``POST {base}/audio/transcriptions`` with a ``verbose_json`` transcript and
``POST {base}/chat/completions`` with a valid MEDDIC scorecard in ``choices[0].message``,
counts what it got, and rejects a missing bearer key with 401 as the real APIs do.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from callstream_common.contracts import (
    DimensionAssessment,
    MeddicAnalysis,
    MeddicDimension,
    NextStep,
    QualificationStatus,
)

SEGMENTS: list[dict[str, Any]] = [
    {"id": 0, "start": 0.0, "end": 0.5, "text": "Thanks for joining the call today."},
    {"id": 1, "start": 0.5, "end": 1.0, "text": "Our budget owner is the CFO."},
]


def scorecard_json() -> str:
    """What the fake LLM answers: a schema-valid analysis, as a JSON string."""
    analysis = MeddicAnalysis(
        dimensions=[
            DimensionAssessment(dimension=d, score=3, rationale="fake provider")
            for d in MeddicDimension
        ],
        overall_score=3.0,
        qualification_status=QualificationStatus.MEDIUM,
        key_findings=["Budget owner identified"],
        next_steps=[NextStep(action="Meet the CFO")],
        provider="fake",
    )
    return analysis.model_dump_json(exclude={"provider", "model", "agent_outputs"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the fake counts requests instead."""

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            self._reply(
                401, {"error": {"message": "Invalid API Key", "type": "invalid_request_error"}}
            )
            return
        if self.path.endswith("/audio/transcriptions"):
            time.sleep(fake.transcription_latency)
            fake.count("transcriptions")
            body: dict[str, Any] = {
                "task": "transcribe",
                "language": "english",
                "duration": 1.0,
                "text": " ".join(s["text"] for s in SEGMENTS),
                "segments": SEGMENTS,
            }
            self._reply(200, body)
        elif self.path.endswith("/chat/completions"):
            time.sleep(fake.chat_latency)
            fake.count("chat")
            self._reply(
                200,
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "model": "fake-llm",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": fake.reply},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 100, "total_tokens": 200},
                },
            )
        else:
            self._reply(404, {"error": {"message": f"unknown path {self.path}"}})

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeProviders) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class FakeProviders:
    """``with FakeProviders(transcription_latency=3, chat_latency=2) as fake: fake.base_url``."""

    def __init__(self, *, transcription_latency: float = 0.0, chat_latency: float = 0.0) -> None:
        self.transcription_latency = transcription_latency
        self.chat_latency = chat_latency
        self.reply = scorecard_json()
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None

    def count(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def __enter__(self) -> FakeProviders:
        self._server = _Server(self)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"
