"""What every read endpoint shares: the caller's scope, the cache around a computation,
and turning a pydantic validation failure into a 422 that names the field."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError

from callstream_common.reads.scope import Scope
from callstream_ingest.auth import Principal
from callstream_ingest.cache.policy import CacheRequest
from callstream_ingest.cache.store import Outcome, ReadCache
from callstream_ingest.errors import ApiError, error_body

JSON = "application/json"
CACHE_HEADER = "X-Cache"
"""hit, miss, bypass or error: how the read cache answered (for clients and load tests;
it tells only what the caller's own scope already asked)."""


def scope_of(who: Principal) -> Scope:
    return Scope.of(who.role.value, who.rep_id, who.team_id)


def read_cache(request: Request) -> ReadCache:
    cache: ReadCache = request.app.state.read_cache
    return cache


def invalid(field: str, message: str) -> ApiError:
    return ApiError(
        422,
        "invalid_request",
        f"{field}: {message}",
        {"problems": [{"field": field, "message": message}]},
    )


def validation_error(exc: ValidationError, where: str = "query") -> ApiError:
    problems = [
        {"field": ".".join([where, *(str(p) for p in e["loc"])]), "message": e["msg"]}
        for e in exc.errors()
    ]
    fields = ", ".join(p["field"] for p in problems)
    return ApiError(422, "invalid_request", f"invalid parameters: {fields}", {"problems": problems})


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def encode_outcome(status: int, body: bytes) -> bytes:
    return str(status).encode() + b"\n" + body


def decode_outcome(raw: bytes) -> tuple[int, bytes]:
    status, _, body = raw.partition(b"\n")
    return int(status), body


def model_body_json(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


def model_body(model: BaseModel) -> bytes:
    return encode_outcome(200, model_body_json(model))


def error_outcome(exc: ApiError) -> bytes:
    return encode_outcome(
        exc.status, json.dumps(error_body(exc.code, exc.message, exc.details)).encode()
    )


def guarded(compute: Callable[[], Awaitable[bytes]]) -> Callable[[], Awaitable[bytes]]:
    """``compute`` with its 404 and 422 answers turned into outcomes, so they are cached
    like any other answer: a probe for someone else's data costs no database round trip
    either."""

    async def guarded_compute() -> bytes:
        try:
            return await compute()
        except ApiError as exc:
            if exc.status in (404, 422):
                return error_outcome(exc)
            raise

    return guarded_compute


def answer(status: int, body: bytes, outcome: Outcome) -> Response:
    """The response as it is: bytes from the cache (or just computed) are not parsed or
    validated again."""
    return Response(
        content=body, status_code=status, media_type=JSON, headers={CACHE_HEADER: outcome.value}
    )


def composed_outcome(page: Outcome, items: Outcome) -> Outcome:
    """How a composed list was answered: a hit only if the page and every item came from
    the cache, partial if the page did but some items were read from PostgreSQL, and
    bypass or error if Redis was skipped or failed for the items."""
    if items in (Outcome.BYPASS, Outcome.ERROR):
        return items
    if page == Outcome.HIT:
        return Outcome.HIT if items == Outcome.HIT else Outcome.PARTIAL
    return page


async def cached(
    request: Request, cache_request: CacheRequest, compute: Callable[[], Awaitable[bytes]]
) -> Response:
    """The answer of ``compute`` (an encoded outcome) through the read cache."""
    lookup = await read_cache(request).get_or_compute(cache_request, guarded(compute))
    status, body = decode_outcome(lookup.body)
    return answer(status, body, lookup.outcome)
