"""Wiring of the notifier service."""

from __future__ import annotations

import logging

from faststream import FastStream

from callstream_common import topics
from callstream_common.contracts import CallAnalyzed
from callstream_common.runtime import build_runtime
from callstream_notifier.deliveries import SqlDeliveryLog
from callstream_notifier.dlq import DlqRecorder, GrowthMonitor
from callstream_notifier.handlers import STAGE, NotifierHandlers
from callstream_notifier.settings import NotifierSettings
from callstream_notifier.slack import SlackClient
from callstream_notifier.webhooks import WebhookTarget

log = logging.getLogger(__name__)


def create_app(settings: NotifierSettings | None = None) -> FastStream:
    settings = settings or NotifierSettings()
    runtime = build_runtime(settings)
    slack = None
    if settings.slack_bot_token is not None or settings.slack_webhook_url is not None:
        slack = SlackClient(
            bot_token=settings.slack_bot_token,
            channel=settings.slack_channel,
            webhook_url=None if settings.slack_bot_token else settings.slack_webhook_url,
            api_base_url=settings.slack_api_base_url,
        )
    webhook = None
    if settings.webhook_url and settings.webhook_secret is not None:
        webhook = WebhookTarget(url=settings.webhook_url, secret=settings.webhook_secret)
    handlers = NotifierHandlers(
        runtime.unit_of_work,
        SqlDeliveryLog(runtime.sessions, settings.alert_rules_refresh_seconds),
        settings.console_base_url or settings.public_base_url,
        slack,
        webhook,
    )
    runtime.consume(
        topics.CALLS_ANALYZED,
        CallAnalyzed,
        handlers.on_analyzed,
        runtime.fail_conversation_on_dead_letter(STAGE),
    )

    async def dlq_alert(text: str) -> None:
        log.error("DLQ alert: %s", text)
        if slack is not None:
            await slack.post_message(
                {
                    "text": f":warning: {text}",
                    "blocks": [
                        {"type": "section", "text": {"type": "mrkdwn", "text": f":warning: {text}"}}
                    ],
                }
            )

    DlqRecorder(
        runtime.sessions,
        GrowthMonitor(
            settings.dlq_alert_threshold,
            settings.dlq_alert_window_seconds,
            settings.dlq_alert_cooldown_seconds,
        ),
        dlq_alert,
    ).subscribe(runtime.broker, settings.dlq_consumer_group)
    return runtime.application(on_shutdown=[runtime.shutdown])
