"""Liveness of ingest and of what it depends on; the one route without a credential."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from callstream_common.settings import VERSION
from callstream_ingest.dependencies import state

health_router = APIRouter()


@health_router.get("/health")
async def health(request: Request) -> JSONResponse:
    st = state(request)
    checks = await st.check_dependencies()
    ok = all(c == "ok" for c in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "version": VERSION, "services": checks},
        status_code=200 if ok else 503,
    )
