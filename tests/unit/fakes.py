"""In-memory fakes of the ports the handlers go through (cosmicpython's FakeUnitOfWork):
they follow the same status rule as the SQL adapter, so a handler unit test checks the
handler's decisions in milliseconds without a server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest

from callstream_common.contracts import MeddicAnalysis, Transcript
from callstream_common.conversations.status import (
    StageTiming,
    can_move,
    status_fields,
    timing_entry,
)
from callstream_common.conversations.unit_of_work import (
    ConversationRepository,
    DeadLetterRepository,
    Emitted,
    PublishFailed,
    UnitOfWork,
)
from callstream_common.db.models import Conversation, ConversationStatus, DlqEntry
from callstream_common.reads.scope import Scope, ScopeKind
from callstream_notifier.alerts import AlertRule, AlertTriggered
from callstream_notifier.deliveries import Claim, DeliveryLog
from callstream_transcriber.chunk_store import ChunkedUnitOfWork, ChunkRepository
from callstream_transcriber.chunking import PieceTranscript


def conversation(
    status: ConversationStatus = ConversationStatus.PENDING, **fields: Any
) -> Conversation:
    values: dict[str, Any] = {
        "status": status,
        "opportunity_name": "Acme renewal",
        "company_name": "Acme",
        "rep_id": "rep-sarah",
        "title": "Discovery call",
        "conversation_date": date(2026, 11, 2),
        "object_key": "recordings/2026/11/02/call.wav",
        "content_type": "audio/wav",
        "size_bytes": 1024,
        "sha256": "0" * 64,
        "duration_seconds": None,
    }
    return Conversation(**(values | fields))


def dead_letter(conversation_id: uuid.UUID | None, **fields: Any) -> DlqEntry:
    """An open entry the analyzer dead-lettered from ``calls.transcribed``."""
    values: dict[str, Any] = {
        "dlq_partition": 0,
        "dlq_offset": -(uuid.uuid4().int % 2**31),
        "original_topic": "calls.transcribed",
        "value": b"{}",
        "headers": {},
        "service": "analyzer",
        "consumer_group": "analyzer",
        "error_class": "X",
        "error_message": "boom",
        "conversation_id": conversation_id,
    }
    return DlqEntry(**(values | fields))


@dataclass
class FakeDatabase:
    """What the fake units of work share: committed state and what was published."""

    conversations: dict[uuid.UUID, Conversation] = field(default_factory=dict)
    transcripts: dict[uuid.UUID, Transcript] = field(default_factory=dict)
    analyses: dict[uuid.UUID, MeddicAnalysis] = field(default_factory=dict)
    dead_letters: dict[uuid.UUID, DlqEntry] = field(default_factory=dict)
    rep_teams: dict[str, str] = field(default_factory=dict)
    """Each rep's team, for the scope checks."""
    past_analyses: dict[uuid.UUID, list[MeddicAnalysis]] = field(default_factory=dict)
    reanalysis_requests: set[uuid.UUID] = field(default_factory=set)
    published: list[Emitted] = field(default_factory=list)
    outbox: list[Emitted] = field(default_factory=list)
    chunks: dict[tuple[uuid.UUID, int], PieceTranscript] = field(default_factory=dict)
    row_locks: dict[uuid.UUID, asyncio.Lock] = field(default_factory=dict)
    commits: int = 0
    publish_error: BaseException | None = None
    commit_error: BaseException | None = None

    def add(self, conv: Conversation) -> Conversation:
        self.conversations[conv.id] = conv
        return conv

    def status(self, conversation_id: uuid.UUID) -> ConversationStatus:
        return ConversationStatus(self.conversations[conversation_id].status)

    def topics(self) -> list[str]:
        return [e.topic for e in self.published]


class FakeConversations(ConversationRepository):
    """Writes go to a pending change list applied on commit, like a transaction."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.changes: list[Any] = []
        self.held: list[asyncio.Lock] = []

    async def get(self, conversation_id: uuid.UUID) -> Conversation | None:
        return self.db.conversations.get(conversation_id)

    async def lock(self, conversation_id: uuid.UUID) -> Conversation | None:
        """Like ``SELECT … FOR UPDATE``: a second unit of work waits here until the first
        commits or rolls back."""
        row_lock = self.db.row_locks.setdefault(conversation_id, asyncio.Lock())
        if row_lock not in self.held:
            await row_lock.acquire()
            self.held.append(row_lock)
        return self.db.conversations.get(conversation_id)

    def release(self) -> None:
        for row_lock in self.held:
            row_lock.release()
        self.held.clear()

    async def by_idempotency_key(self, key: str) -> Conversation | None:
        found = [c for c in self.db.conversations.values() if c.idempotency_key == key]
        return found[0] if found else None

    async def add(self, conversation: Conversation) -> None:
        self.changes.append(lambda: self.db.add(conversation))

    async def join_opportunity(self, conversation: Conversation) -> None:
        if conversation.opportunity_id is None:
            deal = f"{conversation.rep_id}/{conversation.opportunity_name}"
            conversation.opportunity_id = uuid.uuid5(uuid.NAMESPACE_URL, deal)

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
        conv = self.db.conversations.get(conversation_id)
        if conv is None or not can_move(
            ConversationStatus(conv.status), target, reopen=reopen, only_from=only_from
        ):
            return False
        fields = status_fields(target, datetime.now(UTC), stage=stage, reason=reason, reopen=reopen)
        self.changes.append(lambda: [setattr(conv, k, v) for k, v in fields.items()])
        self._stamp(conv, timing)
        return True

    def _stamp(self, conv: Conversation, timing: StageTiming | None) -> None:
        if timing is not None:
            entries = timing.entries()
            self.changes.append(
                lambda: setattr(conv, "timings", {**(conv.timings or {}), **entries})
            )

    async def record_timing(
        self,
        conversation_id: uuid.UUID,
        stage: str,
        started: datetime,
        finished: datetime | None = None,
        **extra: Any,
    ) -> None:
        conv = self.db.conversations[conversation_id]
        entry = timing_entry(started, finished, **extra)
        self.changes.append(
            lambda: setattr(conv, "timings", {**(conv.timings or {}), stage: entry})
        )

    async def transcript(self, conversation_id: uuid.UUID) -> Transcript | None:
        return self.db.transcripts.get(conversation_id)

    def _add_once(
        self,
        table: dict[uuid.UUID, Any],
        conversation_id: uuid.UUID,
        value: Any,
        timing: StageTiming | None,
        **also: Any,
    ) -> bool:
        """Insert once per conversation, copying ``also`` onto the conversation with it."""
        if conversation_id in table:
            return False
        conv = self.db.conversations[conversation_id]

        def apply() -> None:
            table[conversation_id] = value
            for name, copied in also.items():
                setattr(conv, name, copied)

        self.changes.append(apply)
        self._stamp(conv, timing)
        return True

    async def add_transcript(
        self,
        conversation_id: uuid.UUID,
        transcript: Transcript,
        timing: StageTiming | None = None,
    ) -> bool:
        return self._add_once(
            self.db.transcripts,
            conversation_id,
            transcript,
            timing,
            duration_seconds=transcript.duration_seconds,
        )

    async def analysis(self, conversation_id: uuid.UUID) -> MeddicAnalysis | None:
        return self.db.analyses.get(conversation_id)

    async def add_analysis(
        self,
        conversation_id: uuid.UUID,
        analysis: MeddicAnalysis,
        timing: StageTiming | None = None,
    ) -> bool:
        return self._add_once(
            self.db.analyses,
            conversation_id,
            analysis,
            timing,
            analysis_summary=analysis.summary(),
        )

    async def add_analysis_version(
        self, conversation_id: uuid.UUID, analysis: MeddicAnalysis, request_id: uuid.UUID
    ) -> bool:
        if request_id in self.db.reanalysis_requests:
            return False
        conv = self.db.conversations[conversation_id]

        def apply() -> None:
            self.db.reanalysis_requests.add(request_id)
            if (current := self.db.analyses.get(conversation_id)) is not None:
                self.db.past_analyses.setdefault(conversation_id, []).append(current)
            self.db.analyses[conversation_id] = analysis
            conv.analysis_summary = analysis.summary()

        self.changes.append(apply)
        return True


class FakeDeadLetters(DeadLetterRepository):
    def __init__(self, db: FakeDatabase, changes: list[Any]) -> None:
        self.db = db
        self.changes = changes

    async def get(self, entry_id: uuid.UUID, scope: Scope | None = None) -> DlqEntry | None:
        entry = self.db.dead_letters.get(entry_id)
        if entry is None or scope is None or scope.kind == ScopeKind.ALL:
            return entry
        conv = self.db.conversations.get(entry.conversation_id or uuid.UUID(int=0))
        if conv is None or not scope.sees(conv.rep_id, self.db.rep_teams.get(conv.rep_id)):
            return None
        return entry

    async def resolve(self, entry_id: uuid.UUID, status: str) -> bool:
        entry = self.db.dead_letters.get(entry_id)
        if entry is None or entry.status != "new":
            return False
        self.changes.append(lambda: setattr(entry, "status", status))
        return True

    async def reopen(self, entry_id: uuid.UUID) -> None:
        entry = self.db.dead_letters[entry_id]
        self.changes.append(lambda: setattr(entry, "status", "new"))


class FakeUnitOfWork(UnitOfWork):
    conversations: FakeConversations

    def __init__(self, db: FakeDatabase) -> None:
        super().__init__()
        self.db = db

    async def __aenter__(self) -> FakeUnitOfWork:
        await super().__aenter__()
        self.conversations = FakeConversations(self.db)
        self.dead_letters = FakeDeadLetters(self.db, self.conversations.changes)
        return self

    async def _commit(self, emitted: list[Emitted]) -> None:
        if self.db.commit_error is not None:
            raise self.db.commit_error
        for change in self.conversations.changes:
            change()
        self.conversations.changes.clear()
        self.conversations.release()
        self.db.commits += 1
        self.db.outbox += [e for e in emitted if e.durable]
        for e in emitted:
            if self.db.publish_error is not None:
                if e.durable:
                    continue  # left in the outbox for the relay
                raise PublishFailed(str(self.db.publish_error)) from self.db.publish_error
            self.db.published.append(e)

    async def rollback(self) -> None:
        if hasattr(self, "conversations"):
            self.conversations.changes.clear()
            self.conversations.release()


class FakeChunks(ChunkRepository):
    """The transcriber's chunk rows: insert-once, visible to the own transaction at once."""

    def __init__(self, db: FakeDatabase, changes: list[Any]) -> None:
        self.db = db
        self.changes = changes
        self.pending: dict[tuple[uuid.UUID, int], PieceTranscript] = {}

    def _visible(self, conversation_id: uuid.UUID) -> dict[int, PieceTranscript]:
        rows = self.db.chunks | self.pending
        return {i: p for (cid, i), p in rows.items() if cid == conversation_id}

    async def add(self, conversation_id: uuid.UUID, count: int, piece: PieceTranscript) -> bool:
        key = (conversation_id, piece.index)
        if key in self.db.chunks or key in self.pending:
            return False
        self.pending[key] = piece
        self.changes.append(lambda: self.db.chunks.setdefault(key, self.pending.pop(key)))
        return True

    async def indexes(self, conversation_id: uuid.UUID) -> set[int]:
        return set(self._visible(conversation_id))

    async def pieces(self, conversation_id: uuid.UUID) -> list[PieceTranscript]:
        return [p for _, p in sorted(self._visible(conversation_id).items())]


class FakeChunkedUnitOfWork(FakeUnitOfWork, ChunkedUnitOfWork):
    async def __aenter__(self) -> FakeChunkedUnitOfWork:
        await super().__aenter__()
        self.chunks = FakeChunks(self.db, self.conversations.changes)
        return self


@dataclass
class FakeDeliveryLog(DeliveryLog):
    """The notifier's delivery rows, alert rules and alerts, in memory."""

    rows: dict[tuple[uuid.UUID, str, str], dict[str, Any]] = field(default_factory=dict)
    rules: list[AlertRule] = field(default_factory=list)
    alerts: dict[tuple[str, uuid.UUID], AlertTriggered] = field(default_factory=dict)

    async def claim(
        self, conversation_id: uuid.UUID, channel: str, target: str, payload: dict[str, Any]
    ) -> Claim:
        row = self.rows.setdefault(
            (conversation_id, channel, target),
            {"status": "pending", "attempts": 0, "payload": payload, "at": datetime.now(UTC)},
        )
        row["attempts"] += 1
        return Claim(row["status"], row["attempts"], row["at"])

    async def mark_sent(
        self, conversation_id: uuid.UUID, channel: str, target: str, response: dict[str, Any]
    ) -> None:
        row = self.rows[(conversation_id, channel, target)]
        row |= {"status": "sent", "response": response}

    async def record_sent(
        self,
        conversation_id: uuid.UUID,
        channel: str,
        target: str,
        payload: dict[str, Any],
        response: dict[str, Any],
    ) -> bool:
        if (conversation_id, channel, target) in self.rows:
            return False
        self.rows[(conversation_id, channel, target)] = {
            "status": "sent",
            "attempts": 1,
            "payload": payload,
            "response": response,
            "at": datetime.now(UTC),
        }
        return True

    async def last_slack_channel_id(self) -> str | None:
        sent = [
            r["response"].get("channel")
            for (_, ch, _), r in self.rows.items()
            if ch.startswith("slack") and r["status"] == "sent"
        ]
        return sent[-1] if sent else None

    async def alert_rules(self) -> list[AlertRule]:
        return [r for r in self.rules if r.enabled]

    async def record_alerts(self, conversation_id: uuid.UUID, alerts: list[AlertTriggered]) -> None:
        for alert in alerts:
            self.alerts.setdefault((alert.rule_id, conversation_id), alert)

    def sent(self, channel: str) -> list[dict[str, Any]]:
        return [r for (_, ch, _), r in self.rows.items() if ch == channel and r["status"] == "sent"]


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def uow(db: FakeDatabase) -> Callable[[], UnitOfWork]:
    return lambda: FakeUnitOfWork(db)
