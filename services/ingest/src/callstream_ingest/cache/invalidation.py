"""What invalidates the read cache: the pipeline's changes, as soon as they are committed.

Two feeds, both only ever bump versions (idempotent, so seeing a change twice costs one
extra miss and nothing else):

* the pipeline's events, consumed by ingest in its own consumer group (``ingest-cache``):
  a new upload, a stored transcript, a stored analysis, a dead letter;
* PostgreSQL's notification at commit of every status or analysis change of a
  conversation (a trigger, ``callstream_conversation_changed``), which also covers the
  transitions no event announces: processing, completed (written by the notifier after
  delivery), failed (written after the dead letter), a replay's reopening and a
  re-analysis. If the listening connection is lost, the cache moves to a new epoch on
  reconnection, so changes missed meanwhile cannot leave stale entries behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime

import asyncpg
from faststream.kafka.fastapi import KafkaRouter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common import topics
from callstream_common.stage import raw_decoder
from callstream_ingest.cache.policy import changed_scopes
from callstream_ingest.cache.store import ReadCache

log = logging.getLogger(__name__)

CHANNEL = "callstream_conversation_changed"
CONSUMER_GROUP = "ingest-cache"
EVENT_TOPICS = (
    *topics.input_topics(topics.CALLS_UPLOADED),
    *topics.input_topics(topics.CALLS_TRANSCRIBED),
    *topics.input_topics(topics.CALLS_ANALYZED),
    topics.DLQ,
)


def event_conversation(body: bytes) -> tuple[uuid.UUID, float | None] | None:
    """The conversation an event is about and when it happened (epoch seconds), if any."""
    try:
        data = json.loads(body)
        conversation_id = uuid.UUID(str(data["conversation_id"]))
    except (ValueError, KeyError, TypeError):
        return None
    occurred = data.get("occurred_at")
    try:
        at = datetime.fromisoformat(occurred).timestamp() if isinstance(occurred, str) else None
    except ValueError:
        at = None
    return conversation_id, at


async def scopes_of(
    sessions: async_sessionmaker[AsyncSession], conversation_id: uuid.UUID
) -> list[str]:
    async with sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT c.rep_id, r.team_id, c.opportunity_id FROM conversations c "
                    "LEFT JOIN reps r ON r.id = c.rep_id WHERE c.id = :id"
                ),
                {"id": conversation_id},
            )
        ).first()
    if row is None:
        return changed_scopes(conversation_id, None, None, None)
    return changed_scopes(conversation_id, row[0], row[1], row[2])


def subscribe_events(
    kafka: KafkaRouter, cache: ReadCache, sessions: async_sessionmaker[AsyncSession]
) -> None:
    @kafka.subscriber(
        *EVENT_TOPICS,
        group_id=CONSUMER_GROUP,
        auto_offset_reset="latest",
        decoder=raw_decoder,
        include_in_schema=False,
    )
    async def on_pipeline_event(body: bytes) -> None:
        found = event_conversation(body)
        if found is None:
            return
        conversation_id, at = found
        try:
            scopes = await scopes_of(sessions, conversation_id)
        except Exception as exc:
            # Which scopes the call belongs to is unknown (PostgreSQL unreachable): drop
            # everything by moving to a new epoch rather than leave one stale answer.
            log.warning("read cache: scope lookup failed (%s); new epoch", type(exc).__name__)
            await cache.start()
            return
        await cache.invalidate(scopes, "event", None if at is None else time.time() - at)


def notification_scopes(payload: str) -> tuple[list[str], float | None] | None:
    try:
        data = json.loads(payload)
        conversation_id = uuid.UUID(str(data["id"]))
    except (ValueError, KeyError, TypeError):
        return None
    at = data.get("at")
    return (
        changed_scopes(
            conversation_id, data.get("rep_id"), data.get("team_id"), data.get("opportunity_id")
        ),
        float(at) if isinstance(at, int | float) else None,
    )


async def listen_for_changes(dsn: str, cache: ReadCache, retry_seconds: float = 1.0) -> None:
    """LISTEN on the change channel for the life of the process, reconnecting forever."""
    first = True
    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
            lost = asyncio.Event()
            conn.add_termination_listener(_setter(lost))

            def on_notify(_c: object, _pid: int, _channel: str, payload: str) -> None:
                found = notification_scopes(payload)
                if found is not None:
                    scopes, at = found
                    asyncio.get_running_loop().create_task(
                        cache.invalidate(scopes, "commit", None if at is None else time.time() - at)
                    )

            await conn.add_listener(CHANNEL, on_notify)
            if not first:
                await cache.start()
            first = False
            while not lost.is_set() and not conn.is_closed():
                try:
                    await asyncio.wait_for(lost.wait(), 5)
                except TimeoutError:
                    await conn.execute("SELECT 1")
        except asyncio.CancelledError:
            if conn is not None and not conn.is_closed():
                await conn.close()
            raise
        except Exception as exc:
            log.warning("read cache: change listener lost (%s); reconnecting", type(exc).__name__)
        first = False
        await asyncio.sleep(retry_seconds)


def _setter(event: asyncio.Event) -> Callable[[object], None]:
    return lambda _conn: event.set()


def asyncpg_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
