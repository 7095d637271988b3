"""The unit of work over PostgreSQL (SQLAlchemy async session) and Kafka (FastStream).

Status guards are enforced in SQL (``WHERE status IN …`` from the pure rule), so two
replicas racing on the same conversation cannot move it backwards either.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from faststream.kafka import KafkaBroker
from sqlalchemy import (
    Select,
    String,
    Table,
    TextClause,
    bindparam,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callstream_common import outbox, topics
from callstream_common.contracts import (
    CallUploaded,
    MeddicAnalysis,
    Transcript,
    TranscriptSegment,
    utcnow,
)
from callstream_common.conversations.status import (
    ConversationMissing,
    StageTiming,
    moves_from,
    status_fields,
    timing_entry,
)
from callstream_common.conversations.unit_of_work import (
    Conflict,
    ConversationRepository,
    DeadLetterRepository,
    Emitted,
    PublishFailed,
    UnitOfWork,
    for_stage,
    lane_and_key,
    uploaded_headers,
)
from callstream_common.db.engine import statements_alone
from callstream_common.db.models import (
    Conversation,
    ConversationStatus,
    DlqEntry,
    MeddicAnalysisRow,
    Opportunity,
    OutboxEvent,
    ReanalysisRequestRow,
    TranscriptRow,
)
from callstream_common.reads import opportunities
from callstream_common.reads.conversations import naming_conversations_in
from callstream_common.reads.scope import Scope


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


CONVERSATIONS = _table(Conversation)
TRANSCRIPTS = _table(TranscriptRow)
ANALYSES = _table(MeddicAnalysisRow)
DLQ_ENTRIES = _table(DlqEntry)
REANALYSIS_REQUESTS = _table(ReanalysisRequestRow)
OPPORTUNITIES = _table(Opportunity)
OUTBOX = _table(OutboxEvent)
ARCHIVE_CURRENT = """
INSERT INTO analysis_versions (id, conversation_id, version, overall_score,
  qualification_status, dimensions, key_findings, next_steps, risks, agent_outputs,
  provider, model, analyzed_at, superseded_at)
SELECT :archive_id, conversation_id, version, overall_score, qualification_status,
  dimensions, key_findings, next_steps, risks, agent_outputs, provider, model, created_at, now()
FROM meddic_analyses WHERE conversation_id = :id
"""
ANALYSIS_COLUMNS = (
    "overall_score",
    "qualification_status",
    "dimensions",
    "key_findings",
    "next_steps",
    "risks",
    "agent_outputs",
    "stats",
    "trackers",
    "provider",
    "model",
)


TRANSCRIPT_COLUMNS = (
    "language",
    "duration_seconds",
    "segments",
    "provider",
    "model",
    "diarization",
)
TRANSCRIPT_OF = text(
    f"SELECT {', '.join(TRANSCRIPT_COLUMNS)} FROM transcripts "  # noqa: S608 - our columns
    "WHERE conversation_id = :id"
).columns(*(TRANSCRIPTS.c[name] for name in TRANSCRIPT_COLUMNS))
ANALYSIS_OF = text(
    f"SELECT {', '.join(ANALYSIS_COLUMNS)} FROM meddic_analyses "  # noqa: S608 - our columns
    "WHERE conversation_id = :id"
).columns(*(ANALYSES.c[name] for name in ANALYSIS_COLUMNS))
"""The stored transcript and analysis as plain rows: the ORM's object loading was a
large part of a stage's database CPU for two reads per record."""
JOINED_PREFIX = "joined_"
JoinedT = TypeVar("JoinedT")


def _with_one(table: Table, names: tuple[str, ...]) -> Select[Any]:
    """The conversation and its row of ``table`` (columns prefixed ``joined_``, all NULL
    when it has none): a stage's two reads as one round trip."""
    return (
        select(
            Conversation,
            table.c.conversation_id.label(f"{JOINED_PREFIX}id"),
            *(table.c[name].label(JOINED_PREFIX + name) for name in names),
        )
        .outerjoin(table, table.c.conversation_id == CONVERSATIONS.c.id)
        .where(CONVERSATIONS.c.id == bindparam("id"))
    )


WITH_TRANSCRIPT = _with_one(TRANSCRIPTS, TRANSCRIPT_COLUMNS)
WITH_ANALYSIS = _with_one(ANALYSES, ANALYSIS_COLUMNS)


def transcript_of(row: Mapping[Any, Any]) -> Transcript:
    return Transcript(
        language=row["language"],
        duration_seconds=row["duration_seconds"],
        segments=[TranscriptSegment.model_validate(s) for s in row["segments"]],
        provider=row["provider"],
        model=row["model"],
        diarization=row["diarization"],
    )


def analysis_of(row: Mapping[Any, Any]) -> MeddicAnalysis:
    return MeddicAnalysis.model_validate(dict(row) | {"trackers": row["trackers"] or []})


MERGED_TIMINGS = (  # a conversation without timings yet (SQL or JSON null) starts empty
    "(CASE WHEN jsonb_typeof(timings) = 'object' THEN timings ELSE '{}'::jsonb END) || :timing"
)

RECORD_TIMING = text(
    f"UPDATE conversations SET timings = {MERGED_TIMINGS}, updated_at = now() WHERE id = :id"  # noqa: S608 - our constant
).bindparams(bindparam("timing", type_=JSONB), bindparam("id", type_=CONVERSATIONS.c.id.type))


@functools.cache
def insert_once_statement(
    table: Table, columns: tuple[str, ...], copied: tuple[str, ...], timed: bool
) -> TextClause:
    """``INSERT … ON CONFLICT DO NOTHING`` into ``table`` and, only if a row was inserted,
    ``UPDATE conversations`` with the ``copied`` columns (and the ``timing`` entry), as one
    statement. Written as SQL text because SQLAlchemy 2.0 cannot cache the compilation of
    PostgreSQL's ``insert().on_conflict_…()``: that construct was compiled again on every
    record, a large part of a stage's database CPU. Names come from our own tables only."""
    sets = [f"{name} = :also_{name}" for name in copied]
    if timed:
        sets += [f"timings = {MERGED_TIMINGS}", "updated_at = now()"]
    sql = (
        f"WITH inserted AS (INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(':' + c for c in columns)}) "
        "ON CONFLICT (conversation_id) DO NOTHING RETURNING conversation_id) "
        f"UPDATE conversations SET {', '.join(sets)} "
        "WHERE id = :conversation_id AND EXISTS (SELECT 1 FROM inserted) RETURNING id"
    )
    types = [bindparam(c, type_=table.c[c].type) for c in columns]
    types += [bindparam(f"also_{c}", type_=CONVERSATIONS.c[c].type) for c in copied]
    if timed:
        types.append(bindparam("timing", type_=JSONB))
    return text(sql).bindparams(*types)


@functools.cache
def move_statement(columns: tuple[str, ...], timed: bool) -> TextClause:
    """The guarded status move writing ``columns`` (and the ``timing`` entry), as SQL text
    built once per shape: building and keying the equivalent ``update()`` construct cost
    more CPU per record than the statement's round trip."""
    sets = [f"{name} = :{name}" for name in columns]
    if timed:
        sets.append(f"timings = {MERGED_TIMINGS}")
    sql = (
        f"UPDATE conversations SET {', '.join(sets)} "  # noqa: S608 - names are our columns
        "WHERE id = :id AND status = ANY(:allowed) RETURNING id"
    )
    types = [bindparam(name, type_=CONVERSATIONS.c[name].type) for name in columns]
    types += [bindparam("id", type_=CONVERSATIONS.c.id.type)]
    types += [bindparam("allowed", type_=ARRAY(String))]
    if timed:
        types.append(bindparam("timing", type_=JSONB))
    return text(sql).bindparams(*types)


def _registration(joins_by_name: bool) -> TextClause:
    """The statement of :func:`call_registration`, built once from the tables' columns (a
    ``text`` construct, so SQLAlchemy compiles it once; the equivalent Core statement of
    CTEs over DML has no cache key and costs a compilation per upload)."""
    if joins_by_name:
        opportunity = (
            "INSERT INTO opportunities (id, rep_id, name, company_name, match_key, last_call_at) "
            "VALUES (:o_id, :o_rep_id, :o_name, :o_company_name, :o_match_key, now()) "
            "ON CONFLICT (match_key) DO UPDATE SET last_call_at = now(), updated_at = now()"
        )
    else:
        opportunity = (
            "UPDATE opportunities SET last_call_at = now(), updated_at = now() WHERE id = :o_id"
        )
    columns = [
        c for c in CONVERSATIONS.columns if not (joins_by_name and c.name == "opportunity_id")
    ]
    names = [c.name for c in columns]
    values = [f":c_{c.name}" for c in columns]
    if joins_by_name:
        names.append("opportunity_id")
        values.append("(SELECT id FROM opportunity)")
    binds = [bindparam("o_id", type_=OPPORTUNITIES.c.id.type)]
    binds += [bindparam(f"c_{c.name}", type_=c.type) for c in columns]
    binds += [bindparam(f"e_{name}", type_=OUTBOX.c[name].type) for name in OUTBOX_COLUMNS]
    statement = " ".join(
        [
            f"WITH opportunity AS ({opportunity} RETURNING id),",
            "registered AS (INSERT INTO conversations (" + ", ".join(names) + ")",
            "VALUES (" + ", ".join(values) + ") RETURNING id)",
            "INSERT INTO event_outbox (" + ", ".join(OUTBOX_COLUMNS) + ")",
            "SELECT " + ", ".join(f":e_{n}" for n in OUTBOX_COLUMNS) + " FROM registered",  # noqa: S608
            "RETURNING (SELECT id FROM opportunity)",
        ]
    )
    return text(statement).bindparams(*binds)


OUTBOX_COLUMNS = ("id", "topic", "key", "payload", "headers")
REGISTRATION = {joins: _registration(joins) for joins in (True, False)}


def call_registration(
    conversation: Conversation, event: OutboxEvent
) -> tuple[TextClause, dict[str, Any]]:
    """:meth:`SqlUnitOfWork.add_call` as one statement (one round trip) and its parameters:
    the opportunity found or created from (rep, name, company) — or the one the call names,
    touched — the conversation's row joined to it, and the outbox row announcing it, which
    is only written with the row. The statement returns the opportunity's id."""
    joins_by_name = conversation.opportunity_id is None
    params: dict[str, Any] = {
        f"c_{c.name}": getattr(conversation, c.name)
        for c in CONVERSATIONS.columns
        if not (joins_by_name and c.name == "opportunity_id")
    }
    params |= {f"e_{name}": getattr(event, name) for name in OUTBOX_COLUMNS}
    if joins_by_name:
        params |= {
            "o_id": uuid.uuid4(),
            "o_rep_id": conversation.rep_id,
            "o_name": conversation.opportunity_name.strip(),
            "o_company_name": conversation.company_name,
            "o_match_key": opportunities.match_key(
                conversation.rep_id, conversation.opportunity_name, conversation.company_name
            ),
        }
    else:
        params["o_id"] = conversation.opportunity_id
    return REGISTRATION[joins_by_name], params


class SqlConversationRepository(ConversationRepository):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, conversation_id: uuid.UUID) -> Conversation | None:
        return await self.session.get(Conversation, conversation_id)

    async def lock(self, conversation_id: uuid.UUID) -> Conversation | None:
        return await self.session.get(
            Conversation, conversation_id, with_for_update=True, populate_existing=True
        )

    async def by_idempotency_key(self, key: str) -> Conversation | None:
        query = select(Conversation).where(CONVERSATIONS.c.idempotency_key == key)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def add(self, conversation: Conversation) -> None:
        self.session.add(conversation)

    async def join_opportunity(self, conversation: Conversation) -> None:
        if conversation.opportunity_id is None:
            conversation.opportunity_id = await opportunities.upsert_opportunity(
                self.session,
                conversation.rep_id,
                conversation.opportunity_name,
                conversation.company_name,
            )
        else:
            await opportunities.touch_opportunity(
                self.session, Scope.everything(), conversation.opportunity_id
            )

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
        allowed = [s.value for s in moves_from(target, reopen=reopen, only_from=only_from)]
        fields = status_fields(target, utcnow(), stage=stage, reason=reason, reopen=reopen)
        params = fields | {"id": conversation_id, "allowed": allowed}
        if timing is not None:
            params["timing"] = timing.entries()
        statement = move_statement(tuple(fields), timing is not None)
        moved = await self.session.execute(statement, params)
        return moved.first() is not None

    async def record_timing(
        self,
        conversation_id: uuid.UUID,
        stage: str,
        started: datetime,
        finished: datetime | None = None,
        **extra: Any,
    ) -> None:
        await self.session.execute(
            RECORD_TIMING,
            {"id": conversation_id, "timing": {stage: timing_entry(started, finished, **extra)}},
        )

    async def transcript(self, conversation_id: uuid.UUID) -> Transcript | None:
        row = (await self.session.execute(TRANSCRIPT_OF, {"id": conversation_id})).first()
        return None if row is None else transcript_of(row._mapping)

    async def load_with_transcript(
        self, conversation_id: uuid.UUID
    ) -> tuple[Conversation, Transcript | None] | None:
        return await self._load_joined(WITH_TRANSCRIPT, conversation_id, transcript_of)

    async def load_with_analysis(
        self, conversation_id: uuid.UUID
    ) -> tuple[Conversation, MeddicAnalysis | None] | None:
        return await self._load_joined(WITH_ANALYSIS, conversation_id, analysis_of)

    async def _load_joined(
        self,
        statement: Select[Any],
        conversation_id: uuid.UUID,
        row_of: Callable[[Mapping[Any, Any]], JoinedT],
    ) -> tuple[Conversation, JoinedT | None] | None:
        """The conversation a stage's event names, checked as :func:`for_stage` does, and
        its row of a one-per-call table (built by ``row_of`` from the columns without their
        prefix; None when there is none yet), in one statement."""
        row = (await self.session.execute(statement, {"id": conversation_id})).first()
        conversation = for_stage(conversation_id, None if row is None else row[0])
        if conversation is None or row is None:
            return None
        row_id_key = f"{JOINED_PREFIX}id"
        if row._mapping[row_id_key] is None:
            return conversation, None
        joined = {
            str(key).removeprefix(JOINED_PREFIX): value
            for key, value in row._mapping.items()
            if str(key).startswith(JOINED_PREFIX) and key != row_id_key
        }
        return conversation, row_of(joined)

    async def _add_once(
        self,
        table: Table,
        conversation_id: uuid.UUID,
        row: dict[str, Any],
        timing: StageTiming | None,
        **also: Any,
    ) -> bool:
        """Insert the conversation's one row of ``table`` (a no-op if it is there) and copy
        ``also`` (and ``timing``) onto the conversation, in one statement: the update reads
        the insert's RETURNING (a data-modifying CTE), so it applies exactly when the row
        was new."""
        values = {"id": uuid.uuid4(), "conversation_id": conversation_id, **row}
        params = values | {f"also_{name}": value for name, value in also.items()}
        if timing is not None:
            params["timing"] = timing.entries()
        statement = insert_once_statement(table, tuple(values), tuple(also), timing is not None)
        copied = await self.session.execute(statement, params)
        return copied.first() is not None

    async def add_transcript(
        self,
        conversation_id: uuid.UUID,
        transcript: Transcript,
        timing: StageTiming | None = None,
    ) -> bool:
        row = {
            "language": transcript.language,
            "duration_seconds": transcript.duration_seconds,
            "text": transcript.text,
            "segments": [s.model_dump(mode="json") for s in transcript.segments],
            "provider": transcript.provider,
            "model": transcript.model,
            "diarization": transcript.diarization.value,
        }
        return await self._add_once(
            TRANSCRIPTS, conversation_id, row, timing, duration_seconds=transcript.duration_seconds
        )

    async def analysis(self, conversation_id: uuid.UUID) -> MeddicAnalysis | None:
        row = (await self.session.execute(ANALYSIS_OF, {"id": conversation_id})).mappings().first()
        return None if row is None else analysis_of(row)

    async def add_analysis(
        self,
        conversation_id: uuid.UUID,
        analysis: MeddicAnalysis,
        timing: StageTiming | None = None,
    ) -> bool:
        data = analysis.model_dump(mode="json")
        row = {name: data[name] for name in ANALYSIS_COLUMNS}
        return await self._add_once(
            ANALYSES, conversation_id, row, timing, analysis_summary=analysis.summary()
        )

    async def add_analysis_version(
        self, conversation_id: uuid.UUID, analysis: MeddicAnalysis, request_id: uuid.UUID
    ) -> bool:
        claimed = await self.session.execute(
            insert(REANALYSIS_REQUESTS)
            .values(event_id=request_id, conversation_id=conversation_id)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(REANALYSIS_REQUESTS.c.event_id)
        )
        if claimed.first() is None:
            return False
        conversation = await self.session.get(Conversation, conversation_id, with_for_update=True)
        if conversation is None:
            raise ConversationMissing(conversation_id)
        await self.session.execute(
            text(ARCHIVE_CURRENT), {"archive_id": uuid.uuid4(), "id": conversation_id}
        )
        data = analysis.model_dump(mode="json")
        current = {name: data[name] for name in ANALYSIS_COLUMNS}
        replace = insert(ANALYSES).values(
            id=uuid.uuid4(), conversation_id=conversation_id, version=1, **current
        )
        await self.session.execute(
            replace.on_conflict_do_update(
                index_elements=["conversation_id"],
                set_={
                    **{name: replace.excluded[name] for name in ANALYSIS_COLUMNS},
                    "version": ANALYSES.c.version + 1,
                    "created_at": utcnow(),
                },
            )
        )
        conversation.analysis_summary = analysis.summary()
        return True


class SqlDeadLetterRepository(DeadLetterRepository):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, entry_id: uuid.UUID, scope: Scope | None = None) -> DlqEntry | None:
        where, params = naming_conversations_in(
            scope or Scope.everything(), "dlq_entries.conversation_id"
        )
        query = select(DlqEntry).where(DLQ_ENTRIES.c.id == entry_id, text(where))
        return (await self.session.execute(query, params)).scalar_one_or_none()

    async def resolve(self, entry_id: uuid.UUID, status: str) -> bool:
        resolved = await self.session.execute(
            update(DLQ_ENTRIES)
            .where(DLQ_ENTRIES.c.id == entry_id, DLQ_ENTRIES.c.status == "new")
            .values(status=status, resolved_at=utcnow())
            .returning(DLQ_ENTRIES.c.id)
        )
        return resolved.first() is not None

    async def reopen(self, entry_id: uuid.UUID) -> None:
        await self.session.execute(
            update(DLQ_ENTRIES)
            .where(DLQ_ENTRIES.c.id == entry_id)
            .values(status="new", resolved_at=None)
        )


class SqlUnitOfWork(UnitOfWork):
    """``publish_timeout`` bounds how long a publish waits for Kafka (None: as long as the
    producer's own timeouts allow, which is what a stage wants: the record is retried).
    ``durable_in_background`` takes over the publishing of durable events, so that
    :meth:`commit` returns once they are committed to the outbox."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        broker: KafkaBroker,
        publish_timeout: float | None = None,
        durable_in_background: outbox.BackgroundPublisher | None = None,
    ) -> None:
        super().__init__()
        self._sessions = sessions
        self._broker = broker
        self._publish_timeout = publish_timeout
        self._background = durable_in_background
        self._session: AsyncSession | None = None
        self._announced: list[OutboxEvent] = []

    async def __aenter__(self) -> SqlUnitOfWork:
        await super().__aenter__()
        self._announced = []
        self._session = self._sessions()
        self.conversations = SqlConversationRepository(self._session)
        self.dead_letters = SqlDeadLetterRepository(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)
        self._session = None
        self._announced = []

    async def add_call(self, conversation: Conversation, event: CallUploaded) -> None:
        """In one statement (:func:`call_registration`); the event is published after the
        commit like any durable one."""
        assert self._session is not None, "add_call outside `async with`"
        lane, key = lane_and_key(topics.CALLS_UPLOADED, event)
        payload = event.model_dump(mode="json")
        staged = OutboxEvent(topic=lane, key=key, payload=payload, headers=uploaded_headers(event))
        try:
            result = await self._session.execute(*call_registration(conversation, staged))
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from exc
        conversation.opportunity_id = result.scalar_one() or conversation.opportunity_id
        self._announced.append(staged)

    async def add_call_and_commit(self, conversation: Conversation, event: CallUploaded) -> None:
        """The registration statement on an autocommit connection: one statement is one
        transaction, atomic as a BEGIN … COMMIT around it (nothing of it is kept if it
        fails), with one round trip instead of three."""
        if not await self.statements_alone():
            await super().add_call_and_commit(conversation, event)  # all in one transaction
            return
        await self.add_call(conversation, event)
        await self.commit()

    async def statements_alone(self) -> bool:
        """Autocommit (:func:`~callstream_common.db.engine.statements_alone`), unless this
        unit of work already began or holds changes the ORM has yet to write."""
        assert self._session is not None, "statements_alone outside `async with`"
        session = self._session
        if self._emitted or session.new or session.dirty:
            return False
        self.alone = await statements_alone(session)
        return self.alone

    async def _commit(self, emitted: list[Emitted]) -> None:
        assert self._session is not None, "commit outside `async with`"
        staged = self._announced + [
            outbox.stage_event(self._session, e.topic, e.body(), e.key, e.headers)  # type: ignore[arg-type]
            for e in emitted
            if e.durable
        ]
        self._announced = []
        try:
            await self._session.commit()
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from exc
        if self._background is not None:
            for event in staged:
                self._background.publish(event)
        elif staged:
            await outbox.publish_many(
                self._sessions, self._broker, staged, self._publish_timeout or 10.0
            )
        for e in emitted:
            if not e.durable:
                await self._publish(e)

    async def _publish(self, e: Emitted) -> None:
        sending = self._broker.publish(
            e.body(), e.topic, key=e.key, partition=e.partition, headers=e.headers or None
        )
        try:
            if self._publish_timeout is None:
                await sending
            else:
                await asyncio.wait_for(sending, self._publish_timeout)
        except Exception as exc:
            raise PublishFailed(f"{e.topic}: {type(exc).__name__}: {exc}") from exc

    async def rollback(self) -> None:
        """Closing rolls back what was not committed; unlike ``Session.rollback`` it keeps
        the loaded objects' state, so a handler may read the conversation it loaded after
        the block (as a detached object)."""
        if self._session is not None:
            await self._session.close()
