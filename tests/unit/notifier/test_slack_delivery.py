"""SlackClient against the fake Slack server: success, retries and error classification."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from pydantic import SecretStr

from callstream_common.outbound_http import InCallRetry
from callstream_notifier.errors import PermanentDeliveryError, RetryableDeliveryError
from callstream_notifier.slack import (
    CallSummary,
    ConversationLinks,
    SlackClient,
    build_slack_message,
)
from tests.support.fake_slack import FakeSlack

FAST = InCallRetry(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=2.0)


def bot(server: FakeSlack, *, token: str | None = None, **kwargs: Any) -> SlackClient:
    return SlackClient(
        bot_token=SecretStr(token or server.bot_token),
        channel="#deals",
        api_base_url=server.api_url,
        retry=kwargs.pop("retry", FAST),
        **kwargs,
    )


@pytest.fixture
def message(call: CallSummary, analysis: Any, links: ConversationLinks) -> dict[str, Any]:
    return build_slack_message(call, analysis, links)


async def test_posts_once_with_bearer_token(
    fake_slack: FakeSlack, message: dict[str, Any], call: CallSummary
) -> None:
    async with bot(fake_slack) as client:
        delivery = await client.post_message(message)

    assert delivery.channel == "#deals" and delivery.ts and delivery.attempts == 1
    [request] = fake_slack.requests
    assert request.path == "/api/chat.postMessage"
    assert request.header("Authorization") == f"Bearer {fake_slack.bot_token}"
    assert request.json["channel"] == "#deals"
    assert request.json["blocks"] == message["blocks"]
    assert len(fake_slack.messages_for(call.conversation_id)) == 1


async def test_channel_override(fake_slack: FakeSlack, message: dict[str, Any]) -> None:
    async with bot(fake_slack) as client:
        delivery = await client.post_message(message, channel="#alerts")
    assert delivery.channel == "#alerts"


async def test_rate_limit_honours_retry_after_then_succeeds(
    fake_slack: FakeSlack, message: dict[str, Any], call: CallSummary
) -> None:
    fake_slack.fail_next(1, status=429, retry_after=1)
    started = time.monotonic()
    async with bot(fake_slack) as client:
        delivery = await client.post_message(message)

    assert time.monotonic() - started >= 0.95
    assert delivery.attempts == 2
    assert [r.status for r in fake_slack.requests] == [429, 200]
    assert len(fake_slack.messages_for(call.conversation_id)) == 1


async def test_server_error_then_success(fake_slack: FakeSlack, message: dict[str, Any]) -> None:
    fake_slack.fail_next(1, status=500)
    async with bot(fake_slack) as client:
        delivery = await client.post_message(message)
    assert delivery.attempts == 2 and len(fake_slack.messages) == 1


async def test_ok_false_transient_error_is_left_to_the_retry_topic(
    fake_slack: FakeSlack, message: dict[str, Any]
) -> None:
    """slack-sdk retries HTTP-level failures only; a transient ``ok: false`` code is
    classified retryable and the Kafka retry topic tries again later."""
    fake_slack.fail_next(1, status=200, error="service_unavailable")
    async with bot(fake_slack) as client:
        with pytest.raises(RetryableDeliveryError) as info:
            await client.post_message(message)
    assert info.value.error == "service_unavailable" and info.value.attempts == 1


async def test_invalid_auth_is_permanent_and_not_retried(
    fake_slack: FakeSlack, message: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with bot(fake_slack, token="xoxb-wrong-token") as client:
        with pytest.raises(PermanentDeliveryError) as info:
            await client.post_message(message)

    assert info.value.error == "invalid_auth" and info.value.attempts == 1
    assert len(fake_slack.requests) == 1
    assert "xoxb-wrong-token" not in caplog.text and "xoxb-wrong-token" not in str(info.value)


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel"])
async def test_channel_errors_are_permanent(
    fake_slack: FakeSlack, message: dict[str, Any], error: str
) -> None:
    fake_slack.fail_next(1, status=200, error=error)
    async with bot(fake_slack) as client:
        with pytest.raises(PermanentDeliveryError) as info:
            await client.post_message(message)
    assert info.value.error == error


async def test_invalid_blocks_are_permanent(fake_slack: FakeSlack) -> None:
    bad = {"text": "x", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]}
    async with bot(fake_slack) as client:
        with pytest.raises(PermanentDeliveryError) as info:
            await client.post_message(bad)
    assert info.value.error == "invalid_blocks"


async def test_repeated_503_raises_retryable_after_all_attempts(
    fake_slack: FakeSlack, message: dict[str, Any]
) -> None:
    fake_slack.fail_for(30, status=503)
    async with bot(fake_slack) as client:
        with pytest.raises(RetryableDeliveryError) as info:
            await client.post_message(message)
    assert info.value.status_code == 503 and info.value.attempts == FAST.attempts
    assert len(fake_slack.requests) == FAST.attempts and fake_slack.messages == []


async def test_retry_after_beyond_cap_is_left_to_the_retry_topic(
    fake_slack: FakeSlack, message: dict[str, Any]
) -> None:
    fake_slack.fail_next(1, status=429, retry_after=60)
    started = time.monotonic()
    async with bot(fake_slack) as client:
        with pytest.raises(RetryableDeliveryError) as info:
            await client.post_message(message)
    assert time.monotonic() - started < 1
    assert info.value.retry_after == 60 and info.value.attempts == 1


async def test_unreachable_slack_is_retryable(message: dict[str, Any]) -> None:
    with FakeSlack() as server:
        api_url = server.api_url
    client = SlackClient(
        bot_token=SecretStr("xoxb-x"), channel="#deals", api_base_url=api_url, retry=FAST
    )
    async with client:
        with pytest.raises(RetryableDeliveryError) as info:
            await client.post_message(message)
    assert info.value.attempts == FAST.attempts


async def test_timeout_is_retryable(fake_slack: FakeSlack, message: dict[str, Any]) -> None:
    fake_slack.delay_next(1, 0.5)
    async with bot(fake_slack, timeout=0.2) as client:
        delivery = await client.post_message(message)
    assert delivery.attempts == 2
    # at-least-once: the slow first request is still processed by the (fake) Slack
    assert len(fake_slack.wait_for_messages(2, timeout=5)) == 2


async def test_incoming_webhook(
    fake_slack: FakeSlack,
    message: dict[str, Any],
    call: CallSummary,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_slack.fail_next(1, status=500)
    client = SlackClient(webhook_url=SecretStr(fake_slack.webhook_url), retry=FAST)
    async with client:
        delivery = await client.post_message(message, channel="#ignored")

    assert client.mode == "webhook" and delivery.ts is None and delivery.attempts == 2
    assert len(fake_slack.messages_for(call.conversation_id)) == 1
    assert fake_slack.webhook_path not in caplog.text  # the URL path is the credential
    assert "/***" in caplog.text  # slack-sdk did log the URL, redacted


async def test_incoming_webhook_rejection_is_permanent(fake_slack: FakeSlack) -> None:
    client = SlackClient(webhook_url=SecretStr(fake_slack.webhook_url), retry=FAST)
    async with client:
        with pytest.raises(PermanentDeliveryError) as info:
            await client.post_message({"blocks": [{"type": "bogus"}]})
    assert info.value.status_code == 400 and info.value.error == "invalid_blocks"


async def test_incoming_webhook_unknown_path_is_permanent(fake_slack: FakeSlack) -> None:
    url = fake_slack.base_url + "/services/T000/B000/WRONG"
    client = SlackClient(webhook_url=SecretStr(url), retry=FAST)
    async with client:
        with pytest.raises(PermanentDeliveryError) as info:
            await client.post_message({"text": "hi"})
    assert info.value.status_code == 404 and "WRONG" not in str(info.value)


def test_client_configuration_is_checked() -> None:
    with pytest.raises(ValueError):
        SlackClient()
    with pytest.raises(ValueError):
        SlackClient(bot_token=SecretStr("x"), webhook_url=SecretStr("https://h.example/s"))
    with pytest.raises(ValueError):
        SlackClient(bot_token=SecretStr(""))


async def test_missing_channel_is_a_programming_error(fake_slack: FakeSlack) -> None:
    client = SlackClient(bot_token=SecretStr(fake_slack.bot_token), api_base_url=fake_slack.api_url)
    async with client:
        with pytest.raises(ValueError):
            await client.post_message({"text": "hi"})
