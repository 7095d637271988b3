"""The shared edge of ingest without servers: middleware, auth cache and throttle, query
types, replay checks."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from pydantic import TypeAdapter, ValidationError
from starlette.requests import ClientDisconnect

from callstream_ingest.auth import BoundedTtlCache, FailedAuthThrottle
from callstream_ingest.edge import EdgeMiddleware, host_allowed
from callstream_ingest.errors import ApiError, install_error_handlers
from callstream_ingest.params import CalendarInstant, like_literal


def edge_app(allowed_hosts: list[str] | None = None) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/outage")
    async def outage() -> None:
        raise ConnectionRefusedError("db down")

    @app.post("/gone")
    async def gone(request: Request) -> None:
        raise ClientDisconnect()

    @app.post("/refuse")
    async def refuse() -> None:
        raise ApiError(401, "unauthorized", "no")

    @app.get("/page")
    async def page() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>")

    app.add_middleware(EdgeMiddleware, allowed_hosts=allowed_hosts)
    return app


def client(app: FastAPI, host: str = "api.example") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    return httpx.AsyncClient(transport=transport, base_url=f"http://{host}")


async def test_an_unexpected_error_is_answered_and_closes_the_connection() -> None:
    async with client(edge_app()) as c:
        r = await c.get("/boom")
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert r.headers["connection"] == "close"


async def test_an_outage_is_a_503_with_retry_after_and_close() -> None:
    async with client(edge_app()) as c:
        r = await c.get("/outage")
    assert r.status_code == 503 and r.json()["error"]["code"] == "dependency_unavailable"
    assert r.headers["retry-after"] == "5" and r.headers["connection"] == "close"


async def test_a_client_disconnect_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/gone",
        "raw_path": b"/gone",
        "query_string": b"",
        "headers": [(b"host", b"api.example"), (b"content-length", b"5")],
        "scheme": "http",
        "server": ("api.example", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
    }
    await edge_app()(scope, receive, send)
    assert any("client went away" in r.message for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert sent == []


async def test_an_error_before_the_body_is_read_closes_the_connection() -> None:
    async with client(edge_app()) as c:
        r = await c.post("/refuse", content=b"x" * 1000)
    assert r.status_code == 401 and r.headers["connection"] == "close"


async def test_headers_on_every_answer() -> None:
    async with client(edge_app()) as c:
        page = await c.get("/page", headers={"Authorization": "Bearer x"})
        missing = await c.get("/nowhere")
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert missing.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in missing.headers


async def test_nul_in_the_query_is_a_422() -> None:
    async with client(edge_app()) as c:
        r = await c.get("/page?stage=%00&name=%C3%A9%FF&participants=Ann&participants=B%00o%F1")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    problems = r.json()["error"]["details"]["problems"]
    assert [p["field"] for p in problems] == ["query.stage", "query.participants"]


async def test_unexpected_hosts_are_refused_when_configured() -> None:
    app = edge_app(["api.example", "*.calls.example"])
    async with client(app, "evil.example") as c:
        r = await c.get("/page")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_host"
    async with client(app, "eu.calls.example") as c:
        assert (await c.get("/page")).status_code == 200


@pytest.mark.parametrize(
    ("host", "allowed"),
    [("api.example", True), ("api.example:8443", True), ("x.api.example", False)],
)
def test_host_matching(host: str, allowed: bool) -> None:
    assert host_allowed(host, ["api.example"]) is allowed


def test_the_token_cache_is_bounded_in_size_and_time() -> None:
    cache: BoundedTtlCache[str] = BoundedTtlCache(ttl=10, max_entries=100)
    for i in range(10_000):
        cache.put(f"token-{i}", "who", now=0.0)
    assert len(cache) == 100
    assert cache.get("token-9999", now=1.0) == (True, "who")
    assert cache.get("token-0", now=1.0) == (False, None)
    assert cache.get("token-9999", now=11.0) == (False, None)


def test_failed_authentication_is_slowed_down_per_address() -> None:
    throttle = FailedAuthThrottle(limit=3, window=60)
    for t in range(3):
        assert throttle.retry_after("10.0.0.1", now=float(t)) is None
        throttle.failed("10.0.0.1", now=float(t))
    assert throttle.retry_after("10.0.0.1", now=3.0) == pytest.approx(57.0)
    assert throttle.retry_after("10.0.0.2", now=3.0) is None
    assert throttle.retry_after("10.0.0.1", now=61.0) is None


def test_the_throttle_tracks_a_bounded_number_of_addresses() -> None:
    throttle = FailedAuthThrottle(limit=3, window=60, max_addresses=10)
    for i in range(1000):
        throttle.failed(f"addr-{i}", now=0.0)
    assert len(throttle._failures) == 10


@pytest.mark.parametrize("value", ["1700000000", "1700000000.5", "-5", ""])
def test_bare_numbers_are_not_dates(value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(CalendarInstant).validate_python(value)


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2026-11-29", "2026-11-29T00:00:00+00:00"),
        ("2026-11-29T09:30:00Z", "2026-11-29T09:30:00+00:00"),
    ],
)
def test_dates_and_date_times_are_accepted(value: str, iso: str) -> None:
    assert TypeAdapter(CalendarInstant).validate_python(value).isoformat() == iso


def test_like_wildcards_are_escaped() -> None:
    assert like_literal("a%b_c\\d") == "a\\%b\\_c\\\\d"


def test_an_edited_replay_must_fit_its_contract_and_its_conversation() -> None:
    from callstream_common.contracts import CallTranscribed
    from callstream_ingest.ops.replay_check import checked_payload
    from tests.unit.fakes import dead_letter

    conv = uuid.uuid4()
    good = CallTranscribed(
        conversation_id=conv, language="en", duration_seconds=1.0, segment_count=1
    ).model_dump(mode="json")
    entry = dead_letter(conv, original_topic="calls.transcribed.priority")
    assert json.loads(checked_payload(entry, good, 10_000)) == good
    with pytest.raises(ApiError) as bad:
        checked_payload(entry, {"evil": "x"}, 10_000)
    assert (bad.value.status, bad.value.code) == (422, "invalid_payload")
    with pytest.raises(ApiError) as other:
        checked_payload(entry, good | {"conversation_id": str(uuid.uuid4())}, 10_000)
    assert "another conversation" in other.value.message
    with pytest.raises(ApiError) as big:
        checked_payload(entry, good, 100)
    assert (big.value.status, big.value.code) == (413, "too_large")
