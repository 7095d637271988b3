"""Every error the API returns: an HTTP status, a stable machine code, a human message.

Clients branch on ``error.code``; the message may change wording, the code never does.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


def is_dependency_outage(exc: BaseException) -> bool:
    """Connection-level failures of PostgreSQL, the object store or Kafka (through any
    wrapping), as opposed to bugs: those are a 503 the client may retry."""
    from minio.error import S3Error
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError | ConnectionError | TimeoutError | OperationalError):
            return True
        if isinstance(seen, InterfaceError | DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, S3Error) and seen.code in ("ServiceUnavailable", "SlowDown"):
            return True
        module = type(seen).__module__
        if module.startswith(("urllib3", "asyncpg", "aiokafka")):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return JSONResponse(
            error_body("invalid_request", "the request is not valid", {"problems": problems}),
            422,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        if is_dependency_outage(exc):
            log.warning("dependency unavailable: %s: %s", type(exc).__name__, exc)
            return JSONResponse(
                error_body(
                    "dependency_unavailable",
                    "a backing service (database, object store or event bus) is unavailable; "
                    "nothing was stored, try again",
                ),
                503,
                headers={"Retry-After": "5"},
            )
        log.exception("unexpected error")
        return JSONResponse(error_body("internal_error", "unexpected error"), 500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code)
