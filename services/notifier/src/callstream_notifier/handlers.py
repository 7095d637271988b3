"""calls.analyzed → Slack / webhook / log notifications and alerts → conversation completed.

Each delivery is a row in ``notifications``, unique per (conversation, channel, target):
the row is claimed before sending and marked ``sent`` after, so a redelivered event finds
the ``sent`` row and sends nothing. Alerts are unique per (rule, conversation).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from callstream_common.contracts import CallAnalyzed, MeddicAnalysis
from callstream_common.db import repo
from callstream_common.db.models import (
    AlertRow,
    AlertRuleRow,
    Conversation,
    ConversationStatus,
    MeddicAnalysisRow,
    Notification,
)
from callstream_common.retry import PermanentError, RetryableError
from callstream_common.runtime import Runtime
from callstream_notifier.alerts import AlertRule, AlertTriggered, evaluate_rules
from callstream_notifier.errors import PermanentDeliveryError, RetryableDeliveryError
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


@dataclass
class NotifierHandlers:
    runtime: Runtime
    base_url: str
    slack: SlackClient | None = None
    webhook: WebhookTarget | None = None
    webhooks: WebhookClient = field(default_factory=WebhookClient)

    async def on_analyzed(self, event: CallAnalyzed) -> None:
        started = datetime.now(UTC)
        async with self.runtime.sessions() as session:
            conv = await session.get(Conversation, event.conversation_id)
            if conv is None:
                raise PermanentError(f"conversation {event.conversation_id} does not exist")
            if conv.status in (ConversationStatus.COMPLETED, ConversationStatus.FAILED):
                return
            row = (
                await session.execute(
                    select(MeddicAnalysisRow).where(
                        MeddicAnalysisRow.conversation_id == conv.id  # type: ignore[arg-type]
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                raise PermanentError(f"conversation {conv.id} has no analysis")
            rows = (
                await session.execute(select(AlertRuleRow).where(col(AlertRuleRow.enabled)))
            ).scalars()
            rules = [rule for rule in map(_rule, rows) if rule is not None]
        analysis = MeddicAnalysis.model_validate(
            {
                "dimensions": row.dimensions,
                "overall_score": row.overall_score,
                "qualification_status": row.qualification_status,
                "key_findings": row.key_findings,
                "next_steps": row.next_steps,
                "risks": row.risks,
                "provider": row.provider,
                "model": row.model,
                "agent_outputs": row.agent_outputs,
            }
        )
        summary = CallSummary(
            conversation_id=conv.id,
            title=conv.title,
            opportunity_name=conv.opportunity_name,
            company_name=conv.company_name,
            rep_id=conv.rep_id,
            conversation_date=conv.conversation_date,
            duration_seconds=conv.duration_seconds,
        )
        url = f"{self.base_url.rstrip('/')}/v1/conversations/{conv.id}"
        links = ConversationLinks(
            transcript_url=f"{url}#transcript", analysis_url=f"{url}#analysis"
        )
        alerts = evaluate_rules(rules, analysis)
        await self._record_alerts(conv.id, alerts)

        message = build_slack_message(summary, analysis, links)
        await self._deliver(conv.id, "log", "log", message, self._log_delivery(summary, analysis))
        if self.slack is not None:
            slack = self.slack
            await self._deliver(
                conv.id, "slack", slack.mode, message, lambda: _slack_send(slack, message)
            )
            if alerts:
                alert_message = build_alert_message(summary, alerts, links)
                await self._deliver(
                    conv.id,
                    "slack-alert",
                    slack.mode,
                    alert_message,
                    lambda: _slack_send(slack, alert_message),
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
        async with self.runtime.sessions() as session, session.begin():
            await repo.record_stage(session, conv.id, STAGE, started, datetime.now(UTC))
            await repo.mark_completed(session, conv.id)

    def _log_delivery(self, summary: CallSummary, analysis: MeddicAnalysis) -> Any:
        async def send() -> dict[str, Any]:
            log.info(
                "notification: %s — %s, score %.1f",
                summary.title or summary.opportunity_name,
                analysis.qualification_status.value,
                analysis.overall_score,
            )
            return {"logged": True}

        return send

    async def _deliver(
        self,
        conversation_id: uuid.UUID,
        channel: str,
        target: str,
        payload: dict[str, Any],
        send: Any,
    ) -> None:
        async with self.runtime.sessions() as session, session.begin():
            await session.execute(
                insert(Notification.__table__)  # type: ignore[attr-defined]
                .values(
                    id=uuid.uuid4(),
                    conversation_id=conversation_id,
                    channel=channel,
                    target=target,
                    status="pending",
                    payload=payload,
                    attempts=0,
                )
                .on_conflict_do_nothing(index_elements=["conversation_id", "channel", "target"])
            )
            status = (
                await session.execute(
                    text(
                        "UPDATE notifications SET attempts = attempts + 1 "
                        "WHERE conversation_id = :c "
                        "AND channel = :ch AND target = :t RETURNING status"
                    ),
                    {"c": conversation_id, "ch": channel, "t": target},
                )
            ).scalar_one()
        if status == "sent":
            return
        response = await send()
        async with self.runtime.sessions() as session, session.begin():
            await session.execute(
                text(
                    "UPDATE notifications SET status = 'sent', sent_at = now(), "
                    "response = CAST(:r AS jsonb) WHERE conversation_id = :c AND channel = :ch "
                    "AND target = :t"
                ),
                {"c": conversation_id, "ch": channel, "t": target, "r": _json(response)},
            )

    async def _record_alerts(
        self, conversation_id: uuid.UUID, alerts: list[AlertTriggered]
    ) -> None:
        if not alerts:
            return
        async with self.runtime.sessions() as session, session.begin():
            for alert in alerts:
                await session.execute(
                    insert(AlertRow.__table__)  # type: ignore[attr-defined]
                    .values(
                        id=uuid.uuid4(),
                        rule_id=uuid.UUID(alert.rule_id),
                        conversation_id=conversation_id,
                        message=alert.message,
                        severity=alert.severity.value,
                    )
                    .on_conflict_do_nothing(index_elements=["rule_id", "conversation_id"])
                )


def _rule(row: AlertRuleRow) -> AlertRule | None:
    """A stored rule, or None (logged) if it is malformed: one bad rule must not fail calls."""
    try:
        return AlertRule.model_validate(
            {"id": str(row.id), "name": row.name, "kind": row.kind, **(row.params or {})}
        )
    except ValidationError as exc:
        log.warning("alert rule %r ignored: %s", row.name, exc)
        return None


def _json(value: Any) -> str:
    import json

    return json.dumps(value, default=str)


async def _slack_send(slack: SlackClient, message: dict[str, Any]) -> dict[str, Any]:
    try:
        delivery = await slack.post_message(message)
    except PermanentDeliveryError as exc:
        raise PermanentError(str(exc)) from exc
    except RetryableDeliveryError as exc:
        raise RetryableError(str(exc), getattr(exc, "retry_after", None)) from exc
    return {"channel": delivery.channel, "ts": delivery.ts, "attempts": delivery.attempts}


async def _webhook_send(
    client: WebhookClient, target: WebhookTarget, body: dict[str, Any], event_id: uuid.UUID
) -> dict[str, Any]:
    try:
        delivery = await client.send(target, body, event_id=event_id)
    except PermanentDeliveryError as exc:
        raise PermanentError(str(exc)) from exc
    except RetryableDeliveryError as exc:
        raise RetryableError(str(exc), getattr(exc, "retry_after", None)) from exc
    return {"status_code": delivery.status_code, "attempts": delivery.attempts}
