"""calls.analyzed → Slack / webhook / log notifications and alerts → conversation completed.

Each delivery is a row in ``notifications``, unique per (conversation, channel, target):
the row is claimed before sending and marked ``sent`` after, so a redelivered event finds
the ``sent`` row and sends nothing. Alerts are unique per (rule, conversation).

A crash after the receiver accepted a message but before the ``sent`` mark committed leaves
the row claimed and unsent. Slack messages (bot token) therefore carry message metadata
naming the conversation and the notification; a delivery whose row was claimed before looks
for that message in the channel's history and only posts when it is not there.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import Block

from callstream_common.contracts import CallAnalyzed
from callstream_common.conversations.status import StageTiming
from callstream_common.conversations.unit_of_work import UnitOfWork
from callstream_common.db.models import ConversationStatus
from callstream_common.retry import PermanentError
from callstream_common.slack_blocks import SlackThread
from callstream_notifier.alerts import evaluate_rules
from callstream_notifier.call_facts_blocks import call_facts_blocks
from callstream_notifier.deliveries import DeliveryLog
from callstream_notifier.slack import (
    CallSummary,
    ConversationLinks,
    SlackClient,
    build_alert_message,
    build_slack_message,
)
from callstream_notifier.webhooks import (
    WebhookClient,
    WebhookTarget,
    build_webhook_event,
)

log = logging.getLogger(__name__)
STAGE = "notification"

#: ``event_type`` of the Slack message metadata that marks a notification as ours.
SLACK_METADATA_EVENT = "callstream_notification"
#: How far back (seconds) before the first claim the channel history is searched, for
#: clock differences between us and Slack.
HISTORY_MARGIN_SECONDS = 120
#: Pages of ``conversations.history`` (200 messages each) searched at most.
HISTORY_PAGES = 5

Lookup = Callable[[datetime], Awaitable[dict[str, Any] | None]]
"""Finds an earlier delivery of a notification (claimed since the given time) at the
receiver; returns what to record as its response, or None if it never arrived."""


@dataclass
class NotifierHandlers:
    unit_of_work: Callable[[], UnitOfWork]
    deliveries: DeliveryLog
    base_url: str
    slack: SlackClient | None = None
    webhook: WebhookTarget | None = None
    webhooks: WebhookClient = field(default_factory=WebhookClient)

    async def on_analyzed(self, event: CallAnalyzed) -> None:
        started = datetime.now(UTC)
        async with self.unit_of_work() as uow:
            await uow.statements_alone()  # reads of rows written once
            loaded = await uow.conversations.load_with_analysis(event.conversation_id)
            if loaded is None:
                return
            conv, analysis = loaded
        if analysis is None:
            raise PermanentError(f"conversation {conv.id} has no analysis")
        rules = await self.deliveries.alert_rules()
        summary = CallSummary.of(conv)
        url = f"{self.base_url.rstrip('/')}/v1/conversations/{conv.id}"
        links = ConversationLinks(
            transcript_url=f"{url}#transcript", analysis_url=f"{url}#analysis"
        )
        alerts = evaluate_rules(rules, analysis)
        await self.deliveries.record_alerts(conv.id, alerts)

        facts = call_facts_blocks(analysis, f"callstream:{conv.id}:facts")
        sections = [block for b in facts if (block := Block.parse(b)) is not None]
        message = build_slack_message(summary, analysis, links, extra_sections=sections)
        if await self.deliveries.record_sent(conv.id, "log", "log", message, {"logged": True}):
            log.info(
                "notification: %s — %s, score %.1f",
                summary.title or summary.opportunity_name,
                analysis.qualification_status.value,
                analysis.overall_score,
            )
        if self.slack is not None:
            slack = self.slack
            thread = _thread(slack, conv.slack_thread)
            scorecard = _with_metadata(slack, message, conv.id, "slack")
            await self._deliver(
                conv.id,
                "slack",
                slack.mode,
                scorecard,
                lambda: _slack_send(slack, scorecard, thread),
                self._slack_lookup(slack, conv.id, "slack", thread),
            )
            if alerts:
                alert_message = _with_metadata(
                    slack, build_alert_message(summary, alerts, links), conv.id, "slack-alert"
                )
                await self._deliver(
                    conv.id,
                    "slack-alert",
                    slack.mode,
                    alert_message,
                    lambda: _slack_send(slack, alert_message),
                    self._slack_lookup(slack, conv.id, "slack-alert"),
                )
        if self.webhook is not None:
            target = self.webhook
            body = build_webhook_event(
                event_id=event.event_id,
                event_type="call.analyzed",
                conversation=summary,
                analysis=analysis,
                links=links,
                alerts=alerts,
            )
            await self._deliver(
                conv.id,
                "webhook",
                target.name,
                body,
                lambda: _webhook_send(self.webhooks, target, body, event.event_id),
            )
        async with self.unit_of_work() as uow:
            await uow.statements_alone()  # one guarded move
            await uow.conversations.move(
                conv.id,
                ConversationStatus.COMPLETED,
                timing=StageTiming(STAGE, started, datetime.now(UTC)),
            )
            await uow.commit()

    async def _deliver(
        self,
        conversation_id: uuid.UUID,
        channel: str,
        target: str,
        payload: dict[str, Any],
        send: Any,
        lookup: Lookup | None = None,
    ) -> None:
        """Send once per (conversation, channel, target). ``lookup``, when the receiver can
        be asked, checks whether an earlier claim of the row did deliver (crash before the
        ``sent`` mark) so that the message is not sent twice."""
        claim = await self.deliveries.claim(conversation_id, channel, target, payload)
        if claim.status == "sent":
            return
        response = None
        if claim.attempts > 1 and lookup is not None:
            response = await lookup(claim.claimed_at)
            if response is not None:
                log.warning(
                    "%s notification of %s was delivered by an earlier attempt that did not "
                    "record it; not sending it again",
                    channel,
                    conversation_id,
                )
        if response is None:
            response = await send()
        await self.deliveries.mark_sent(conversation_id, channel, target, response)

    def _slack_lookup(
        self,
        slack: SlackClient,
        conversation_id: uuid.UUID,
        channel: str,
        thread: SlackThread | None = None,
    ) -> Lookup | None:
        """Search the Slack channel (or the thread the call was shared in) for this
        notification (bot token only: an incoming webhook can neither carry metadata nor
        read history)."""
        if slack.mode != "bot":
            return None

        async def lookup(claimed_at: datetime) -> dict[str, Any] | None:
            channel_id = thread.channel if thread else await self._slack_channel_id(slack)
            if channel_id is None:
                return None
            return await _find_slack_message(
                slack, channel_id, conversation_id, channel, claimed_at, thread
            )

        return lookup

    async def _slack_channel_id(self, slack: SlackClient) -> str | None:
        """``conversations.history`` wants the channel's id; ``chat.postMessage`` answers
        with it, so the last recorded Slack delivery knows it. Before any delivery: the
        configured channel (an id such as ``C0123…`` works; a ``#name`` does not)."""
        known = await self.deliveries.last_slack_channel_id()
        return known or slack.default_channel


def _thread(slack: SlackClient, stored: dict[str, Any] | None) -> SlackThread | None:
    """The Slack thread the recording was shared in (bot mode: a webhook cannot reply)."""
    if stored is None or slack.mode != "bot":
        return None
    return SlackThread.model_validate(stored)


async def _slack_send(
    slack: SlackClient, message: dict[str, Any], thread: SlackThread | None = None
) -> dict[str, Any]:
    if thread is None:
        delivery = await slack.post_message(message)
    else:
        delivery = await slack.post_message(
            message, channel=thread.channel, thread_ts=thread.thread_ts
        )
    response = {"channel": delivery.channel, "ts": delivery.ts, "attempts": delivery.attempts}
    return response if thread is None else {**response, "thread_ts": thread.thread_ts}


def _with_metadata(
    slack: SlackClient, message: dict[str, Any], conversation_id: uuid.UUID, channel: str
) -> dict[str, Any]:
    """The message with Slack message metadata naming the notification (bot token only)."""
    if slack.mode != "bot":
        return message
    metadata = {
        "event_type": SLACK_METADATA_EVENT,
        "event_payload": {"conversation_id": str(conversation_id), "notification": channel},
    }
    return {**message, "metadata": metadata}


async def _find_slack_message(
    slack: SlackClient,
    channel_id: str,
    conversation_id: uuid.UUID,
    channel: str,
    claimed_at: datetime,
    thread: SlackThread | None = None,
) -> dict[str, Any] | None:
    """The posted message of this notification, found by its metadata, as a delivery
    response; None when it is not there (or the history cannot be read)."""

    def ours(message: Mapping[str, Any]) -> bool:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        return bool(
            metadata.get("event_type") == SLACK_METADATA_EVENT
            and payload.get("conversation_id") == str(conversation_id)
            and payload.get("notification") == channel
        )

    found = await slack.find_message(
        channel_id,
        claimed_at.timestamp() - HISTORY_MARGIN_SECONDS,
        ours,
        HISTORY_PAGES,
        thread_ts=thread.thread_ts if thread else None,
    )
    if found is None:
        return None
    response = {"channel": channel_id, "ts": found.get("ts"), "recovered": True}
    return response if thread is None else {**response, "thread_ts": thread.thread_ts}


async def _webhook_send(
    client: WebhookClient, target: WebhookTarget, body: dict[str, Any], event_id: uuid.UUID
) -> dict[str, Any]:
    delivery = await client.send(target, body, event_id=event_id)
    return {"status_code": delivery.status_code, "attempts": delivery.attempts}
