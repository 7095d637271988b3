"""The one rule for a conversation's status: forward only, back only by a reopen."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callstream_common.conversations.status import UNCLAIMED, can_move, status_fields
from callstream_common.db.models import ConversationStatus as S


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (S.PENDING, S.PROCESSING, True),
        (S.PROCESSING, S.PROCESSING, True),
        (S.PROCESSING, S.COMPLETED, True),
        (S.PENDING, S.FAILED, True),
        (S.COMPLETED, S.PROCESSING, False),
        (S.FAILED, S.PROCESSING, False),
        (S.COMPLETED, S.FAILED, False),
        (S.FAILED, S.COMPLETED, False),
        (S.PROCESSING, S.PENDING, False),
    ],
)
def test_status_only_moves_forward(current: S, target: S, allowed: bool) -> None:
    assert can_move(current, target) is allowed


def test_only_a_failed_call_can_be_reopened() -> None:
    assert can_move(S.FAILED, S.PROCESSING, reopen=True)
    assert not can_move(S.COMPLETED, S.PROCESSING, reopen=True)
    assert not can_move(S.FAILED, S.COMPLETED, reopen=True)


def test_a_failure_keeps_its_reason_and_stage_and_a_reopen_clears_them() -> None:
    now = datetime.now(UTC)
    failed = status_fields(S.FAILED, now, stage="analysis", reason="x" * 3000)
    assert failed["failure_stage"] == "analysis" and len(failed["failure_reason"]) == 2000
    assert failed["completed_at"] == now
    reopened = status_fields(S.PROCESSING, now, reopen=True)
    assert reopened["failure_reason"] is None and reopened["completed_at"] is None


def test_a_claim_moves_only_a_pending_call() -> None:
    """The transcriber's claim: the first delivery moves the call to processing; a
    redelivery finds it processing already and looks at what it has instead."""
    assert can_move(S.PENDING, S.PROCESSING, only_from=UNCLAIMED)
    assert not can_move(S.PROCESSING, S.PROCESSING, only_from=UNCLAIMED)
    assert not can_move(S.FAILED, S.PROCESSING, only_from=UNCLAIMED)
    assert not can_move(S.COMPLETED, S.PROCESSING, only_from=UNCLAIMED)
