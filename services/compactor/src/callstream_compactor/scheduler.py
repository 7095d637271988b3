"""The scheduled compaction: when it fires (pure, injectable clock) and the loop.

Every firing publishes ``CompactionRequested(trigger=schedule)`` for at most N datasets
needing compaction, those waiting longest first. With several compactor replicas each
computes the same slot; the slot is claimed in Postgres so only one of them publishes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import croniter

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def utc_clock() -> datetime:
    return datetime.now(UTC)


def next_fire(cron: str, after: datetime) -> datetime:
    """The first firing strictly after ``after``, in UTC."""
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    nxt = croniter(cron, after.astimezone(UTC)).get_next(datetime)
    assert isinstance(nxt, datetime)
    return nxt.astimezone(UTC)


@dataclass(frozen=True)
class DatasetDue:
    name: str
    compaction_needed: bool
    needed_since: datetime | None
    last_compacted_at: datetime | None


def pick_datasets(candidates: Sequence[DatasetDue], limit: int) -> list[str]:
    """At most ``limit`` datasets needing compaction, oldest first: those waiting since
    longest, then those compacted longest ago (never compacted first)."""
    far = datetime.max.replace(tzinfo=UTC)
    never = datetime.min.replace(tzinfo=UTC)
    due = [c for c in candidates if c.compaction_needed]
    due.sort(key=lambda c: (c.needed_since or far, c.last_compacted_at or never, c.name))
    return [c.name for c in due[: max(0, limit)]]


@dataclass
class Scheduler:
    """Sleeps until each firing of ``cron`` and runs ``tick(slot)``.

    A tick that fails is logged and the next slot still fires. If the clock jumps past
    several slots (machine asleep), only the latest missed slot runs, once.
    """

    cron: str
    tick: Callable[[datetime], Awaitable[object]]
    clock: Clock = utc_clock
    sleep: Sleep = asyncio.sleep
    max_sleep_seconds: float = 300.0
    """Wake up at least this often, so a clock change is noticed in time."""

    async def run_once(self, after: datetime) -> datetime:
        """Wait for the first slot after ``after``, fire it and return it."""
        slot = next_fire(self.cron, after)
        while True:
            now = self.clock()
            if now >= slot:
                break
            await self.sleep(min(self.max_sleep_seconds, (slot - now).total_seconds()))
        latest = slot
        while (following := next_fire(self.cron, latest)) <= self.clock():
            latest = following
        try:
            await self.tick(latest)
        except Exception:
            log.exception("scheduled compaction at %s failed", latest.isoformat())
        return latest

    async def run_forever(self) -> None:
        after = self.clock()
        while True:
            after = await self.run_once(after)
