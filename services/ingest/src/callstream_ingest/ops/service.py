"""Resolving a dead letter: replay it to its original topic, or discard it — through the
unit of work, so the rules are checked against the in-memory fake in a unit test.

A replay sends the dead record back with the retry bookkeeping removed (attempts start
over), optionally with an edited payload, and reopens the conversation the failure had
closed, so the stage processes it instead of skipping a finished call. It is all or
nothing: an edit is checked before anything changes; the reopen and the resolution are
committed together before the publish (the stage must find the call reopened, never
``failed``); and if Kafka does not take the record, both are undone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from callstream_common.conversations.unit_of_work import PublishFailed, UnitOfWork
from callstream_common.db.models import ConversationStatus, DlqEntry
from callstream_common.dlq_headers import replay_headers
from callstream_common.reads.scope import Scope
from callstream_ingest.errors import ApiError, classify_unexpected
from callstream_ingest.ops.replay_check import checked_payload

STAGE_OF_SERVICE = {
    "transcriber": "transcription",
    "analyzer": "analysis",
    "notifier": "notification",
    "compactor": "compaction",
}
"""The pipeline's stage name (a conversation's ``failure_stage``) of the service that
dead-lettered a record."""


async def open_entry(uow: UnitOfWork, entry_id: uuid.UUID, scope: Scope) -> DlqEntry:
    """The entry, still open; 404 if it is unknown or outside ``scope``, 409 if resolved."""
    entry = await uow.dead_letters.get(entry_id, scope)
    if entry is None:
        raise ApiError(404, "not_found", f"DLQ entry {entry_id} not found")
    if entry.status != "new":
        raise ApiError(409, "already_resolved", f"the entry was already {entry.status}")
    return entry


def resolved_meanwhile() -> ApiError:
    return ApiError(409, "already_resolved", "the entry was resolved meanwhile")


async def replay(
    unit_of_work: Callable[[], UnitOfWork],
    entry_id: uuid.UUID,
    scope: Scope,
    payload: dict[str, Any] | None = None,
    *,
    max_payload_bytes: int,
) -> DlqEntry:
    """Replay the entry (with ``payload`` as its edited body); the entry as it was."""
    async with unit_of_work() as uow:
        entry = await open_entry(uow, entry_id, scope)
        value = checked_payload(entry, payload, max_payload_bytes) if payload else entry.value
        reopened = entry.conversation_id is not None and await uow.conversations.reopen(
            entry.conversation_id
        )
        if not await uow.dead_letters.resolve(entry_id, "replayed"):
            raise resolved_meanwhile()
        uow.emit(entry.original_topic, value, key=entry.key, headers=replay_headers(entry.headers))
        try:
            await uow.commit()
        except PublishFailed as exc:
            await _undo(unit_of_work, entry, reopened)
            refusal = classify_unexpected(exc)
            if refusal.status == 413:
                raise refusal from exc
            raise ApiError(503, "kafka_unavailable", "the replay was not published") from exc
    return entry


async def _undo(unit_of_work: Callable[[], UnitOfWork], entry: DlqEntry, reopened: bool) -> None:
    """Kafka did not take the replay: the entry is open again and the call failed again,
    at the stage that dead-lettered it."""
    async with unit_of_work() as uow:
        await uow.dead_letters.reopen(entry.id)
        if reopened and entry.conversation_id is not None:
            await uow.conversations.move(
                entry.conversation_id,
                ConversationStatus.FAILED,
                stage=STAGE_OF_SERVICE.get(entry.service, entry.service),
                reason=entry.error_message,
            )
        await uow.commit()


async def discard(
    unit_of_work: Callable[[], UnitOfWork], entry_id: uuid.UUID, scope: Scope
) -> None:
    async with unit_of_work() as uow:
        await open_entry(uow, entry_id, scope)
        if not await uow.dead_letters.resolve(entry_id, "discarded"):
            raise resolved_meanwhile()
        await uow.commit()
