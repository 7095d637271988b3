"""One conversation (scorecard, transcript, audio, timeline), its live status badge, its
recording, and the upload page that leads to it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import RedirectResponse, Response

from callstream_common.reads import conversations as reads
from callstream_ingest.console.charts import MEDDIC_ORDER, radar
from callstream_ingest.console.timeline import DeadLetterVisit, build_timeline
from callstream_ingest.console.web import (
    Changing,
    PageNotFound,
    SignedIn,
    ingest_state,
    render,
    secured,
)
from callstream_ingest.errors import ApiError
from callstream_ingest.ops.views import dead_letters_of
from callstream_ingest.read.api import (
    ConversationDetailView,
    detail_view,
    get_audio,
    reanalyze,
)
from callstream_ingest.read.common import scope_of
from callstream_ingest.upload.api import upload_conversation

conversation_router = APIRouter(prefix="/console")

FINAL_STATUSES = ("completed", "failed")


async def visible_conversation(
    request: Request, conversation_id: uuid.UUID, who: SignedIn
) -> ConversationDetailView:
    """The read side's own query in the viewer's scope, so the console can never show
    more than the API would (out of scope and missing look the same)."""
    async with ingest_state(request).sessions() as session:
        detail = await reads.conversation_detail(session, scope_of(who.principal), conversation_id)
    if detail is None:
        raise PageNotFound
    return detail_view(request, detail)


@conversation_router.get("/conversations/{conversation_id}", include_in_schema=False)
async def conversation_page(
    request: Request, conversation_id: uuid.UUID, who: SignedIn
) -> Response:
    conv = await visible_conversation(request, conversation_id, who)
    return await _conversation(request, who, conv, None)


@conversation_router.get(
    "/conversations/{conversation_id}/analyses/{version}", include_in_schema=False
)
async def analysis_version_page(
    request: Request, conversation_id: uuid.UUID, version: int, who: SignedIn
) -> Response:
    """The call with one earlier analysis version in place of the current scorecard."""
    conv = await visible_conversation(request, conversation_id, who)
    async with ingest_state(request).sessions() as session:
        found = await reads.analysis_version(
            session, scope_of(who.principal), conversation_id, version
        )
    if found is None:
        raise PageNotFound
    return await _conversation(request, who, conv.model_copy(update={"analysis": found}), version)


async def _conversation(
    request: Request, who: SignedIn, conv: ConversationDetailView, shown_version: int | None
) -> Response:
    async with ingest_state(request).sessions() as session:
        dead = await dead_letters_of(session, conv.id)
    visits = [
        DeadLetterVisit(
            str(d.id), d.error_class, d.error_message, d.attempts, d.status, d.created_at
        )
        for d in dead
    ]
    timeline = build_timeline(
        conv.timings, visits, [d.service for d in dead], conv.status, conv.failure_stage
    )
    dimensions = sorted(
        (conv.analysis or {}).get("dimensions", []),
        key=lambda d: MEDDIC_ORDER.index(d["dimension"]) if d["dimension"] in MEDDIC_ORDER else 9,
    )
    return render(
        request,
        "conversation.html",
        who,
        title=conv.title or conv.opportunity_name,
        active="conversations",
        conv=conv,
        dimensions=dimensions,
        radar=radar({d["dimension"]: d["score"] for d in dimensions}) if dimensions else None,
        timeline=timeline,
        final=conv.status in FINAL_STATUSES,
        versions=conv.analysis_versions,
        shown_version=shown_version,
        notice=request.query_params.get("notice") == "reanalysis-queued",
    )


@conversation_router.get("/conversations/{conversation_id}/status", include_in_schema=False)
async def conversation_status(
    request: Request,
    conversation_id: uuid.UUID,
    who: SignedIn,
    badge_id: Annotated[str | None, Query(pattern=r"^badge-[0-9a-f-]{36}$")] = None,
) -> Response:
    """The status badge alone; it polls itself (htmx) until the call is final. The page's
    own badge (no ``badge_id``; a list row has one) then asks the page to move on once, so
    the scorecard appears."""
    conv = await visible_conversation(request, conversation_id, who)
    response = render(
        request,
        "partials/status_badge.html",
        who,
        conv=conv,
        final=conv.status in FINAL_STATUSES,
        badge_id=badge_id,
    )
    if conv.status in FINAL_STATUSES and request.headers.get("hx-request") and not badge_id:
        response.headers["HX-Trigger"] = "conversation-final"
    return response


@conversation_router.get("/conversations/{conversation_id}/audio", include_in_schema=False)
async def conversation_audio(
    request: Request,
    conversation_id: uuid.UUID,
    who: SignedIn,
) -> Response:
    """The read API's streaming (HTTP Range) for the signed-in viewer."""
    try:
        return await get_audio(request, conversation_id, who.principal)
    except ApiError as exc:
        if exc.status == 404:
            raise PageNotFound from exc
        raise


@conversation_router.post("/conversations/{conversation_id}/reanalyze", include_in_schema=False)
async def reanalyze_conversation(
    request: Request, conversation_id: uuid.UUID, who: Changing
) -> Response:
    """The read API's re-analysis (managers and admins); the new version appears on the
    page when the analyzer has written it, the earlier one stays listed."""
    await reanalyze(request, conversation_id, who.principal)
    return secured(
        RedirectResponse(
            f"/console/conversations/{conversation_id}?notice=reanalysis-queued", status_code=303
        )
    )


@conversation_router.get("/upload", include_in_schema=False)
async def upload_page(request: Request, who: SignedIn) -> Response:
    return render(request, "upload.html", who, title="Upload a call", active="upload")


@conversation_router.post("/upload", include_in_schema=False)
async def upload(
    request: Request,
    who: Changing,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Response:
    """The API's upload, streamed the same way (the page sends the CSRF token as a header
    so the body is never read before the upload code streams it)."""
    return await upload_conversation(request, who.principal, idempotency_key)
