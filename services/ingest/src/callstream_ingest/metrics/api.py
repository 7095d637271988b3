"""Ingest's Prometheus side: HTTP and upload metrics, the outbox backlog, ``/metrics``.

``/metrics`` is on the API port and, like every API but health, needs a credential: the
scrape token (``CALLSTREAM_METRICS_TOKEN``, what Prometheus is given) or an admin token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callstream_common import metrics
from callstream_common.db.models import Role
from callstream_ingest.dependencies import principal, state
from callstream_ingest.errors import ApiError
from callstream_ingest.ops.views import outbox_backlog

log = logging.getLogger(__name__)

UPLOAD_ROUTE = ("POST", "/v1/conversations")
OUTBOX_READ_TIMEOUT_SECONDS = 2.0

metrics_router = APIRouter()


def upload_outcome(status: int) -> str:
    if status < 400:
        return "accepted"
    return "rejected" if status < 500 else "failed"


class HttpMetricsMiddleware:
    """Times every request by route template (not raw path: ids would explode the label
    set) and counts the bytes each upload streamed in, whatever its outcome."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        received = 0
        status = 500

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, counting_receive, recording_send)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            metrics.HTTP_REQUESTS.labels(scope["method"], route, str(status)).observe(seconds)
            if (scope["method"], route) == UPLOAD_ROUTE:
                outcome = upload_outcome(status)
                metrics.UPLOAD_BYTES.labels(outcome).observe(received)
                metrics.UPLOAD_SECONDS.labels(outcome).observe(seconds)


def route_template(scope: Scope) -> str:
    app: Any = scope.get("app")
    for route in getattr(app, "routes", ()):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", scope["path"]))
    return "<unmatched>"


async def refresh_outbox_backlog(request: Request) -> None:
    """Read at scrape time. PostgreSQL being away must not cost the scrape (that is when
    the other series matter most): the gauges then keep their last values."""

    async def read() -> None:
        async with state(request).sessions() as session:
            backlog = await outbox_backlog(session)
        metrics.OUTBOX_BACKLOG.set(backlog.events)
        metrics.OUTBOX_OLDEST_AGE.set(backlog.oldest_age_seconds)

    try:
        await asyncio.wait_for(read(), OUTBOX_READ_TIMEOUT_SECONDS)
    except Exception as exc:
        log.warning("outbox backlog not read: %s", type(exc).__name__)


async def authorize_scrape(request: Request) -> None:
    settings = state(request).settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    header = request.headers.get("authorization", "")
    if token is not None and metrics.token_accepted(header, token):
        return
    who = await principal(request)
    if who.role != Role.ADMIN:
        raise ApiError(403, "forbidden", "metrics need the scrape token or the role admin")


@metrics_router.get("/metrics", include_in_schema=False)
async def scrape(request: Request) -> Response:
    await authorize_scrape(request)
    await refresh_outbox_backlog(request)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
