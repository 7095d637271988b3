"""The dashboard: pipeline health for everyone, job status for managers and admins."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from callstream_ingest.console.web import SignedIn, ingest_state, render, secured
from callstream_ingest.ops.api import jobs_status

overview_router = APIRouter(prefix="/console")


@overview_router.get("", include_in_schema=False)
async def console_root() -> Response:
    return secured(RedirectResponse("/console/", status_code=307))


@overview_router.get("/", include_in_schema=False)
async def dashboard(request: Request, who: SignedIn) -> Response:
    health = await ingest_state(request).check_dependencies()
    jobs = await jobs_status(request, who.principal) if who.sees_operations else None
    return render(
        request,
        "dashboard.html",
        who,
        title="Dashboard",
        active="dashboard",
        health=health,
        jobs=jobs,
    )
