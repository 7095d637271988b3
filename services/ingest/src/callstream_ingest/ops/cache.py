"""The read cache seen by operators: hit rate and latency per layer, the breaker, and a
switch to serve reads uncached (e.g. to measure the baseline)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from callstream_common.db.models import Role
from callstream_ingest.auth import Principal
from callstream_ingest.dependencies import principal
from callstream_ingest.ops.api import require
from callstream_ingest.read.common import read_cache

cache_router = APIRouter(prefix="/v1/ops", tags=["ops"])


@cache_router.get("/cache")
async def cache_status(
    request: Request, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    """Hits, misses, hit rate and latency (p50/p95/p99) per layer (details, lists,
    aggregates), invalidations by source and their lag, breaker state (manager/admin)."""
    require(who, Role.MANAGER, Role.ADMIN)
    return read_cache(request).summary()


class CacheSwitch(BaseModel):
    enabled: bool
    reset_stats: bool = False


@cache_router.put("/cache")
async def switch_cache(
    request: Request, switch: CacheSwitch, who: Annotated[Principal, Depends(principal)]
) -> dict[str, Any]:
    """Turn the read cache on or off (admin); turning it on starts a new epoch, so nothing
    cached before the switch is served."""
    require(who, Role.ADMIN)
    cache = read_cache(request)
    if switch.enabled and not cache.enabled:
        await cache.start()
    cache.enabled = switch.enabled
    if switch.reset_stats:
        cache.stats.reset()
    return cache.summary()
