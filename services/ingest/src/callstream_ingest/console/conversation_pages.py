"""One conversation (scorecard, transcript, audio, timeline), its live status badge, its
recording, and the upload page that leads to it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from callstream_common.db.models import Conversation
from callstream_ingest.auth import can_see
from callstream_ingest.console import queries
from callstream_ingest.console.charts import MEDDIC_ORDER, radar
from callstream_ingest.console.recording import stream_recording
from callstream_ingest.console.timeline import DeadLetterVisit, build_timeline
from callstream_ingest.console.web import (
    Changing,
    PageNotFound,
    SignedIn,
    ingest_state,
    render,
)
from callstream_ingest.errors import ApiError
from callstream_ingest.read.api import ConversationView, get_conversation
from callstream_ingest.upload.api import upload_conversation

conversation_router = APIRouter(prefix="/console")

FINAL_STATUSES = ("completed", "failed")


async def visible_conversation(
    request: Request, conversation_id: uuid.UUID, who: SignedIn
) -> ConversationView:
    """The API's own read, so the console can never show more than the API would."""
    try:
        return await get_conversation(request, conversation_id, who.principal)
    except ApiError as exc:
        if exc.status == 404:
            raise PageNotFound from exc
        raise


@conversation_router.get("/conversations/{conversation_id}", include_in_schema=False)
async def conversation_page(
    request: Request, conversation_id: uuid.UUID, who: SignedIn
) -> Response:
    conv = await visible_conversation(request, conversation_id, who)
    async with ingest_state(request).sessions() as session:
        dead = await queries.dead_letters_of(session, conversation_id)
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
        versions=[],
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
    range_header: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    st = ingest_state(request)
    async with st.sessions() as session:
        conv = await session.get(Conversation, conversation_id)
        if conv is None or not await can_see(session, who.principal, conv):
            raise PageNotFound
    return stream_recording(
        st.store, conv.object_key, conv.size_bytes, conv.content_type, range_header
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
