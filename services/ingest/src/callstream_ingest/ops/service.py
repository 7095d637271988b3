"""Resolving a dead letter: replay it to its original topic or discard it.

A replay sends the dead record back with the retry bookkeeping removed (attempts start
over), optionally with an edited payload, and reopens the conversation the failure had
closed, so the stage processes it instead of skipping a finished call. The resolution
and the reopen are committed before the publish (the stage must find the call reopened,
never ``failed``); if Kafka does not take the record, both are undone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from callstream_common.conversations.unit_of_work import PublishFailed, UnitOfWork
from callstream_common.db.models import ConversationStatus, DlqEntry
from callstream_common.dlq_headers import replay_headers


class EntryNotFound(LookupError):
    pass


class AlreadyResolved(Exception):
    pass


class ReplayNotPublished(Exception):
    """Kafka did not take the replayed record; the entry and the call are as before."""


async def _open_entry(uow: UnitOfWork, entry_id: uuid.UUID) -> DlqEntry:
    entry = await uow.dead_letters.get(entry_id)
    if entry is None:
        raise EntryNotFound(f"DLQ entry {entry_id} not found")
    if entry.status != "new":
        raise AlreadyResolved(f"the entry was already {entry.status}")
    return entry


async def replay(
    unit_of_work: Callable[[], UnitOfWork],
    entry_id: uuid.UUID,
    payload: dict[str, Any] | None = None,
) -> DlqEntry:
    async with unit_of_work() as uow:
        entry = await _open_entry(uow, entry_id)
        if not await uow.dead_letters.resolve(entry_id, "replayed"):
            raise AlreadyResolved("the entry was resolved meanwhile")
        conversation = entry.conversation_id
        reopened = conversation is not None and await uow.conversations.move(
            conversation, ConversationStatus.PROCESSING, reopen=True
        )
        uow.emit(
            entry.original_topic,
            json.dumps(payload).encode() if payload else entry.value,
            key=entry.key,
            headers=replay_headers(entry.headers),
        )
        try:
            await uow.commit()
        except PublishFailed as exc:
            await _undo(unit_of_work, entry, reopened)
            raise ReplayNotPublished("the replay was not published") from exc
    return entry


async def _undo(unit_of_work: Callable[[], UnitOfWork], entry: DlqEntry, reopened: bool) -> None:
    async with unit_of_work() as uow:
        await uow.dead_letters.reopen(entry.id)
        if reopened and entry.conversation_id is not None:
            await uow.conversations.move(
                entry.conversation_id,
                ConversationStatus.FAILED,
                stage=entry.service,
                reason=entry.error_message,
            )
        await uow.commit()


async def discard(unit_of_work: Callable[[], UnitOfWork], entry_id: uuid.UUID) -> None:
    async with unit_of_work() as uow:
        await _open_entry(uow, entry_id)
        if not await uow.dead_letters.resolve(entry_id, "discarded"):
            raise AlreadyResolved("the entry was already resolved")
        await uow.commit()
