"""The organisation's tracker definitions as the analyzer sees them: a copy in memory,
re-read from PostgreSQL every ``refresh_seconds`` by a background task, so that analysing
a call (in a worker thread) never waits on the database and a changed tracker applies to
the calls analysed from the next refresh on."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common.contracts import TrackerDefinition
from callstream_common.db.trackers import list_trackers

log = logging.getLogger(__name__)


class TrackerCache:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], refresh_seconds: float = 30.0
    ) -> None:
        self._sessions = sessions
        self.refresh_seconds = refresh_seconds
        self._trackers: tuple[TrackerDefinition, ...] = ()
        self._task: asyncio.Task[None] | None = None

    def current(self) -> tuple[TrackerDefinition, ...]:
        return self._trackers

    async def refresh(self) -> None:
        async with self._sessions() as session:
            self._trackers = tuple(await list_trackers(session))

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a database blip must not stop the refreshing
                log.warning("tracker refresh failed; keeping %d trackers", len(self._trackers))
            await asyncio.sleep(self.refresh_seconds)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="tracker-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
