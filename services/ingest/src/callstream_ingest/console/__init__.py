"""The web console: server-rendered pages (Jinja2) with htmx and Chart.js, every asset
served from this package (no CDN, no build step), scoped by the same roles as the API.

``install_console(app)`` is the one line ``app.py`` needs.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from redis.asyncio import Redis

from callstream_ingest.console.conversation_pages import conversation_router
from callstream_ingest.console.docs import serve_docs_locally
from callstream_ingest.console.operations_pages import operations_router
from callstream_ingest.console.read_pages import overview_router
from callstream_ingest.console.session import SessionStore
from callstream_ingest.console.signin import signin_router
from callstream_ingest.console.web import (
    HERE,
    ConsoleState,
    PageNotFound,
    SignInRequired,
    render,
    secured,
    sign_in_url,
)
from callstream_ingest.errors import ApiError
from callstream_ingest.settings import IngestSettings

__all__ = ["install_console"]


def wants_page(request: Request) -> bool:
    """A browser navigating (not htmx, not a script expecting the API's JSON)."""
    return (
        request.url.path.startswith("/console")
        and "text/html" in request.headers.get("accept", "")
        and not request.headers.get("hx-request")
    )


def install_console(app: FastAPI, settings: IngestSettings) -> None:
    templates = Jinja2Templates(directory=HERE / "templates")
    app.state.console = ConsoleState(
        sessions=SessionStore(
            Redis.from_url(settings.redis_url.get_secret_value()),
            settings.console_session_seconds,
        ),
        templates=templates,
    )
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for router in (signin_router, overview_router, conversation_router, operations_router):
        app.include_router(router)
    serve_docs_locally(app)
    api_error = app.exception_handlers[ApiError]

    async def sign_in_first(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": sign_in_url(exc.next_path)})
        return secured(RedirectResponse(sign_in_url(exc.next_path), status_code=303))

    async def not_found(request: Request, exc: Exception) -> Response:
        return render(
            request,
            "error.html",
            None,
            status_code=404,
            title="Not found",
            message="There is no such page, or it is not yours to see.",
        )

    async def api_error_as_page(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, ApiError)
        if wants_page(request):
            return render(
                request,
                "error.html",
                None,
                status_code=exc.status,
                title="Something is not right",
                message=exc.message,
            )
        answer = api_error(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(SignInRequired, sign_in_first)
    app.add_exception_handler(PageNotFound, not_found)
    app.add_exception_handler(ApiError, api_error_as_page)
