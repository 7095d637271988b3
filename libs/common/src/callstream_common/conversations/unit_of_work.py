"""Ports every stage handler and ingest service goes through (cosmicpython's repository
and unit of work): the handler loads, calls the domain, saves and emits — and never
touches SQL or Kafka itself, so it can run against the in-memory fake in a unit test.

One unit of work is one database transaction; the events emitted inside it are published
only after it commits (a redelivery finds the committed effects and re-emits the same
derived event ids, so a crash between the two loses and doubles nothing). A *durable*
event is instead written to the transactional outbox with the rows and published by the
relay if Kafka does not acknowledge right away.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from pydantic import BaseModel

from callstream_common import topics
from callstream_common.contracts import (
    CallAnalyzed,
    CallTranscribed,
    CallUploaded,
    MeddicAnalysis,
    Transcript,
)
from callstream_common.conversations.status import FINISHED, ConversationMissing, StageTiming
from callstream_common.db.models import Conversation, ConversationStatus, DlqEntry
from callstream_common.reads.scope import Scope
from callstream_common.retry import RetryableError

log = logging.getLogger(__name__)


class Conflict(Exception):
    """The commit broke a uniqueness rule (e.g. an ``Idempotency-Key`` used concurrently)."""


class PublishFailed(RetryableError):
    """The transaction committed but Kafka did not take an emitted event: the caller's
    retry finds the committed effects and emits the same event again."""


class ConversationRepository(ABC):
    """A conversation with its transcript and analysis, stored as the pydantic contracts."""

    async def load_for_stage(
        self, conversation_id: uuid.UUID, *, lock: bool = False
    ) -> Conversation | None:
        """The conversation a stage's event is about; ``None`` when it already finished
        (a redelivery or a late duplicate: nothing to do). A missing one is permanent.
        ``lock`` holds its row until the transaction ends, so a decision taken on it (e.g.
        "this was the last chunk") cannot race the same decision in another replica."""
        conversation = await (self.lock(conversation_id) if lock else self.get(conversation_id))
        return for_stage(conversation_id, conversation)

    async def load_with_transcript(
        self, conversation_id: uuid.UUID
    ) -> tuple[Conversation, Transcript | None] | None:
        """:meth:`load_for_stage` and the call's transcript (None before it is stored):
        one read where the store can join them."""
        conversation = await self.load_for_stage(conversation_id)
        if conversation is None:
            return None
        return conversation, await self.transcript(conversation_id)

    async def load_with_analysis(
        self, conversation_id: uuid.UUID
    ) -> tuple[Conversation, MeddicAnalysis | None] | None:
        """:meth:`load_for_stage` and the call's analysis (None before it is stored): one
        read where the store can join them."""
        conversation = await self.load_for_stage(conversation_id)
        if conversation is None:
            return None
        return conversation, await self.analysis(conversation_id)

    @abstractmethod
    async def get(self, conversation_id: uuid.UUID) -> Conversation | None: ...

    @abstractmethod
    async def lock(self, conversation_id: uuid.UUID) -> Conversation | None:
        """Like :meth:`get`, and no other transaction locks the row until this one ends."""

    @abstractmethod
    async def by_idempotency_key(self, key: str) -> Conversation | None: ...

    @abstractmethod
    async def add(self, conversation: Conversation) -> None: ...

    @abstractmethod
    async def join_opportunity(self, conversation: Conversation) -> None:
        """Put a new conversation into its deal in this transaction: the named opportunity
        is touched, or the one of (rep, name, company) found or created."""

    @abstractmethod
    async def move(
        self,
        conversation_id: uuid.UUID,
        target: ConversationStatus,
        *,
        stage: str | None = None,
        reason: str | None = None,
        reopen: bool = False,
        timing: StageTiming | None = None,
        only_from: frozenset[ConversationStatus] | None = None,
    ) -> bool:
        """The only writer of a conversation's status. Moves forward only (see
        :mod:`callstream_common.conversations.status`), or back from ``failed`` when
        ``reopen`` is asked; False when the rule refused the move (or the call is missing).
        ``only_from`` narrows the rule (a claim moves from ``pending`` only). ``timing`` is
        recorded with the move (and only if it is made)."""

    async def reopen(self, conversation_id: uuid.UUID) -> bool:
        """Put a failed call back to ``processing`` (what a DLQ replay asks for, so the
        stage processes the replayed record instead of skipping a finished call); False
        when the call is not ``failed`` (a completed call is never reopened)."""
        return await self.move(conversation_id, ConversationStatus.PROCESSING, reopen=True)

    @abstractmethod
    async def record_timing(
        self,
        conversation_id: uuid.UUID,
        stage: str,
        started: datetime,
        finished: datetime | None = None,
        **extra: Any,
    ) -> None: ...

    @abstractmethod
    async def transcript(self, conversation_id: uuid.UUID) -> Transcript | None: ...

    @abstractmethod
    async def add_transcript(
        self,
        conversation_id: uuid.UUID,
        transcript: Transcript,
        timing: StageTiming | None = None,
    ) -> bool:
        """Store the transcript (and the call's duration, and ``timing``); False, writing
        nothing, if one was already there."""

    @abstractmethod
    async def analysis(self, conversation_id: uuid.UUID) -> MeddicAnalysis | None: ...

    @abstractmethod
    async def add_analysis(
        self,
        conversation_id: uuid.UUID,
        analysis: MeddicAnalysis,
        timing: StageTiming | None = None,
    ) -> bool:
        """Store the analysis and its summary (and ``timing``) on the conversation; False,
        writing nothing, if one was already there."""

    @abstractmethod
    async def add_analysis_version(
        self, conversation_id: uuid.UUID, analysis: MeddicAnalysis, request_id: uuid.UUID
    ) -> bool:
        """Make ``analysis`` the current one (the next version number), keeping the one it
        replaces as a past version; False, writing nothing, when re-analysis request
        ``request_id`` was already applied (its own ledger: a redelivery adds no version)."""


class DeadLetterRepository(ABC):
    """The DLQ entries an operator resolves (the recorder in the notifier writes them)."""

    @abstractmethod
    async def get(self, entry_id: uuid.UUID, scope: Scope | None = None) -> DlqEntry | None:
        """The entry, if it exists and (given a ``scope``) names a call inside it; an entry
        naming no call is inside the whole scope only."""

    @abstractmethod
    async def resolve(self, entry_id: uuid.UUID, status: str) -> bool:
        """Mark an open entry ``replayed`` or ``discarded``; False if it was not open."""

    @abstractmethod
    async def reopen(self, entry_id: uuid.UUID) -> None:
        """Undo a resolution whose replay could not be published."""


def for_stage(conversation_id: uuid.UUID, conversation: Conversation | None) -> Conversation | None:
    """What a stage does with the conversation its event names: a missing one is permanent
    (no retry can make it appear), a finished one is skipped (a redelivery or a late
    duplicate: nothing to do)."""
    if conversation is None:
        raise ConversationMissing(conversation_id)
    if conversation.status in FINISHED:
        log.info("conversation %s already %s; skipping", conversation.id, conversation.status)
        return None
    return conversation


def lane_and_key(
    topic: str, event: CallUploaded | CallTranscribed | CallAnalyzed
) -> tuple[str, bytes]:
    """Where a call's next event goes (:meth:`UnitOfWork.emit_next`)."""
    return topics.lane_for(topic, event.priority), str(event.conversation_id).encode()


def uploaded_headers(event: CallUploaded) -> dict[str, str]:
    """The record headers of a ``CallUploaded``: its priority, for the stages' lanes."""
    return {"x-callstream-priority": str(event.priority)}


@dataclass(frozen=True)
class Emitted:
    """An event waiting for its unit of work to commit."""

    topic: str
    value: BaseModel | bytes
    key: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    durable: bool = False
    partition: int | None = None
    """A partition of ``topic`` chosen by the emitter (None: the key's partition)."""

    def body(self) -> dict[str, Any] | bytes:
        return self.value if isinstance(self.value, bytes) else self.value.model_dump(mode="json")


class UnitOfWork(ABC):
    """One transaction over the repositories, plus the events to publish once it commits.

    Leaving the ``async with`` block without :meth:`commit` rolls back and drops the
    emitted events."""

    conversations: ConversationRepository
    dead_letters: DeadLetterRepository

    def __init__(self) -> None:
        self._emitted: list[Emitted] = []
        self.alone = False
        """Whether :meth:`statements_alone` applied."""

    async def __aenter__(self) -> Self:
        self._emitted = []
        self.alone = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._emitted = []
        await self.rollback()

    def emit(
        self,
        topic: str,
        event: BaseModel | bytes,
        *,
        key: bytes | None = None,
        headers: dict[str, str] | None = None,
        durable: bool = False,
        partition: int | None = None,
    ) -> None:
        """Publish ``event`` on ``topic`` once this unit of work commits (``durable``:
        through the transactional outbox, so not even a crash right after the commit
        can lose it; ``partition``: there rather than where the key hashes to). A durable
        event's outbox row commits with the rows it announces, which statements alone would
        not do: refused before anything is written."""
        if durable and self.alone:
            raise RuntimeError("a durable event needs a transaction: not with statements alone")
        self._emitted.append(Emitted(topic, event, key, headers or {}, durable, partition))

    def emit_next(
        self,
        topic: str,
        event: CallUploaded | CallTranscribed | CallAnalyzed,
        *,
        headers: dict[str, str] | None = None,
        durable: bool = False,
    ) -> None:
        """Emit a call's next event: in its priority lane of ``topic``, keyed by the
        conversation so that one call's events stay in order on one partition."""
        lane, key = lane_and_key(topic, event)
        self.emit(lane, event, key=key, headers=headers, durable=durable)

    async def add_call(self, conversation: Conversation, event: CallUploaded) -> None:
        """A new call: its row, joined to its opportunity (found or created from rep, name
        and company, or the one it names), and its ``CallUploaded`` through the outbox, all
        committed by :meth:`commit`. An adapter may write the three in one statement."""
        await self.conversations.join_opportunity(conversation)
        await self.conversations.add(conversation)
        self.emit_next(topics.CALLS_UPLOADED, event, headers=uploaded_headers(event), durable=True)

    async def add_call_and_commit(self, conversation: Conversation, event: CallUploaded) -> None:
        """:meth:`add_call` and :meth:`commit`, when the new call is all this unit of work
        writes: an adapter whose :meth:`add_call` is one statement may run it as its own
        transaction, sparing the round trips that open and commit one."""
        await self.add_call(conversation, event)
        await self.commit()

    async def statements_alone(self) -> bool:
        """Let each statement of this unit of work be its own transaction, for work whose
        statements each stand alone (reads of rows that only move forward, one write
        guarded in its SQL): no BEGIN or COMMIT round trips. Called before the first
        statement; returns whether it applies (an adapter without round trips: never)."""
        return False

    async def commit(self) -> None:
        """Commit the transaction, then publish what was emitted (each acknowledged before
        returning, except durable events an adapter publishes in the background; a failure
        raises :class:`PublishFailed` after the commit, and the caller's retry re-emits).
        A broken uniqueness rule raises :class:`Conflict` and commits nothing."""
        emitted, self._emitted = self._emitted, []
        await self._commit(emitted)

    @abstractmethod
    async def _commit(self, emitted: list[Emitted]) -> None: ...

    @abstractmethod
    async def rollback(self) -> None: ...
