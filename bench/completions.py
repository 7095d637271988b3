"""When a benchmark's calls finish, learned from PostgreSQL rather than from the API.

Asking ``GET /v1/conversations/{id}`` for every call until it is done makes ingest serve
HTTP for the benchmark: with instant models that polling was 41 % of ingest's CPU, taken
from the pipeline being measured. Instead the benchmark LISTENs on the channel the
database's trigger notifies at every status change (``callstream_conversation_changed``,
migration ``0005_read_side``), and reads the finished calls' rows (status, completion
time, per-stage timings) in one query per round, straight from PostgreSQL. No service
process does any work for it; a missed notification (the listening connection dropped)
is covered by reading the pending calls' rows every few seconds anyway.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg

CHANNEL = "callstream_conversation_changed"
TERMINAL = ("completed", "failed")
FALLBACK_SECONDS = 5.0
"""Pending calls' rows are read at least this often, notification or not."""
ROWS = (
    "SELECT id, status, completed_at, timings FROM conversations "
    "WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[])"
)


class Watched(Protocol):
    """A benchmark call: its id once accepted, its status, its row once finished."""

    id: str | None
    status: str
    view: dict[str, Any] | None


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy's) → ``postgresql://…`` (asyncpg's)."""
    scheme, sep, rest = sqlalchemy_url.partition("://")
    return scheme.split("+", 1)[0] + sep + rest


def view_of(row: Any) -> dict[str, Any]:
    """The fields of the API's conversation view a benchmark reads, from the row."""
    timings = row["timings"]
    if isinstance(timings, str):
        timings = json.loads(timings)
    completed = row["completed_at"]
    return {
        "status": row["status"],
        "timings": timings or {},
        "completed_at": completed.isoformat() if completed is not None else None,
    }


class CompletionWatcher:
    """Started before the first upload (a call may finish before its 202 is read)."""

    def __init__(self, database_url: str) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._conn: asyncpg.Connection | None = None
        self._finished: set[str] = set()
        self._signal = asyncio.Event()
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        async with self._starting:
            if self._conn is None:
                self._conn = await asyncpg.connect(self._dsn)
                await self._conn.add_listener(CHANNEL, self._on_change)

    def _on_change(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            change = json.loads(payload)
        except ValueError:
            return
        if change.get("status") in TERMINAL:
            self._finished.add(str(change.get("id")))
            self._signal.set()

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def wait(self, calls: Sequence[Watched], deadline: float) -> None:
        """Until every accepted call is completed or failed (its ``view`` filled from its
        row) or the deadline passes."""
        await self.start()
        last_read = 0.0
        while time.monotonic() < deadline:
            pending = {c.id: c for c in calls if c.id is not None and c.status not in TERMINAL}
            if not pending:
                return
            due = time.monotonic() - last_read >= FALLBACK_SECONDS
            wanted = list(pending) if due else [i for i in pending if i in self._finished]
            if wanted:
                last_read = time.monotonic() if due else last_read
                self._finished.difference_update(wanted)
                for row in await self._rows(wanted):
                    call = pending[str(row["id"])]
                    call.view = view_of(row)
                    call.status = row["status"]
                continue
            self._signal.clear()
            try:
                await asyncio.wait_for(self._signal.wait(), 0.25)
            except TimeoutError:
                pass

    async def _rows(self, ids: list[str]) -> list[Any]:
        assert self._conn is not None, "start() first"
        rows: list[Any] = await self._conn.fetch(ROWS, [uuid.UUID(i) for i in ids], list(TERMINAL))
        return rows
