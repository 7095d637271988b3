"""A fake Slack (and generic webhook receiver) that is a real HTTP server.

Tests talk to it over TCP exactly as production talks to Slack, so the adapters' real HTTP
stack, retry loop and error mapping are exercised — not a mocked transport. It serves:

* ``/api/chat.postMessage`` and ``/api/auth.test`` — bearer token checked, Block Kit checked
  against Slack's limits (:mod:`tests.support.block_kit`, deliberately not the services'
  own validator), answers in Slack's ``{"ok": ...}`` shape;
* ``/api/conversations.history`` (GET as slack-sdk sends it, or POST) — the accepted
  top-level messages of a channel, newest first, with ``metadata`` when
  ``include_all_metadata`` is set, ``oldest``/``limit``/``cursor`` paging as Slack does;
  ``/api/conversations.replies`` — the same for one thread;
* what a Slack app calls: files.info, the file download, users.info, chat.postEphemeral,
  response URLs (:mod:`tests.support.fake_slack_app`);
* ``POST <webhook_path>`` (default ``/services/T000/B000/XXX``) — an incoming webhook,
  answering ``ok`` or a 4xx code such as ``invalid_payload``;
* ``POST /hooks/<name>`` — a generic webhook receiver that records headers and body and,
  when given a secret, checks the ``X-Callstream-Signature`` itself (401 when wrong).

Faults are scripted per test (``fail_next``, ``fail_for``, ``delay_next``) and every request
is recorded thread-safely, so a test can say "exactly one message for conversation X arrived
after one 429". Usage::

    with FakeSlack() as slack:
        client = SlackClient(bot_token=SecretStr(slack.bot_token), channel="#deals",
                             api_base_url=slack.api_url)
        slack.fail_next(1, status=429, retry_after=1)
        ...
        assert len(slack.messages_for(conversation_id)) == 1
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.block_kit import block_kit_problems, slack_len
from tests.support.fake_slack_app import SlackAppFake
from tests.support.fake_slack_wire import (
    Fault,
    Kind,
    RecordedRequest,
    Reply,
    fault_reply,
    parse_body,
    sign_v1,
)

__all__ = ["FakeSlack", "RecordedRequest", "block_kit_problems", "fake_slack"]

DEFAULT_BOT_TOKEN = "xoxb-fake-test-token"
DEFAULT_WEBHOOK_PATH = "/services/T000/B000/XXX"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeSlack, address: tuple[str, int]) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections close eventually
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._track(self.connection, add=False)

    def do_POST(self) -> None:
        self.server.fake._serve(self)

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr line; the fake records requests instead."""

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
        except OSError:
            # The client gave up (e.g. its timeout fired during a scripted delay).
            self.close_connection = True


class FakeSlack(SlackAppFake):
    """Local fake of Slack's Web API, incoming webhooks and a generic webhook receiver.

    ``channels`` limits which channels exist (others answer ``channel_not_found``); ``None``
    accepts any. ``receiver_secret`` makes ``/hooks/*`` verify signatures.
    """

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        webhook_path: str = DEFAULT_WEBHOOK_PATH,
        channels: Iterable[str] | None = None,
        receiver_secret: str | None = None,
        signature_tolerance: float = 300,
        host: str = "127.0.0.1",
        latency: float = 0.0,
    ) -> None:
        self.bot_token = bot_token
        self.webhook_path = webhook_path
        self.channels = frozenset(channels) if channels is not None else None
        self.receiver_secret = receiver_secret
        self.signature_tolerance = signature_tolerance
        self._host = host
        self.latency = latency
        """Seconds every answer takes (the real API answers in 100-500 ms)."""
        self._cond = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._connections: set[socket.socket] = set()
        self._holding = 0
        self._ts = itertools.count(1)
        self._init_app()
        self._port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        # A restarted fake keeps its port, so clients configured with its URLs see Slack
        # "come back" after an outage simulated with stop().
        self._server = _Server(self, (self._host, self._port))
        self._port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-slack-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop open keep-alive connections, so a stopped fake really
        looks like an unreachable Slack to a client with pooled connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._cond:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The listening port; still known after ``stop()`` (URLs then point at nothing)."""
        if not self._port:
            raise RuntimeError("FakeSlack was never started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Pass as the Slack client's API base URL (``.../api``)."""
        return f"{self.base_url}/api"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}{self.webhook_path}"

    def receiver_url(self, name: str = "default") -> str:
        return f"{self.base_url}/hooks/{name}"

    # ------------------------------------------------------------------ fault scripting

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        retry_after: float | None = None,
        error: str | None = None,
        delay: float = 0.0,
        path: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests (under ``path`` prefix, or any) with a failure.

        ``status=429`` answers like Slack's rate limiter (``Retry-After`` when given, Web API
        body ``{"ok": false, "error": "ratelimited"}``); ``status=200, error="..."`` answers
        the Web API's ``{"ok": false, "error": ...}``; other statuses answer an error body.
        """
        self._add_fault(status, retry_after, error, delay, path, remaining=n, until=None)

    def fail_for(
        self,
        seconds: float,
        *,
        status: int = 503,
        retry_after: float | None = None,
        error: str | None = None,
        delay: float = 0.0,
        path: str | None = None,
    ) -> None:
        """Fail every matching request for the next ``seconds`` (an outage window)."""
        until = time.monotonic() + seconds
        self._add_fault(status, retry_after, error, delay, path, remaining=None, until=until)

    def delay_next(self, n: int, seconds: float, *, path: str | None = None) -> None:
        """Answer the next ``n`` matching requests normally, but only after ``seconds``."""
        self._add_fault(None, None, None, seconds, path, remaining=n, until=None)

    def wait_holding(self, timeout: float = 10.0) -> bool:
        """Block until a request is being held back by a ``delay`` (received, not answered
        yet: the moment to crash the client); False if none arrives within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._holding == 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    def reset(self) -> None:
        """Forget faults and recorded requests (between tests sharing one server)."""
        with self._cond:
            self._faults.clear()
            self._requests.clear()

    def _add_fault(
        self,
        status: int | None,
        retry_after: float | None,
        error: str | None,
        delay: float,
        path: str | None,
        *,
        remaining: int | None,
        until: float | None,
    ) -> None:
        with self._cond:
            self._faults.append(Fault(status, retry_after, error, delay, path, remaining, until))

    def _take_fault(self, path: str) -> Fault | None:
        now = time.monotonic()
        with self._cond:
            self._faults = [f for f in self._faults if f.live(now)]
            for fault in self._faults:
                if fault.matches(path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None

    # ------------------------------------------------------------------ recordings

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, faulted ones included, in arrival order."""
        with self._cond:
            return list(self._requests)

    @property
    def messages(self) -> list[RecordedRequest]:
        """Slack messages that were accepted (``chat.postMessage`` and incoming webhook)."""
        return [
            r
            for r in self.requests
            if r.accepted and (r.kind == "slack_webhook" or r.path == "/api/chat.postMessage")
        ]

    def messages_for(self, needle: object) -> list[RecordedRequest]:
        """Accepted Slack messages whose JSON mentions ``needle`` (e.g. a conversation id,
        which the notifier puts in block ids)."""
        text = str(needle)
        return [m for m in self.messages if text in m.text]

    def deliveries(self, name: str | None = None) -> list[RecordedRequest]:
        """Accepted generic webhook deliveries (to ``/hooks/<name>``, or any receiver)."""
        return [
            r
            for r in self.requests
            if r.kind == "receiver" and r.accepted and (name is None or r.receiver == name)
        ]

    def wait_until(
        self, predicate: Callable[[list[RecordedRequest]], bool], timeout: float = 10.0
    ) -> list[RecordedRequest]:
        """Block until ``predicate(requests)`` holds (for services posting asynchronously);
        raise ``TimeoutError`` with what did arrive otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self._requests)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [f"{r.method} {r.path} -> {r.status}" for r in self._requests]
                    raise TimeoutError(f"fake Slack condition not met in {timeout}s; saw {seen}")
                self._cond.wait(remaining)
            return list(self._requests)

    def wait_for_messages(
        self, count: int = 1, *, needle: object | None = None, timeout: float = 10.0
    ) -> list[RecordedRequest]:
        """Wait until at least ``count`` accepted Slack messages (mentioning ``needle``)."""
        self.wait_until(
            lambda _: len(self.messages if needle is None else self.messages_for(needle)) >= count,
            timeout,
        )
        return self.messages if needle is None else self.messages_for(needle)

    # ------------------------------------------------------------------ serving

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._cond:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _serve(self, handler: _Handler) -> None:
        received_at = time.time()
        split = urlsplit(handler.path)
        path = split.path
        body = handler.read_body()
        headers = {k.lower(): v for k, v in handler.headers.items()}
        kind = self._kind(path)
        parsed = parse_body(headers, body)
        if handler.command == "GET" and kind == "api":
            parsed = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}

        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(path)
        if fault is not None and fault.delay:
            with self._cond:
                self._holding += 1
                self._cond.notify_all()
            try:
                time.sleep(fault.delay)
            finally:
                with self._cond:
                    self._holding -= 1
        signature_valid: bool | None = None
        if handler.command != "POST" and kind not in ("api", "file"):
            reply, accepted = Reply.text(405, "method_not_allowed"), False
        elif fault is not None and fault.status is not None:
            reply, accepted = fault_reply(kind, fault), False
        elif kind == "api":
            reply, accepted = self._api(path, headers, parsed)
        elif kind == "slack_webhook":
            reply, accepted = self._slack_webhook(path, parsed)
        elif kind == "file":
            status, content, content_type = self._download(path, headers)
            reply, accepted = Reply(status, content, content_type), status == 200
        elif kind == "response":
            status, answer = self._response_reply(parsed)
            reply, accepted = Reply.json(status, answer), status == 200
        elif kind == "receiver":
            signature_valid = self._check_signature(headers, body)
            if signature_valid is False:
                reply, accepted = Reply.text(401, "invalid signature"), False
            else:
                reply, accepted = Reply.json(200, {"received": True}), True
        else:
            reply, accepted = Reply.text(404, "not_found"), False

        record = RecordedRequest(
            method=handler.command,
            path=path,
            query=split.query,
            kind=kind,
            headers=headers,
            body=body,
            json=parsed,
            status=reply.status,
            response=reply.body,
            faulted=fault is not None and fault.status is not None,
            accepted=accepted,
            received_at=received_at,
            signature_valid=signature_valid,
        )
        with self._cond:
            self._requests.append(record)
            self._cond.notify_all()
        handler.reply(reply)

    def _kind(self, path: str) -> Kind:
        if path.startswith("/api/"):
            return "api"
        if path.startswith("/services/"):
            return "slack_webhook"
        if path.startswith("/hooks/") and len(path) > len("/hooks/"):
            return "receiver"
        if path.startswith("/files-pri/"):
            return "file"
        if path.startswith("/actions/"):
            return "response"
        return "other"

    def _api(self, path: str, headers: Mapping[str, str], data: Any) -> tuple[Reply, bool]:
        method = path.removeprefix("/api/")
        if method not in (
            "chat.postMessage",
            "auth.test",
            "conversations.history",
            "conversations.replies",
            "files.info",
            "users.info",
            "chat.postEphemeral",
        ):
            return Reply.json(200, {"ok": False, "error": "unknown_method"}), False
        auth = headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if not token and isinstance(data, dict) and isinstance(data.get("token"), str):
            token = data["token"]
        if not token:
            return Reply.json(200, {"ok": False, "error": "not_authed"}), False
        if not hmac.compare_digest(token, self.bot_token):
            return Reply.json(200, {"ok": False, "error": "invalid_auth"}), False
        if method == "auth.test":
            return Reply.json(
                200,
                {
                    "ok": True,
                    "url": f"{self.base_url}/",
                    "team": "callstream-test",
                    "user": "callstream",
                    "team_id": "T000",
                    "user_id": "U000",
                    "bot_id": "B000",
                },
            ), True
        if not isinstance(data, dict):
            return Reply.json(200, {"ok": False, "error": "invalid_json"}), False
        if method in ("conversations.history", "conversations.replies"):
            return Reply.json(200, self._history(data, thread_ts=data.get("ts"))), True
        answer = self._app_api(method, data)
        if answer is not None:
            return Reply.json(*answer), answer[1]["ok"]
        channel = data.get("channel")
        if not isinstance(channel, str) or not channel:
            return Reply.json(200, {"ok": False, "error": "channel_not_found"}), False
        if self.channels is not None and channel not in self.channels:
            return Reply.json(200, {"ok": False, "error": "channel_not_found"}), False
        problem = self._message_problem(data)
        if problem is not None:
            return Reply.json(200, {"ok": False, **problem}), False
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        message = {
            "type": "message",
            "bot_id": "B000",
            "ts": ts,
            "text": data.get("text", ""),
            "blocks": data.get("blocks", []),
        }
        if data.get("thread_ts"):
            message["thread_ts"] = data["thread_ts"]
        return Reply.json(200, {"ok": True, "channel": channel, "ts": ts, "message": message}), True

    def _slack_webhook(self, path: str, data: Any) -> tuple[Reply, bool]:
        if path != self.webhook_path:
            return Reply.text(404, "no_service"), False
        if not isinstance(data, dict):
            return Reply.text(400, "invalid_payload"), False
        problem = self._message_problem(data)
        if problem is not None:
            return Reply.text(400, str(problem["error"])), False
        return Reply.text(200, "ok"), True

    @staticmethod
    def _message_problem(data: Mapping[str, Any]) -> dict[str, Any] | None:
        blocks = data.get("blocks")
        text = data.get("text")
        if blocks is None and not text:
            return {"error": "no_text"}
        if blocks is not None:
            problems = block_kit_problems(blocks)
            if problems:
                return {"error": "invalid_blocks", "errors": problems}
        if text is not None and (not isinstance(text, str) or slack_len(text) > 40_000):
            return {"error": "msg_too_long"}
        metadata = data.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            return {"error": "invalid_metadata_format"}
        return None

    def _check_signature(self, headers: Mapping[str, str], body: bytes) -> bool | None:
        if self.receiver_secret is None:
            return None
        timestamp = headers.get("x-callstream-timestamp", "")
        signature = headers.get("x-callstream-signature", "")
        if not timestamp.isdigit():
            return False
        if abs(time.time() - int(timestamp)) > self.signature_tolerance:
            return False
        expected = sign_v1(self.receiver_secret, timestamp, body)
        return hmac.compare_digest(signature, expected)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A running ``FakeSlack`` for one test (import into a conftest to use)."""
    with FakeSlack() as server:
        yield server
