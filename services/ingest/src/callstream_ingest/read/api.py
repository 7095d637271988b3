"""The read surface: one conversation's status, transcript and scorecard, scoped by role."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from callstream_ingest.auth import Principal
from callstream_ingest.dependencies import principal, state
from callstream_ingest.errors import ApiError
from callstream_ingest.read.views import ConversationView, conversation_view

read_router = APIRouter()


@read_router.get("/v1/conversations/{conversation_id}", name="get_conversation")
async def get_conversation(
    request: Request,
    conversation_id: uuid.UUID,
    who: Annotated[Principal, Depends(principal)],
) -> ConversationView:
    st = state(request)
    view = await conversation_view(st.sessions, conversation_id, who, st.settings.tracing_ui_url)
    if view is None:
        raise ApiError(404, "not_found", f"conversation {conversation_id} not found")
    return view
