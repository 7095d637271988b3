"""What every response of ingest passes through, whichever surface answered it.

- Security headers: ``X-Content-Type-Options: nosniff`` everywhere, ``Cache-Control:
  no-store`` on every response to a request that carried a credential (bearer token or
  console session), a Content-Security-Policy on HTML that has none of its own; the
  server banner is switched off where uvicorn starts (:func:`callstream_ingest.app.main`).
- With ``allowed_hosts`` configured, a request whose ``Host`` is not one of them is
  refused with 400 ``invalid_host`` (Starlette's TrustedHostMiddleware rule: exact names
  and ``*.domain`` wildcards), in the API's JSON error shape.
- NUL bytes in the path or query string are refused with 422 before any handler runs
  (PostgreSQL can never store them, so they are the client's error, not an outage).
- An exception no route handled is answered here, as JSON in the API's error shape, and
  never re-raised: Starlette's outermost handler would send the answer and then re-raise,
  and uvicorn would drop the keep-alive connection without saying so. Any 5xx, and any
  error sent before the request body was read to its end, carries ``Connection: close``
  so that a pooled client opens a fresh connection instead of meeting a reset.
- A client that goes away mid-request (an aborted upload) is logged at INFO: nothing
  failed on our side and nothing is answered.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callstream_ingest.errors import ApiError, classify_unexpected, error_response

log = logging.getLogger(__name__)

HTML_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
"""Swagger UI and ReDoc start from an inline script FastAPI writes into the page."""
DOCS_PATHS = ("/docs", "/redoc")
SESSION_COOKIE_PREFIX = "callstream_"


def _carries_credential(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return True
        if name == b"cookie" and SESSION_COOKIE_PREFIX.encode() in value:
            return True
    return False


def _declares_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


def _has_nul(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    return "\x00" in path or b"\x00" in unquote_to_bytes(scope.get("query_string", b""))


def _nul_fields(scope: Scope) -> list[str]:
    """Where the NUL bytes are: ``path`` and/or ``query.<parameter>``."""
    fields = ["path"] if "\x00" in scope.get("path", "") else []
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        if "\x00" in name or "\x00" in value:
            fields.append("query." + name.replace("\x00", ""))
    return list(dict.fromkeys(fields))


def _is_disconnect(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientDisconnect):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def host_allowed(host_header: str, allowed: list[str]) -> bool:
    host = host_header.split(":")[0].lower() if not host_header.startswith("[") else host_header
    for pattern in allowed:
        if pattern == "*" or host == pattern.lower():
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:].lower()):
            return True
    return False


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, allowed_hosts: list[str] | None = None) -> None:
        self.app = app
        self.allowed_hosts = list(allowed_hosts or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            unread = {"body_done": not _declares_body(scope)}
            await error_response(refusal)(scope, receive, self._headers_added(scope, send, unread))
            return
        progress = {"started": False, "body_done": not _declares_body(scope)}

        async def tracked_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                progress["body_done"] = True
            return message

        tracked_send = self._headers_added(scope, send, progress)
        try:
            await self.app(scope, tracked_receive, tracked_send)
        except Exception as exc:
            if _is_disconnect(exc):
                log.info("client went away during %s %s", scope["method"], scope["path"])
                return
            if progress["started"]:
                log.error("error after the response started", exc_info=exc)
                return
            await error_response(classify_unexpected(exc))(scope, tracked_receive, tracked_send)

    def _refusal(self, scope: Scope) -> ApiError | None:
        if self.allowed_hosts and not host_allowed(_header(scope, b"host"), self.allowed_hosts):
            return ApiError(400, "invalid_host", "the Host header names no host this API serves")
        if _has_nul(scope):
            fields = _nul_fields(scope)
            return ApiError(
                422,
                "invalid_request",
                "the path or query string contains a NUL byte"
                + (f": {', '.join(fields)}" if fields else ""),
                {"problems": [{"field": f, "message": "contains a NUL byte"} for f in fields]},
            )
        return None

    @staticmethod
    def _headers_added(scope: Scope, send: Send, progress: dict[str, bool]) -> Send:
        credential = _carries_credential(scope)
        path: str = scope.get("path", "")

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                progress["started"] = True
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if credential:
                    headers["Cache-Control"] = "no-store"
                if headers.get("content-type", "").startswith("text/html"):
                    policy = (
                        DOCS_CONTENT_SECURITY_POLICY
                        if path.startswith(DOCS_PATHS)
                        else HTML_CONTENT_SECURITY_POLICY
                    )
                    headers.setdefault("Content-Security-Policy", policy)
                status = int(message["status"])
                if status >= 500 or (status >= 400 and not progress.get("body_done", True)):
                    headers["Connection"] = "close"
            await send(message)

        return wrapped
