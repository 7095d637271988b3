"""Liveness of ingest and of what it depends on; the one route without a credential."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from callstream_common.settings import VERSION
from callstream_ingest.dependencies import state

health_router = APIRouter()


@health_router.get("/health")
async def health(request: Request) -> JSONResponse:
    """503 when PostgreSQL, the object store or Kafka is down; the read cache is reported
    (``cache``: ok / degraded / disabled) but never makes the API unhealthy: reads are
    answered from PostgreSQL without it."""
    st = state(request)
    checks = await st.check_dependencies()
    ok = all(c == "ok" for c in checks.values())
    cache = await request.app.state.read_cache.ping()
    return JSONResponse(
        {
            "status": "ok" if ok else "degraded",
            "version": VERSION,
            "services": checks,
            "cache": cache,
        },
        status_code=200 if ok else 503,
    )
