"""Ingest's HTTP metrics: requests by route template, upload bytes and time by outcome."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY

from callstream_ingest.metrics.api import HttpMetricsMiddleware, upload_outcome


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def make_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/conversations")
    async def upload(request: Request) -> JSONResponse:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return JSONResponse({"size": size}, status_code=202 if size else 400)

    @app.get("/v1/conversations/{cid}")
    async def show(cid: str) -> dict[str, str]:
        return {"id": cid}

    app.add_middleware(HttpMetricsMiddleware)
    return app


async def test_requests_are_labelled_by_route_template_and_uploads_by_outcome() -> None:
    route = {"method": "GET", "route": "/v1/conversations/{cid}", "status": "200"}
    shown_before = sample("callstream_http_request_duration_seconds_count", **route)
    accepted_before = sample("callstream_upload_size_bytes_sum", outcome="accepted")
    rejected_before = sample("callstream_upload_duration_seconds_count", outcome="rejected")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app()), base_url="http://t"
    ) as client:
        assert (await client.get("/v1/conversations/abc")).status_code == 200
        assert (await client.post("/v1/conversations", content=b"x" * 5000)).status_code == 202
        assert (await client.post("/v1/conversations", content=b"")).status_code == 400
        assert (await client.get("/nowhere")).status_code == 404
    assert sample("callstream_http_request_duration_seconds_count", **route) == shown_before + 1
    assert sample("callstream_upload_size_bytes_sum", outcome="accepted") == accepted_before + 5000
    assert (
        sample("callstream_upload_duration_seconds_count", outcome="rejected")
        == rejected_before + 1
    )
    assert sample(
        "callstream_http_request_duration_seconds_count",
        method="GET",
        route="<unmatched>",
        status="404",
    )


def test_upload_outcomes() -> None:
    assert [upload_outcome(s) for s in (202, 413, 503)] == ["accepted", "rejected", "failed"]


async def test_a_scrape_survives_the_database_being_away() -> None:
    from types import SimpleNamespace

    from pydantic import SecretStr

    from callstream_ingest.metrics.api import metrics_router

    def sessions() -> object:
        raise ConnectionRefusedError("database is away")

    app = FastAPI()
    app.state.ingest = SimpleNamespace(
        settings=SimpleNamespace(metrics_token=SecretStr("scrape")), sessions=sessions
    )
    app.include_router(metrics_router)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        r = await client.get("/metrics", headers={"Authorization": "Bearer scrape"})
    assert r.status_code == 200
    assert "callstream_outbox_backlog_events" in r.text
