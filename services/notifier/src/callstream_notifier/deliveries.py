"""The notifier's own records: one row per delivery (conversation, channel, target),
alerts per (rule, conversation), and the alert rules — a port the handler calls and its
PostgreSQL adapter. Each operation is one transaction of its own: a delivery's claim
must be committed before the message goes out and its ``sent`` mark after.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from callstream_common.db.engine import statements_alone
from callstream_common.db.models import AlertRow, AlertRuleRow, Notification
from callstream_notifier.alerts import AlertRule, AlertTriggered

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    """A delivery's row after this attempt claimed it."""

    status: str
    attempts: int
    claimed_at: datetime


class DeliveryLog(ABC):
    @abstractmethod
    async def claim(
        self,
        conversation_id: uuid.UUID,
        channel: str,
        target: str,
        payload: dict[str, Any],
    ) -> Claim:
        """Create the delivery's row if needed and count this attempt."""

    @abstractmethod
    async def mark_sent(
        self, conversation_id: uuid.UUID, channel: str, target: str, response: dict[str, Any]
    ) -> None: ...

    @abstractmethod
    async def record_sent(
        self,
        conversation_id: uuid.UUID,
        channel: str,
        target: str,
        payload: dict[str, Any],
        response: dict[str, Any],
    ) -> bool:
        """A delivery with no effect outside this process (the notification log line):
        its row is written ``sent`` at once, in one statement, instead of claimed and then
        marked; False if it already was (a redelivery)."""

    @abstractmethod
    async def last_slack_channel_id(self) -> str | None:
        """The Slack channel id the last recorded Slack delivery answered with."""

    @abstractmethod
    async def alert_rules(self) -> list[AlertRule]:
        """The enabled rules; a malformed one is logged and left out."""

    @abstractmethod
    async def record_alerts(
        self, conversation_id: uuid.UUID, alerts: list[AlertTriggered]
    ) -> None: ...


def rule_of(row: AlertRuleRow) -> AlertRule | None:
    """A stored rule, or None (logged) if it is malformed: one bad rule must not fail calls."""
    try:
        return AlertRule.model_validate(
            {"id": str(row.id), "name": row.name, "kind": row.kind, **(row.params or {})}
        )
    except ValidationError as exc:
        log.warning("alert rule %r ignored: %s", row.name, exc)
        return None


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


NOTIFICATIONS = _table(Notification)
ALERTS = _table(AlertRow)
RECORD_SENT = text(
    "INSERT INTO notifications (id, conversation_id, channel, target, status, payload, "
    "attempts, response, sent_at) VALUES (:id, :conversation_id, :channel, :target, 'sent', "
    ":payload, 1, :response, now()) "
    "ON CONFLICT (conversation_id, channel, target) DO NOTHING RETURNING id"
).bindparams(
    bindparam("id", type_=NOTIFICATIONS.c.id.type),
    bindparam("conversation_id", type_=NOTIFICATIONS.c.conversation_id.type),
    bindparam("payload", type_=NOTIFICATIONS.c.payload.type),
    bindparam("response", type_=NOTIFICATIONS.c.response.type),
)
"""SQL text: SQLAlchemy 2.0 cannot cache the compilation of PostgreSQL's
``insert().on_conflict_…()``, so that construct is compiled again at every execution; this
statement runs once per call."""


class SqlDeliveryLog(DeliveryLog):
    """``rules_refresh_seconds``: the enabled rules are read once per that many seconds
    rather than once per call (a round trip and a transaction off every record)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], rules_refresh_seconds: float = 0.0
    ) -> None:
        self.sessions = sessions
        self.rules_refresh_seconds = rules_refresh_seconds
        self._rules: tuple[float, list[AlertRule]] | None = None

    async def claim(
        self,
        conversation_id: uuid.UUID,
        channel: str,
        target: str,
        payload: dict[str, Any],
    ) -> Claim:
        async with self.sessions() as session, session.begin():
            await session.execute(
                insert(NOTIFICATIONS)
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
            status, attempts, claimed_at = (
                await session.execute(
                    text(
                        "UPDATE notifications SET attempts = attempts + 1 "
                        "WHERE conversation_id = :c AND channel = :ch AND target = :t "
                        "RETURNING status, attempts, created_at"
                    ),
                    {"c": conversation_id, "ch": channel, "t": target},
                )
            ).one()
        return Claim(status, attempts, claimed_at)

    async def mark_sent(
        self, conversation_id: uuid.UUID, channel: str, target: str, response: dict[str, Any]
    ) -> None:
        async with self.sessions() as session:
            await statements_alone(session)
            await session.execute(
                text(
                    "UPDATE notifications SET status = 'sent', sent_at = now(), "
                    "response = CAST(:r AS jsonb) WHERE conversation_id = :c AND channel = :ch "
                    "AND target = :t"
                ),
                {
                    "c": conversation_id,
                    "ch": channel,
                    "t": target,
                    "r": json.dumps(response, default=str),
                },
            )
            await session.commit()

    async def record_sent(
        self,
        conversation_id: uuid.UUID,
        channel: str,
        target: str,
        payload: dict[str, Any],
        response: dict[str, Any],
    ) -> bool:
        async with self.sessions() as session:
            await statements_alone(session)
            inserted = await session.execute(
                RECORD_SENT,
                {
                    "id": uuid.uuid4(),
                    "conversation_id": conversation_id,
                    "channel": channel,
                    "target": target,
                    "payload": payload,
                    "response": response,
                },
            )
            recorded = inserted.first() is not None
            await session.commit()
        return recorded

    async def last_slack_channel_id(self) -> str | None:
        async with self.sessions() as session:
            known: str | None = (
                await session.execute(
                    text(
                        "SELECT response->>'channel' FROM notifications "
                        "WHERE channel IN ('slack', 'slack-alert') AND status = 'sent' "
                        "AND response->>'channel' IS NOT NULL AND response->>'thread_ts' IS NULL "
                        "ORDER BY sent_at DESC LIMIT 1"
                    )
                )
            ).scalar_one_or_none()
        return known

    async def alert_rules(self) -> list[AlertRule]:
        now = time.monotonic()
        if self._rules is not None and now - self._rules[0] < self.rules_refresh_seconds:
            return self._rules[1]
        async with self.sessions() as session:
            await statements_alone(session)
            rows = (
                await session.execute(select(AlertRuleRow).where(col(AlertRuleRow.enabled)))
            ).scalars()
            rules = [rule for rule in map(rule_of, rows) if rule is not None]
        self._rules = (now, rules)
        return rules

    async def record_alerts(self, conversation_id: uuid.UUID, alerts: list[AlertTriggered]) -> None:
        if not alerts:
            return
        async with self.sessions() as session, session.begin():
            for alert in alerts:
                await session.execute(
                    insert(ALERTS)
                    .values(
                        id=uuid.uuid4(),
                        rule_id=uuid.UUID(alert.rule_id),
                        conversation_id=conversation_id,
                        message=alert.message,
                        severity=alert.severity.value,
                    )
                    .on_conflict_do_nothing(index_elements=["rule_id", "conversation_id"])
                )
