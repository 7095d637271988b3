"""The wire side of the fake Slack: what it records per request and how it answers
(plain data, no server state), shared by :mod:`tests.support.fake_slack`."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qs

Kind = Literal["api", "slack_webhook", "receiver", "file", "response", "other"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received, with what the fake answered."""

    method: str
    path: str
    query: str
    kind: Kind
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes
    json: Any
    status: int
    response: bytes
    faulted: bool
    accepted: bool
    received_at: float
    signature_valid: bool | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def receiver(self) -> str | None:
        """The ``<name>`` of ``/hooks/<name>`` for generic webhook deliveries."""
        return self.path.removeprefix("/hooks/") if self.kind == "receiver" else None


@dataclass
class Fault:
    status: int | None  # None: answer normally, only after ``delay``
    retry_after: float | None
    error: str | None
    delay: float
    path: str | None
    remaining: int | None
    until: float | None

    def live(self, now: float) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.until is None or now < self.until

    def matches(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path)


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: object, **headers: str) -> Reply:
        body = json.dumps(data).encode()
        return cls(status, body, "application/json; charset=utf-8", dict(headers))

    @classmethod
    def text(cls, status: int, text: str, **headers: str) -> Reply:
        return cls(status, text.encode(), "text/html; charset=utf-8", dict(headers))


def sign_v1(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def parse_body(headers: Mapping[str, str], body: bytes) -> Any:
    """JSON bodies as JSON; form bodies (Slack accepts both) as a dict, with a ``blocks``
    string decoded like Slack does. Unparseable bodies: ``None``."""
    content_type = headers.get("content-type", "")
    try:
        if "application/x-www-form-urlencoded" in content_type:
            form: dict[str, Any] = {
                k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()
            }
            if isinstance(form.get("blocks"), str):
                form["blocks"] = json.loads(form["blocks"])
            return form
        return json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return None


def fault_reply(kind: Kind, fault: Fault) -> Reply:
    status = fault.status or 500
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    if kind == "api":
        if status == 429:
            error = fault.error or "ratelimited"
            return Reply.json(429, {"ok": False, "error": error}, **headers)
        if status == 200 or fault.error is not None:
            error = fault.error or "fatal_error"
            return Reply.json(status, {"ok": False, "error": error}, **headers)
    reason = fault.error or {429: "rate_limited", 500: "rollup_error"}.get(status)
    if reason is None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "error"
    return Reply.text(status, reason, **headers)
