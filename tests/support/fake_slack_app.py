"""The Slack-app half of the fake Slack: what a Slack app calls besides ``chat.postMessage``,
and what Slack itself sends to an app.

Served by :class:`tests.support.fake_slack.FakeSlack` (this is its mixin):

* ``files.info`` and the ``url_private`` download (bearer token checked, 404 for unknown
  files) of files registered with :meth:`SlackAppFake.add_file`;
* ``users.info`` for users registered with :meth:`SlackAppFake.add_user` (``user_not_found``
  otherwise), ``chat.postEphemeral``, ``conversations.replies`` (a thread's replies);
* ``POST /actions/<id>`` — a ``response_url`` as Slack hands them out in commands and
  interactions (:meth:`SlackAppFake.response_url`);
* :func:`sign` — Slack's ``v0`` request signature, to send signed requests to the app.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SIGNING_SECRET = "slack-signing-secret-for-tests"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds to a request to an app: ``X-Slack-Request-Timestamp`` and
    ``X-Slack-Signature = v0=HMAC-SHA256(secret, "v0:{ts}:{body}")``."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass(frozen=True)
class FakeFile:
    id: str
    name: str
    mimetype: str
    filetype: str
    content: bytes
    user: str
    channel: str
    ts: str
    declared_size: int | None = None

    def info(self, base_url: str) -> dict[str, Any]:
        """``files.info``'s ``file`` object (the fields an app reads)."""
        return {
            "id": self.id,
            "name": self.name,
            "title": self.name,
            "mimetype": self.mimetype,
            "filetype": self.filetype,
            "size": self.declared_size if self.declared_size is not None else len(self.content),
            "user": self.user,
            "url_private": f"{base_url}/files-pri/T000-{self.id}/{self.name}",
            "url_private_download": f"{base_url}/files-pri/T000-{self.id}/download/{self.name}",
            "channels": [self.channel],
            "shares": {"public": {self.channel: [{"ts": self.ts, "channel_name": "sales"}]}},
        }


class SlackAppFake:
    """State and answers of the app-facing API methods (mixed into ``FakeSlack``)."""

    bot_token: str
    channels: frozenset[str] | None

    @property
    def base_url(self) -> str:
        raise NotImplementedError  # FakeSlack's listening address

    def _init_app(self) -> None:
        self.files: dict[str, FakeFile] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self._response_ids = itertools.count(1)
        self._file_ts = itertools.count(1)

    def add_file(
        self,
        content: bytes,
        *,
        name: str = "call.wav",
        mimetype: str = "audio/wav",
        filetype: str = "wav",
        user: str = "U0REP",
        channel: str = "C0SALES",
        declared_size: int | None = None,
    ) -> FakeFile:
        """A file shared by ``user`` in ``channel`` (its share message gets a fresh ``ts``,
        the thread the app replies in)."""
        n = next(self._file_ts)
        file = FakeFile(
            id=f"F{int(time.time() * 1000) % 10**9:09d}{n:04d}",
            name=name,
            mimetype=mimetype,
            filetype=filetype,
            content=content,
            user=user,
            channel=channel,
            ts=f"{int(time.time())}.{n:06d}",
            declared_size=declared_size,
        )
        self.files[file.id] = file
        return file

    def add_user(self, user_id: str, email: str | None = None) -> None:
        self.users[user_id] = {
            "id": user_id,
            "name": user_id.lower(),
            "profile": {"email": email} if email else {},
        }

    def response_url(self) -> str:
        """A fresh ``response_url``, like the one in a slash command or interaction."""
        return f"{self.base_url}/actions/T000/{next(self._response_ids)}/resp"

    # ------------------------------------------------------------------ answers

    def _app_api(self, method: str, data: Mapping[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """The answer of an app-facing method, or None for a method this part does not
        serve. The caller has checked the bot token."""
        if method == "files.info":
            file = self.files.get(str(data.get("file", "")))
            if file is None:
                return 200, {"ok": False, "error": "file_not_found"}
            return 200, {"ok": True, "file": file.info(self.base_url)}
        if method == "users.info":
            user = self.users.get(str(data.get("user", "")))
            if user is None:
                return 200, {"ok": False, "error": "user_not_found"}
            return 200, {"ok": True, "user": user}
        if method == "chat.postEphemeral":
            if not data.get("channel") or not data.get("user"):
                return 200, {"ok": False, "error": "invalid_arguments"}
            if not data.get("text") and not data.get("blocks"):
                return 200, {"ok": False, "error": "no_text"}
            return 200, {"ok": True, "message_ts": f"{time.time():.6f}"}
        return None

    def _download(self, path: str, headers: Mapping[str, str]) -> tuple[int, bytes, str]:
        """``url_private``: the file's bytes for the bot token (Slack answers an HTML login
        page, not the file, without one; we answer 403 to make that failure visible)."""
        auth = headers.get("authorization", "")
        if not hmac.compare_digest(auth, f"Bearer {self.bot_token}"):
            return 403, b"not_authed", "text/plain"
        parts = path.split("/")
        file_id = parts[2].removeprefix("T000-") if len(parts) > 2 else ""
        file = self.files.get(file_id)
        if file is None:
            return 404, b"file_not_found", "text/plain"
        return 200, file.content, file.mimetype

    @staticmethod
    def _response_reply(data: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(data, dict) or (not data.get("text") and not data.get("blocks")):
            return 400, {"ok": False, "error": "no_text"}
        return 200, {"ok": True}

    def _history(self, data: Mapping[str, Any], thread_ts: str | None = None) -> dict[str, Any]:
        """``conversations.history``: what ``chat.postMessage`` accepted in the channel,
        thread replies left out as Slack does; ``conversations.replies`` (``thread_ts``):
        the replies in that thread."""
        channel = data.get("channel")
        if not isinstance(channel, str) or not channel:
            return {"ok": False, "error": "channel_not_found"}
        if self.channels is not None and channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        try:
            oldest = float(data.get("oldest") or 0)
            limit = max(1, min(int(data.get("limit") or 100), 999))
            start = int(data.get("cursor") or 0)
        except (TypeError, ValueError):
            return {"ok": False, "error": "invalid_arguments"}
        with_metadata = str(data.get("include_all_metadata", "")).lower() in ("1", "true")
        posted: list[dict[str, Any]] = []
        for r in getattr(self, "requests"):  # noqa: B009 - defined by FakeSlack
            sent = r.json
            if r.path != "/api/chat.postMessage" or not r.accepted or not isinstance(sent, dict):
                continue
            if sent.get("channel") != channel or sent.get("thread_ts") != thread_ts:
                continue
            ts = str(json.loads(r.response)["ts"])
            if float(ts) <= oldest:
                continue
            message: dict[str, Any] = {
                "type": "message",
                "bot_id": "B000",
                "ts": ts,
                "text": sent.get("text", ""),
                "blocks": sent.get("blocks", []),
            }
            if with_metadata and isinstance(sent.get("metadata"), dict):
                message["metadata"] = sent["metadata"]
            posted.append(message)
        posted.reverse()  # newest first, like Slack
        more = start + limit < len(posted)
        body: dict[str, Any] = {"ok": True, "messages": posted[start : start + limit]}
        body["has_more"] = more
        if more:
            body["response_metadata"] = {"next_cursor": str(start + limit)}
        return body

    # ------------------------------------------------------------------ recordings

    def _accepted(self, path: str) -> list[Any]:
        requests: list[Any] = getattr(self, "requests")  # noqa: B009 - defined by FakeSlack
        return [r for r in requests if r.accepted and r.path == path]

    def thread_messages(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Accepted ``chat.postMessage`` replies in one thread, oldest first."""
        found = []
        for r in self._accepted("/api/chat.postMessage"):
            sent = r.json
            if sent.get("channel") == channel and sent.get("thread_ts") == thread_ts:
                found.append({**sent, "ts": json.loads(r.response)["ts"]})
        return found

    def ephemerals(self, user: str | None = None) -> list[dict[str, Any]]:
        """Accepted ``chat.postEphemeral`` bodies (to ``user``, or anyone)."""
        return [
            r.json
            for r in self._accepted("/api/chat.postEphemeral")
            if user is None or r.json.get("user") == user
        ]

    def responses(self, url: str | None = None) -> list[dict[str, Any]]:
        """Bodies posted to response URLs (to ``url``, or any)."""
        requests: list[Any] = getattr(self, "requests")  # noqa: B009
        return [
            r.json
            for r in requests
            if r.accepted
            and r.path.startswith("/actions/")
            and (url is None or url.endswith(r.path))
        ]

    def downloads(self, file_id: str) -> list[Any]:
        requests: list[Any] = getattr(self, "requests")  # noqa: B009
        return [r for r in requests if r.path.startswith(f"/files-pri/T000-{file_id}/")]
