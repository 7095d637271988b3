"""Every error the API returns: an HTTP status, a stable machine code, a human message.

Clients branch on ``error.code``; the message may change wording, the code never does.
Exceptions that escape a route are answered by :mod:`callstream_ingest.edge` (which
classifies them with :func:`classify_unexpected`), so that no error ever tears down the
connection without a response.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


CLIENT_VALUE_SQLSTATES = frozenset({"22001", "22003", "22007", "22008", "22021", "22P02", "22P05"})
"""Too long, out of range, a bad date, a NUL byte or untranslatable character, bad text
representation: a value the client sent that PostgreSQL cannot take."""


def is_client_data_error(exc: BaseException) -> bool:
    """PostgreSQL (or asyncpg while encoding it) refused a value the client sent:
    retrying can never succeed."""
    from asyncpg.exceptions import DataError as PgDataError

    for seen in _chain(exc):
        if type(seen) is PgDataError:
            return True
        if type(seen).__module__.startswith("asyncpg") and (
            getattr(seen, "sqlstate", None) in CLIENT_VALUE_SQLSTATES
        ):
            return True
    return False


def is_message_too_large(exc: BaseException) -> bool:
    """Kafka refused a record for its size: the request must shrink, not be retried."""
    return any(type(seen).__name__ == "MessageSizeTooLargeError" for seen in _chain(exc))


def is_dependency_outage(exc: BaseException) -> bool:
    """Connection-level failures of PostgreSQL, the object store or Kafka (through any
    wrapping), as opposed to bugs: those are a 503 the client may retry."""
    from minio.error import S3Error
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if is_client_data_error(exc) or is_message_too_large(exc):
        return False
    for seen in _chain(exc):
        if isinstance(seen, OSError | ConnectionError | TimeoutError | OperationalError):
            return True
        if isinstance(seen, InterfaceError | DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, S3Error) and seen.code in ("ServiceUnavailable", "SlowDown"):
            return True
        if type(seen).__module__.startswith(("urllib3", "asyncpg", "aiokafka")):
            return True
    return False


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


def classify_unexpected(exc: BaseException) -> ApiError:
    """The answer to an exception no route turned into an :class:`ApiError`."""
    if is_client_data_error(exc):
        return ApiError(
            422, "invalid_request", "a value in the request is not acceptable text or number"
        )
    if is_message_too_large(exc):
        return ApiError(413, "too_large", "the record is larger than the event bus accepts")
    if is_dependency_outage(exc):
        log.warning("dependency unavailable: %s: %s", type(exc).__name__, exc)
        return ApiError(
            503,
            "dependency_unavailable",
            "a backing service (database, object store or event bus) is unavailable; "
            "nothing was stored, try again",
            headers={"Retry-After": "5"},
        )
    log.error("unexpected error", exc_info=exc)
    return ApiError(500, "internal_error", "unexpected error")


def error_response(exc: ApiError) -> JSONResponse:
    headers = dict(exc.headers or {})
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    if exc.status == 429 and exc.details and "retry_after_seconds" in exc.details:
        headers.setdefault("Retry-After", str(exc.details["retry_after_seconds"]))
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details), exc.status, headers=headers or None
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return JSONResponse(
            error_body("invalid_request", "the request is not valid", {"problems": problems}),
            422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)
