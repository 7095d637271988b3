"""WebhookClient against the fake receiver: signing, event ids, retries, classification."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from pydantic import SecretStr

from callstream_common.outbound_http import InCallRetry
from callstream_notifier.alerts import AlertRule, evaluate_rules
from callstream_notifier.errors import PermanentDeliveryError, RetryableDeliveryError
from callstream_notifier.slack import CallSummary, ConversationLinks
from callstream_notifier.webhooks import (
    EVENT_ANALYZED,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookClient,
    WebhookTarget,
    build_webhook_event,
    verify_signature,
)
from tests.support.fake_slack import FakeSlack

FAST = InCallRetry(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=2.0)
SECRET = "whsec-test-secret"


@pytest.fixture
def receiver() -> Any:
    with FakeSlack(receiver_secret=SECRET) as server:
        yield server


def target(server: FakeSlack, name: str = "crm") -> WebhookTarget:
    return WebhookTarget(name=name, url=server.receiver_url(name), secret=SecretStr(SECRET))


@pytest.fixture
def event(call: CallSummary, analysis: Any, links: ConversationLinks) -> dict[str, Any]:
    rules = [AlertRule(id="low", name="Low", kind="overall_below", threshold=4)]
    return build_webhook_event(
        event_id="evt-1",
        event_type=EVENT_ANALYZED,
        conversation=call,
        analysis=analysis,
        links=links,
        alerts=evaluate_rules(rules, analysis),
    )


async def test_delivers_signed_event(receiver: FakeSlack, event: dict[str, Any]) -> None:
    async with WebhookClient(retry=FAST) as client:
        delivery = await client.send(target(receiver), event, event_id="evt-1")

    assert delivery.status_code == 200 and delivery.attempts == 1
    [request] = receiver.deliveries("crm")
    assert request.signature_valid is True  # the fake's own check
    timestamp, signature = request.header(TIMESTAMP_HEADER), request.header(SIGNATURE_HEADER)
    assert timestamp and signature
    assert verify_signature(SECRET, timestamp, request.body, signature)
    assert request.header(EVENT_ID_HEADER) == "evt-1"
    assert request.header("Content-Type") == "application/json"
    body = json.loads(request.body)
    assert body["id"] == "evt-1" and body["type"] == EVENT_ANALYZED
    assert body["analysis"]["qualification_status"] == "Medium"
    assert body["alerts"][0]["rule_id"] == "low"
    assert body["links"]["analysis_url"].endswith("/analysis")


async def test_retries_keep_the_event_id_and_resign(
    receiver: FakeSlack, event: dict[str, Any]
) -> None:
    receiver.fail_next(2, status=502)
    clock = iter([1_700_000_000.0, 1_700_000_100.0, time.time()])
    async with WebhookClient(retry=FAST, clock=lambda: next(clock)) as client:
        delivery = await client.send(target(receiver), event, event_id=uuid.UUID(int=7))

    assert delivery.attempts == 3
    requests = receiver.requests
    assert [r.status for r in requests] == [502, 502, 200]
    assert {r.header(EVENT_ID_HEADER) for r in requests} == {str(uuid.UUID(int=7))}
    assert len({r.header(TIMESTAMP_HEADER) for r in requests}) == 3  # signed per attempt
    assert len(receiver.deliveries()) == 1


async def test_rate_limit_with_retry_after(receiver: FakeSlack, event: dict[str, Any]) -> None:
    receiver.fail_next(1, status=429, retry_after=1)
    started = time.monotonic()
    async with WebhookClient(retry=FAST) as client:
        delivery = await client.send(target(receiver), event, event_id="evt-1")
    assert delivery.attempts == 2 and time.monotonic() - started >= 0.95


async def test_repeated_503_is_retryable(receiver: FakeSlack, event: dict[str, Any]) -> None:
    receiver.fail_for(30, status=503)
    async with WebhookClient(retry=FAST) as client:
        with pytest.raises(RetryableDeliveryError) as info:
            await client.send(target(receiver), event, event_id="evt-1")
    assert info.value.status_code == 503 and info.value.attempts == 3
    assert receiver.deliveries() == []


@pytest.mark.parametrize("status", [400, 404, 410, 301])
async def test_client_errors_are_permanent(
    receiver: FakeSlack, event: dict[str, Any], status: int
) -> None:
    receiver.fail_next(1, status=status)
    async with WebhookClient(retry=FAST) as client:
        with pytest.raises(PermanentDeliveryError) as info:
            await client.send(target(receiver), event, event_id="evt-1")
    assert info.value.status_code == status and len(receiver.requests) == 1


async def test_wrong_secret_is_rejected_permanently(
    receiver: FakeSlack, event: dict[str, Any]
) -> None:
    wrong = WebhookTarget(url=receiver.receiver_url(), secret=SecretStr("not-the-secret"))
    async with WebhookClient(retry=FAST) as client:
        with pytest.raises(PermanentDeliveryError) as info:
            await client.send(wrong, event, event_id="evt-1")
    assert info.value.status_code == 401
    assert receiver.requests[0].signature_valid is False


async def test_stale_clock_fails_receiver_tolerance(
    receiver: FakeSlack, event: dict[str, Any]
) -> None:
    async with WebhookClient(retry=FAST, clock=lambda: time.time() - 3600) as client:
        with pytest.raises(PermanentDeliveryError):
            await client.send(target(receiver), event, event_id="evt-1")


def test_target_validation() -> None:
    with pytest.raises(ValueError):
        WebhookTarget(url="ftp://x.example", secret=SecretStr("s"))
    with pytest.raises(ValueError):
        WebhookTarget(url="https://x.example/hook", secret=SecretStr(""))
