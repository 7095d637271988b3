"""What invalidates the read cache: the pipeline's changes, as soon as they are committed.

Two feeds, both only ever bump versions (idempotent, so seeing a change twice costs one
extra miss and nothing else), each naming the facets that changed (membership, status,
results: see :mod:`callstream_ingest.cache.policy`):

* the pipeline's events, consumed by ingest in its own consumer group (``ingest-cache``):
  a new upload (membership), a stored transcript or analysis (results: the call's status
  moved when the stage claimed it, a change of its own), a dead letter (status);
* PostgreSQL's notification at commit of every change of a conversation a read shows
  (triggers, ``callstream_conversation_changed``): an insert or delete, a reassignment
  (membership, in the old scopes too), a status change, an analysis summary or a stored
  transcript (results). It also covers the transitions no event announces: processing,
  completed (written by the notifier after delivery), failed (written after the dead
  letter), a replay's reopening and a re-analysis. If the listening connection is lost,
  the cache moves to a new epoch on reconnection, so changes missed meanwhile cannot
  leave stale entries behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import asyncpg
from aiokafka import ConsumerRecord
from faststream.kafka.fastapi import KafkaMessage, KafkaRouter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common import topics
from callstream_ingest.cache.policy import ALL_FACETS, Facet, changed_scopes
from callstream_ingest.cache.store import ReadCache

log = logging.getLogger(__name__)

CHANNEL = "callstream_conversation_changed"
CONSUMER_GROUP = "ingest-cache"
EVENT_FACETS = {
    **dict.fromkeys(topics.input_topics(topics.CALLS_UPLOADED), frozenset({Facet.MEMBERSHIP})),
    **dict.fromkeys(topics.input_topics(topics.CALLS_TRANSCRIBED), frozenset({Facet.RESULTS})),
    **dict.fromkeys(topics.input_topics(topics.CALLS_ANALYZED), frozenset({Facet.RESULTS})),
    topics.DLQ: frozenset({Facet.STATUS}),
}
"""What each event tells has changed about its call: exactly what the change notification
of the statement that stored it names, so that an event whose notification came first is
recognised as covered (:meth:`RecentCommits.covers`) and costs neither a scope lookup nor
a second bump of versions that its notification has bumped already."""
EVENT_TOPICS = tuple(EVENT_FACETS)


@dataclass
class RecentCommits:
    """When each facet of each recently changed conversation was last invalidated from a
    commit notification, so an event announcing a change the commit feed has already
    invalidated does not bump the same versions again (each bump of a scope's facet
    drops every entry that reads it: a second one for the same change is a wasted miss
    for everyone in that scope). Bounded: the oldest conversations are forgotten, which
    only means an extra bump."""

    max_entries: int = 10_000
    _seen: OrderedDict[str, dict[Facet, float]] = field(default_factory=OrderedDict)

    def saw(self, conversation_id: str, facets: frozenset[Facet], at: float | None) -> None:
        if at is None:
            return
        entry = self._seen.setdefault(conversation_id, {})
        for f in facets:
            entry[f] = max(at, entry.get(f, at))
        self._seen.move_to_end(conversation_id)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)

    def covers(
        self, conversation_id: str, facets: frozenset[Facet], occurred_at: float | None
    ) -> bool:
        """True if every facet was invalidated by a commit at or after ``occurred_at``
        (the event is published only after its change was committed)."""
        entry = self._seen.get(conversation_id)
        if entry is None or occurred_at is None:
            return False
        return all(entry.get(f, float("-inf")) >= occurred_at for f in facets)


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
    sessions: async_sessionmaker[AsyncSession],
    conversation_id: uuid.UUID,
    facets: frozenset[Facet] = ALL_FACETS,
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
        return changed_scopes(conversation_id, None, None, None, facets)
    return changed_scopes(conversation_id, row[0], row[1], row[2], facets)


EVENT_BATCH_WAIT_MS = 100
"""How long the broker may hold ingest's fetch of events to gather more (it answers at
once when a megabyte is waiting): the commit feed has invalidated nearly every change
before its event arrives, so the events are taken in batches, a few times a second,
instead of one wake-up of ingest per event at the moment the next stage starts."""


def subscribe_events(
    kafka: KafkaRouter,
    cache: ReadCache,
    sessions: async_sessionmaker[AsyncSession],
    commits: RecentCommits,
) -> None:
    @kafka.subscriber(
        *EVENT_TOPICS,
        group_id=CONSUMER_GROUP,
        auto_offset_reset="latest",
        batch=True,
        max_records=500,
        fetch_min_bytes=1024 * 1024,
        fetch_max_wait_ms=EVENT_BATCH_WAIT_MS,
        decoder=raw_batch_decoder,
        include_in_schema=False,
    )
    async def on_pipeline_events(bodies: list[bytes], message: KafkaMessage) -> None:
        records = cast("tuple[ConsumerRecord[bytes, bytes], ...]", message.raw_message)
        for body, record in zip(bodies, records, strict=True):
            await invalidate_for_event(body, record.topic, cache, sessions, commits)


async def invalidate_for_event(
    body: bytes,
    topic: str,
    cache: ReadCache,
    sessions: async_sessionmaker[AsyncSession],
    commits: RecentCommits,
) -> None:
    """Bump what one pipeline event says has changed, unless the commit feed already did."""
    found = event_conversation(body)
    if found is None:
        return
    conversation_id, at = found
    facets = EVENT_FACETS.get(topic, ALL_FACETS)
    if commits.covers(str(conversation_id), facets, at):
        cache.stats.record_invalidation("event:covered", None)
        return
    try:
        scopes = await scopes_of(sessions, conversation_id, facets)
    except Exception as exc:
        # Which scopes the call belongs to is unknown (PostgreSQL unreachable): drop
        # everything by moving to a new epoch rather than leave one stale answer.
        log.warning("read cache: scope lookup failed (%s); new epoch", type(exc).__name__)
        await cache.start()
        return
    await cache.invalidate(scopes, "event", None if at is None else time.time() - at)


async def raw_batch_decoder(msg: Any) -> list[bytes]:
    """The records' raw values: each is decoded (or skipped, when it is not an event)
    by :func:`event_conversation`, never by the framework."""
    return [bytes(body) for body in msg.body]


@dataclass(frozen=True)
class Committed:
    """A committed change as its notification tells it."""

    conversation_id: str
    facets: frozenset[Facet]
    scopes: list[str]
    at: float | None


def notification_scopes(payload: str) -> Committed | None:
    """The versions a committed change bumps: the facets the trigger saw change, in the
    call's scopes and, when it moved (reassigned, deleted), in the scopes it left. A
    payload without facets (an older trigger) bumps every facet."""
    try:
        data = json.loads(payload)
        conversation_id = uuid.UUID(str(data["id"]))
    except (ValueError, KeyError, TypeError):
        return None
    named = data.get("facets")
    try:
        facets = ALL_FACETS if named is None else frozenset(Facet(f) for f in named)
    except ValueError:
        facets = ALL_FACETS
    scopes = changed_scopes(
        conversation_id, data.get("rep_id"), data.get("team_id"), data.get("opportunity_id"), facets
    )
    if Facet.MEMBERSHIP in facets:
        left = changed_scopes(
            conversation_id,
            data.get("old_rep_id"),
            data.get("old_team_id"),
            data.get("old_opportunity_id"),
            frozenset({Facet.MEMBERSHIP}),
        )
        scopes += [s for s in left if s not in scopes]
    at = data.get("at")
    return Committed(
        str(conversation_id), facets, scopes, float(at) if isinstance(at, int | float) else None
    )


async def listen_for_changes(
    dsn: str, cache: ReadCache, commits: RecentCommits, retry_seconds: float = 1.0
) -> None:
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
                    lag = None if found.at is None else time.time() - found.at
                    commits.saw(found.conversation_id, found.facets, found.at)
                    asyncio.get_running_loop().create_task(
                        cache.invalidate(found.scopes, "commit", lag)
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
