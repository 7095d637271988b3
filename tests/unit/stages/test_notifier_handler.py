"""The notifier's handler against the in-memory unit of work and delivery log."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from pydantic import SecretStr

from callstream_common.contracts import CallAnalyzed, QualificationStatus
from callstream_common.conversations.status import ConversationMissing
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.db.models import ConversationStatus
from callstream_common.retry import PermanentError, RetryableError, is_permanent
from callstream_notifier.alerts import AlertKind, AlertRule
from callstream_notifier.errors import PermanentDeliveryError, RetryableDeliveryError
from callstream_notifier.handlers import NotifierHandlers
from callstream_notifier.webhooks import WebhookDelivery, WebhookTarget
from tests.unit.fakes import FakeDatabase, FakeDeliveryLog, conversation
from tests.unit.stages.conftest import ANALYSIS

TARGET = WebhookTarget(url="https://hooks.example.com/in", secret=SecretStr("s"))


class ScriptedWebhooks:
    """Stands in for the HTTP client: records the bodies, or raises the scripted errors."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.bodies: list[Mapping[str, Any]] = []

    async def send(
        self, target: WebhookTarget, payload: Mapping[str, Any], *, event_id: object
    ) -> WebhookDelivery:
        self.bodies.append(payload)
        if self.errors:
            raise self.errors.pop(0)
        return WebhookDelivery(event_id=str(event_id), status_code=204, attempts=1)


def analyzed(conversation_id: uuid.UUID) -> CallAnalyzed:
    return CallAnalyzed(
        conversation_id=conversation_id,
        overall_score=3.0,
        qualification_status=QualificationStatus.MEDIUM,
    )


def notifier(
    uow: Callable[[], UnitOfWork], log: FakeDeliveryLog, webhooks: ScriptedWebhooks | None = None
) -> NotifierHandlers:
    return NotifierHandlers(
        uow,
        log,
        "https://callstream.example.com",
        webhook=TARGET if webhooks else None,
        webhooks=webhooks,  # type: ignore[arg-type]
    )


def analysed(db: FakeDatabase) -> uuid.UUID:
    conv = db.add(conversation(ConversationStatus.PROCESSING))
    db.analyses[conv.id] = ANALYSIS
    return conv.id


async def test_an_analysed_call_is_notified_alerted_and_completed(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv_id = analysed(db)
    rule = AlertRule(id=str(uuid.uuid4()), name="weak", kind=AlertKind.OVERALL_BELOW, threshold=4)
    log = FakeDeliveryLog(rules=[rule])
    webhooks = ScriptedWebhooks()
    await notifier(uow, log, webhooks).on_analyzed(analyzed(conv_id))

    assert db.status(conv_id) == ConversationStatus.COMPLETED
    assert db.conversations[conv_id].completed_at is not None
    assert "notification" in (db.conversations[conv_id].timings or {})
    assert len(log.sent("log")) == 1 and len(log.sent("webhook")) == 1
    assert list(log.alerts) == [(rule.id, conv_id)]
    [body] = webhooks.bodies
    assert body["conversation"]["conversation_id"] == str(conv_id)


async def test_a_missing_conversation_is_a_permanent_failure(
    uow: Callable[[], UnitOfWork],
) -> None:
    with pytest.raises(ConversationMissing):
        await notifier(uow, FakeDeliveryLog()).on_analyzed(analyzed(uuid.uuid4()))


async def test_a_conversation_without_analysis_is_a_permanent_failure(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv = db.add(conversation(ConversationStatus.PROCESSING))
    log = FakeDeliveryLog()
    with pytest.raises(PermanentError, match="has no analysis"):
        await notifier(uow, log).on_analyzed(analyzed(conv.id))
    assert log.rows == {}


@pytest.mark.parametrize("status", [ConversationStatus.COMPLETED, ConversationStatus.FAILED])
async def test_a_finished_call_is_not_notified_again(
    db: FakeDatabase, uow: Callable[[], UnitOfWork], status: ConversationStatus
) -> None:
    conv = db.add(conversation(status))
    db.analyses[conv.id] = ANALYSIS
    log = FakeDeliveryLog()
    await notifier(uow, log, ScriptedWebhooks()).on_analyzed(analyzed(conv.id))
    assert log.rows == {} and db.status(conv.id) == status


async def test_a_redelivery_sends_nothing_twice(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv_id = analysed(db)
    log, webhooks = FakeDeliveryLog(), ScriptedWebhooks()
    stage = notifier(uow, log, webhooks)
    await stage.on_analyzed(analyzed(conv_id))
    db.conversations[conv_id].status = ConversationStatus.PROCESSING  # as if not yet committed
    await stage.on_analyzed(analyzed(conv_id))
    assert len(webhooks.bodies) == 1


async def test_a_retryable_delivery_failure_keeps_the_call_open_and_the_retry_delivers(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv_id = analysed(db)
    log = FakeDeliveryLog()
    webhooks = ScriptedWebhooks(RetryableDeliveryError("HTTP 503", target="hooks", retry_after=7))
    stage = notifier(uow, log, webhooks)
    with pytest.raises(RetryableError) as raised:
        await stage.on_analyzed(analyzed(conv_id))
    assert not is_permanent(raised.value) and raised.value.retry_after == 7
    assert db.status(conv_id) == ConversationStatus.PROCESSING
    assert log.sent("webhook") == [] and len(log.sent("log")) == 1

    await stage.on_analyzed(analyzed(conv_id))
    assert db.status(conv_id) == ConversationStatus.COMPLETED
    assert len(log.sent("log")) == 1 and len(log.sent("webhook")) == 1


async def test_a_permanent_delivery_failure_is_permanent(
    db: FakeDatabase, uow: Callable[[], UnitOfWork]
) -> None:
    conv_id = analysed(db)
    webhooks = ScriptedWebhooks(PermanentDeliveryError("HTTP 410", target="hooks"))
    with pytest.raises(PermanentError) as raised:
        await notifier(uow, FakeDeliveryLog(), webhooks).on_analyzed(analyzed(conv_id))
    assert is_permanent(raised.value)
    assert db.status(conv_id) == ConversationStatus.PROCESSING
