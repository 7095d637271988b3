"""Where a conversation's status may go next, and what else changes with it — pure rules.

Status only moves forward (pending → processing → completed | failed), so a late or
redelivered message can never move a finished call back. The one way back is a deliberate
reopen (``failed`` → ``processing``) that a DLQ replay asks for. The SQL adapter turns
:func:`moves_from` into its ``WHERE status IN (…)`` guard and the in-memory fake checks the
same sets, so the rule is written here only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callstream_common.db.models import ConversationStatus
from callstream_common.retry import PermanentError

FINISHED = frozenset({ConversationStatus.COMPLETED, ConversationStatus.FAILED})
_OPEN = frozenset({ConversationStatus.PENDING, ConversationStatus.PROCESSING})
_FORWARD: dict[ConversationStatus, frozenset[ConversationStatus]] = {
    ConversationStatus.PROCESSING: _OPEN,
    ConversationStatus.COMPLETED: _OPEN,
    ConversationStatus.FAILED: _OPEN,
}
_REOPEN: dict[ConversationStatus, frozenset[ConversationStatus]] = {
    ConversationStatus.PROCESSING: frozenset({ConversationStatus.FAILED}),
}
FAILURE_REASON_LIMIT = 2000


class ConversationMissing(PermanentError):
    """An event names a conversation that does not exist: no retry can make it appear."""

    def __init__(self, conversation_id: uuid.UUID) -> None:
        super().__init__(f"conversation {conversation_id} does not exist")


def moves_from(
    target: ConversationStatus,
    *,
    reopen: bool = False,
    only_from: frozenset[ConversationStatus] | None = None,
) -> frozenset[ConversationStatus]:
    """The statuses from which a conversation may move to ``target``; ``only_from``
    narrows them (a claim: pending → processing, taken by the first delivery alone)."""
    allowed = (_REOPEN if reopen else _FORWARD).get(target, frozenset())
    return allowed if only_from is None else allowed & only_from


def can_move(
    current: ConversationStatus,
    target: ConversationStatus,
    *,
    reopen: bool = False,
    only_from: frozenset[ConversationStatus] | None = None,
) -> bool:
    return ConversationStatus(current) in moves_from(target, reopen=reopen, only_from=only_from)


UNCLAIMED = frozenset({ConversationStatus.PENDING})
"""What a stage's claim moves from: a move that succeeds from here is the call's first."""


def status_fields(
    target: ConversationStatus,
    now: datetime,
    *,
    stage: str | None = None,
    reason: str | None = None,
    reopen: bool = False,
) -> dict[str, Any]:
    """The columns a move to ``target`` writes: a finished call gets its completion time,
    a failed one its reason and stage, a reopened one loses all three."""
    fields: dict[str, Any] = {"status": target.value, "updated_at": now}
    if target == ConversationStatus.COMPLETED:
        fields |= {"completed_at": now, "failure_reason": None}
    elif target == ConversationStatus.FAILED:
        fields |= {
            "completed_at": now,
            "failure_reason": (reason or "")[:FAILURE_REASON_LIMIT],
            "failure_stage": stage,
        }
    elif reopen:
        fields |= {"completed_at": None, "failure_reason": None, "failure_stage": None}
    return fields


def timing_entry(
    started: datetime, finished: datetime | None = None, **extra: Any
) -> dict[str, Any]:
    """One stage's entry in the conversation's ``timings``: when it started and, once it
    finished, when and how many seconds it took."""
    entry: dict[str, Any] = {"started_at": started.isoformat(), **extra}
    if finished is not None:
        entry["finished_at"] = finished.isoformat()
        entry["seconds"] = round((finished - started).total_seconds(), 3)
    return entry


@dataclass(frozen=True)
class StageTiming:
    """A stage's timing entry, written by the same statement as the change it goes with
    (a status move, a stored transcript or analysis) rather than by one of its own."""

    stage: str
    started: datetime
    finished: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def entries(self) -> dict[str, dict[str, Any]]:
        """What is merged into ``timings``: this stage's entry, replacing an earlier one."""
        return {self.stage: timing_entry(self.started, self.finished, **self.extra)}
