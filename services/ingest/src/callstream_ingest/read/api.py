"""Read routes of conversations: the list, the detail, the recording (HTTP Range), the
analysis versions, and re-analysis. Cached per scope; see :mod:`callstream_ingest.cache`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from callstream_common import outbox, topics
from callstream_common.contracts import ReanalysisRequested
from callstream_common.db.models import Role
from callstream_common.reads import conversations as q
from callstream_common.reads.filters import ConversationQuery, CursorError
from callstream_common.reads.scope import Scope
from callstream_ingest.auth import Principal
from callstream_ingest.cache import lists
from callstream_ingest.cache.policy import CacheRequest, Entry, conversation_scope, page_scopes
from callstream_ingest.cache.store import Outcome
from callstream_ingest.dependencies import principal, state
from callstream_ingest.errors import ApiError
from callstream_ingest.read.common import (
    JSON,
    answer,
    cached,
    composed_outcome,
    decode_outcome,
    encode_outcome,
    guarded,
    invalid,
    model_body,
    model_body_json,
    not_found,
    read_cache,
    scope_of,
)
from callstream_ingest.read.ranges import UnsatisfiableRange, parse_range
from callstream_ingest.read.scope_checks import checked_query

read_router = APIRouter(tags=["conversations"])
AUDIO_CHUNK = 256 * 1024

Caller = Annotated[Principal, Depends(principal)]


class ConversationDetailView(q.ConversationDetail):
    trace_url: str | None
    audio_url: str


@read_router.get(
    "/v1/conversations",
    response_model=q.ConversationPage,
    responses={422: {"description": "a filter, the cursor or the limit is not valid"}},
)
async def list_conversations(
    request: Request, who: Caller, query: Annotated[ConversationQuery, Query()]
) -> Response:
    """Newest first (or best score first), filtered, one keyset page at a time: follow
    ``next_cursor`` with the same filters for the next page."""
    scope = scope_of(who)
    query = query.within(scope)
    computed: list[q.ConversationPage] = []

    async def read_page() -> q.ConversationPage:
        async with state(request).sessions() as session:
            resolved = await checked_query(session, scope, query)
            try:
                return await q.list_conversations(session, scope, resolved)
            except CursorError as exc:
                raise invalid("query.cursor", str(exc)) from exc

    async def compute_page() -> bytes:
        page = await read_page()
        computed.append(page)
        return encode_outcome(200, lists.ids_of(page))

    async def load_items(ids: list[str]) -> dict[str, bytes]:
        async with state(request).sessions() as session:
            found = await q.conversation_items(session, scope, [uuid.UUID(i) for i in ids])
        return {str(item.id): lists.item_body(item) for item in found}

    cache = read_cache(request)
    page_request = CacheRequest(
        Entry.CONVERSATIONS, scope, tuple(page_scopes(scope, query)), query.model_dump(mode="json")
    )

    async def refresh_page() -> bytes:
        """The page and its items, so that its next reader is answered from the cache
        alone (a new call's item would otherwise be read by that reader)."""
        page = await read_page()
        await cache.items([str(i.id) for i in page.items], load_items, counted=False)
        return encode_outcome(200, lists.ids_of(page))

    since = cache.local.generation
    kept = cache.local_answer(page_request, guarded(refresh_page))
    if kept is not None:
        return answer(200, kept, Outcome.HIT)
    page = await cache.get_or_compute(
        page_request, guarded(compute_page), refresh=guarded(refresh_page), with_items=True
    )
    status, body = decode_outcome(page.body)
    if status != 200:
        return answer(status, body, page.outcome)
    if computed and page.outcome in (Outcome.BYPASS, Outcome.ERROR):
        return answer(200, model_body_json(computed[0]), page.outcome)
    # Even a page just computed takes its items through the item cache: they can only be
    # stored with versions read before they were read, which the page query could not do.
    ids = lists.read_ids(body)
    items, items_outcome = await cache.items(ids.ids, load_items, prefetched=page.items)
    composed = lists.compose(ids, items)
    if page.outcome in (Outcome.HIT, Outcome.MISS) and items_outcome == Outcome.HIT:
        cache.keep_locally(page_request, composed, since, map(conversation_scope, ids.ids))
    return answer(200, composed, composed_outcome(page.outcome, items_outcome))


def detail_view(request: Request, detail: q.ConversationDetail) -> ConversationDetailView:
    settings = state(request).settings
    trace_url = (
        f"{settings.tracing_ui_url.rstrip('/')}/traces/{detail.trace_id}"
        if detail.trace_id
        else None
    )
    return ConversationDetailView(
        **detail.model_dump(),
        trace_url=trace_url,
        audio_url=f"/v1/conversations/{detail.id}/audio",
    )


@read_router.get(
    "/v1/conversations/{conversation_id}",
    name="get_conversation",
    response_model=ConversationDetailView,
)
async def get_conversation(request: Request, conversation_id: uuid.UUID, who: Caller) -> Response:
    """Status, transcript, the latest analysis with the list of its versions, timings, the
    trace and the recording's URL (relative, streamable with Range)."""
    scope = scope_of(who)

    async def compute() -> bytes:
        async with state(request).sessions() as session:
            detail = await q.conversation_detail(session, scope, conversation_id)
        if detail is None:
            raise not_found(f"conversation {conversation_id}")
        return model_body(detail_view(request, detail))

    return await cached(
        request,
        CacheRequest(Entry.CONVERSATION, scope, (conversation_scope(conversation_id),), None),
        compute,
    )


@read_router.get("/v1/conversations/{conversation_id}/analyses/{version}")
async def get_analysis_version(
    request: Request, conversation_id: uuid.UUID, version: int, who: Caller
) -> dict[str, Any]:
    """One analysis version in full: the current one or one a re-analysis superseded."""
    async with state(request).sessions() as session:
        found = await q.analysis_version(session, scope_of(who), conversation_id, version)
    if found is None:
        raise not_found(f"analysis version {version} of conversation {conversation_id}")
    return found


@read_router.get(
    "/v1/conversations/{conversation_id}/audio",
    responses={
        200: {"content": {"audio/*": {}}, "description": "the whole recording"},
        206: {"description": "the requested byte range"},
        416: {"description": "the range lies outside the recording"},
    },
)
async def get_audio(request: Request, conversation_id: uuid.UUID, who: Caller) -> Response:
    """The recording streamed from the object store; ``Range: bytes=…`` answers 206 with
    just those bytes (seeking in a player)."""
    st = state(request)
    async with st.sessions() as session:
        audio = await q.audio_object(session, scope_of(who), conversation_id)
    if audio is None:
        raise not_found(f"conversation {conversation_id}")
    try:
        wanted = parse_range(request.headers.get("range"), audio.size_bytes)
    except UnsatisfiableRange as exc:
        return Response(
            status_code=416,
            headers={"Content-Range": f"bytes */{audio.size_bytes}"},
            content=f'{{"error": {{"code": "range_not_satisfiable", "message": "{exc}"}}}}',
            media_type=JSON,
        )
    offset, length = (wanted.start, wanted.length) if wanted else (0, audio.size_bytes)
    obj = await asyncio.to_thread(st.store.open_range, audio.object_key, offset, length)

    async def body() -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(obj.read, AUDIO_CHUNK):
                yield chunk
        finally:
            obj.close()
            obj.release_conn()

    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(length),
        "Cache-Control": "private, max-age=3600",
    }
    if wanted is not None:
        headers["Content-Range"] = wanted.content_range(audio.size_bytes)
    return StreamingResponse(
        body(),
        status_code=206 if wanted else 200,
        media_type=audio.content_type,
        headers=headers,
    )


class ReanalysisAccepted(BaseModel):
    conversation_id: uuid.UUID
    request_id: uuid.UUID
    status: str
    current_version: int | None


@read_router.post(
    "/v1/conversations/{conversation_id}/reanalyze", status_code=202, tags=["conversations"]
)
async def reanalyze(
    request: Request, conversation_id: uuid.UUID, who: Caller
) -> ReanalysisAccepted:
    """Re-run the analysis from the stored transcript (manager or admin). The result is a
    new analysis version; the earlier ones stay readable."""
    if who.role not in (Role.MANAGER, Role.ADMIN):
        raise ApiError(403, "forbidden", "re-analysis needs the role manager or admin")
    st = state(request)
    scope: Scope = scope_of(who)
    event_id = uuid.uuid4()
    async with st.sessions() as session, session.begin():
        detail = await q.conversation_detail(session, scope, conversation_id)
        if detail is None:
            raise not_found(f"conversation {conversation_id}")
        if detail.transcript is None:
            raise ApiError(
                409, "no_transcript", "the call has no transcript yet: nothing to re-analyse"
            )
        event = ReanalysisRequested(
            event_id=event_id, conversation_id=conversation_id, requested_by=who.name
        )
        staged = outbox.stage_event(
            session,
            topics.ANALYSIS_REQUESTED,
            event.model_dump(mode="json"),
            key=str(conversation_id).encode(),
        )
    await outbox.publish_staged(
        st.sessions, st.broker, staged, st.settings.kafka_publish_timeout_seconds
    )
    current = detail.analysis_versions[-1].version if detail.analysis_versions else None
    return ReanalysisAccepted(
        conversation_id=conversation_id,
        request_id=event_id,
        status="queued",
        current_version=current,
    )
