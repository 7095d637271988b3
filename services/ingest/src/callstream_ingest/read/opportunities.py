"""Read routes of opportunities: the list and the deal with its MEDDIC picture."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from callstream_common.reads import opportunities as q
from callstream_common.reads.filters import MAX_LIMIT, CursorError
from callstream_ingest.auth import Principal
from callstream_ingest.cache.policy import (
    CacheRequest,
    Entry,
    faceted,
    list_scopes,
    opportunity_scope,
)
from callstream_ingest.dependencies import principal, state
from callstream_ingest.read.common import cached, invalid, model_body, not_found, scope_of
from callstream_ingest.read.scope_checks import check_rep

opportunities_router = APIRouter(tags=["opportunities"])
Caller = Annotated[Principal, Depends(principal)]


@opportunities_router.get("/v1/opportunities", response_model=q.OpportunityPage)
async def list_opportunities(
    request: Request,
    who: Caller,
    rep_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 25,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """Deals in the caller's scope, most recently active first, with their number of calls
    and latest score."""
    scope = scope_of(who)

    async def compute() -> bytes:
        async with state(request).sessions() as session:
            if rep_id is not None:
                await check_rep(session, scope, rep_id)
            try:
                page = await q.list_opportunities(session, scope, rep_id, limit, cursor)
            except CursorError as exc:
                raise invalid("query.cursor", str(exc)) from exc
        return model_body(page)

    return await cached(
        request,
        CacheRequest(
            Entry.OPPORTUNITIES,
            scope,
            tuple(list_scopes(scope, rep_id=rep_id)),
            {"rep_id": rep_id, "limit": limit, "cursor": cursor},
        ),
        compute,
    )


@opportunities_router.get("/v1/opportunities/{opportunity_id}", response_model=q.OpportunityDetail)
async def get_opportunity(request: Request, opportunity_id: uuid.UUID, who: Caller) -> Response:
    """The deal's calls in order and its MEDDIC picture across them: best and latest score
    per dimension with evidence and source call, open gaps, score trend, open risks and
    next steps, and deal warnings."""
    scope = scope_of(who)

    async def compute() -> bytes:
        async with state(request).sessions() as session:
            detail = await q.opportunity_detail(session, scope, opportunity_id)
        if detail is None:
            raise not_found(f"opportunity {opportunity_id}")
        return model_body(detail)

    return await cached(
        request,
        CacheRequest(Entry.OPPORTUNITY, scope, tuple(faceted([opportunity_scope(opportunity_id)]))),
        compute,
    )
