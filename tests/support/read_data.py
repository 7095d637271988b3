"""Small read-side data sets for integration tests, written with the bench's COPY seeder
(every call completed, so each has a transcript and an analysis)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any

import httpx

from bench.read_seed import Seeded, SeedPlan, seed


async def seed_completed_calls(
    endpoints: Any,
    reps: Sequence[tuple[str, str | None]],
    conversations: int,
    days: int = 20,
    tracker: str | None = None,
) -> Seeded:
    """``conversations`` completed calls over ``reps`` and six deals in the last ``days``,
    their titles prefixed uniquely so that runs on a kept stack do not mix."""
    dsn = endpoints.database_url.get_secret_value().replace("+asyncpg", "")
    return await seed(
        dsn,
        SeedPlan(
            reps=list(reps),
            opportunities=6,
            conversations=conversations,
            days=days,
            prefix=f"t{uuid.uuid4().hex[:6]} ",
            completed_share=1.0,
            tracker=tracker,
        ),
    )


def assert_one_computation_per_burst(
    base_url: str, admin_token: str, bursts: Iterable[Callable[[], Coroutine[Any, Any, list[int]]]]
) -> None:
    """Each burst sends concurrent misses of one fresh key; one of them must compute it
    once. A burst during which the pipeline invalidated something legitimately computes
    again under the new versions, so the next burst (a fresh key) is tried instead."""

    def counters() -> tuple[int, int]:
        summary = httpx.get(
            f"{base_url}/v1/ops/cache",
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=30,
        ).json()
        return summary["computed"], sum(summary["invalidations"].values())

    computations = []
    for burst in bursts:
        computed, invalidated = counters()
        statuses = asyncio.run(burst())
        assert statuses == [200] * len(statuses)
        computed_after, invalidated_after = counters()
        if invalidated_after == invalidated:
            assert computed_after - computed == 1, "concurrent misses, one computation"
            return
        computations.append(computed_after - computed)
    raise AssertionError(f"every burst overlapped an invalidation: computations {computations}")


def wait_until_listening(base_url: str, token: str, expected: bool, seconds: float = 10) -> None:
    """Poll ``/v1/ops/cache`` until ingest reports that it hears the read cache's bumps
    (``expected``) or not: only while it does are answers kept in its memory."""
    deadline = time.monotonic() + seconds
    while True:
        answer = httpx.get(
            f"{base_url}/v1/ops/cache", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        if answer.json()["local"]["listening"] is expected:
            return
        assert time.monotonic() < deadline, f"ingest's listening never became {expected}"
        time.sleep(0.05)
