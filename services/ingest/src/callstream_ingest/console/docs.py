"""FastAPI's /docs and /redoc with their scripts and styles served from this package, so
they render on a machine with no internet (FastAPI's defaults load them from a CDN)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

VENDOR = "/console/static/vendor"
FAVICON = "/console/static/favicon.svg"
DOC_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")


def _is_default_doc_route(route: BaseRoute) -> bool:
    return isinstance(route, Route) and route.path in DOC_PATHS


def serve_docs_locally(app: FastAPI) -> None:
    """Replace the CDN-backed documentation routes FastAPI registered with local ones."""
    app.router.routes[:] = [r for r in app.router.routes if not _is_default_doc_route(r)]
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=f"{VENDOR}/swagger-ui-bundle.js",
            swagger_css_url=f"{VENDOR}/swagger-ui.css",
            swagger_favicon_url=FAVICON,
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            redoc_js_url=f"{VENDOR}/redoc.standalone.js",
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )
