"""Slack: the Block Kit scorecard message and the adapter that posts it.

The builders are pure (conversation + analysis + links in, JSON-able payload out) so they can
be tested without a network and rendered identically for ``chat.postMessage`` and incoming
webhooks. Every text that reaches Slack is escaped and clipped to Block Kit's limits: Slack
rejects an oversized block with ``invalid_blocks``, which is a permanent failure, so one long
risk description must never cost the whole notification.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from callstream_common.contracts import (
    ConversationMetadata,
    MeddicAnalysis,
    MeddicDimension,
    Priority,
    QualificationStatus,
)
from callstream_notifier._http import (
    RetryPolicy,
    parse_retry_after,
    register_secret_url,
    run_with_retries,
    transport_error,
)
from callstream_notifier.alerts import AlertSeverity, AlertTriggered
from callstream_notifier.call_facts_blocks import call_facts_blocks
from callstream_notifier.errors import PermanentDeliveryError, RetryableDeliveryError

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- Block Kit limits
# https://api.slack.com/reference/block-kit — lengths are in characters; we count UTF-16
# code units (what Slack's JavaScript-era limits measure), which is never less than Python's
# code-point length, so an emoji-heavy text cannot slip over a limit.

MAX_BLOCKS: Final = 50
MAX_SECTION_TEXT: Final = 3000
MAX_SECTION_FIELDS: Final = 10
MAX_FIELD_TEXT: Final = 2000
MAX_HEADER_TEXT: Final = 150
MAX_CONTEXT_ELEMENTS: Final = 10
MAX_CONTEXT_TEXT: Final = 3000
MAX_ACTION_ELEMENTS: Final = 25
MAX_BUTTON_TEXT: Final = 75
MAX_BUTTON_URL: Final = 3000
MAX_ID: Final = 255
MAX_FALLBACK_TEXT: Final = 3000

STATUS_EMOJI: Final[Mapping[QualificationStatus, str]] = {
    QualificationStatus.STRONG: ":large_green_circle:",
    QualificationStatus.MEDIUM: ":large_yellow_circle:",
    QualificationStatus.WEAK: ":large_orange_circle:",
    QualificationStatus.AT_RISK: ":red_circle:",
}

SEVERITY_EMOJI: Final[Mapping[AlertSeverity, str]] = {
    AlertSeverity.INFO: ":information_source:",
    AlertSeverity.WARNING: ":warning:",
    AlertSeverity.CRITICAL: ":rotating_light:",
}

_PRIORITY_RANK: Final[Mapping[Priority, int]] = {
    Priority.HIGH: 0,
    Priority.MEDIUM: 1,
    Priority.LOW: 2,
}

MAX_LIST_ITEMS: Final = 5
MAX_LIST_ITEM_TEXT: Final = 400
MAX_GAP_TEXT: Final = 160
MAX_ALERT_SECTIONS: Final = 40

ELLIPSIS: Final = "…"


class BlockKitError(ValueError):
    """A payload breaks a Block Kit rule; Slack would answer ``invalid_blocks``."""


# --------------------------------------------------------------------------- inputs


class CallSummary(BaseModel):
    """What the message says about the call itself (the conversation row, not the analysis)."""

    model_config = ConfigDict(frozen=True)

    conversation_id: uuid.UUID
    title: str | None = None
    opportunity_name: str
    company_name: str | None = None
    rep_id: str
    conversation_date: date | None = None
    duration_seconds: float | None = Field(default=None, ge=0)

    @classmethod
    def from_metadata(
        cls,
        conversation_id: uuid.UUID,
        metadata: ConversationMetadata,
        *,
        duration_seconds: float | None = None,
    ) -> CallSummary:
        return cls(
            conversation_id=conversation_id,
            title=metadata.title,
            opportunity_name=metadata.opportunity_name,
            company_name=metadata.company_name,
            rep_id=metadata.rep_id,
            conversation_date=metadata.conversation_date,
            duration_seconds=duration_seconds,
        )


class ConversationLinks(BaseModel):
    """Where the buttons point: pages of the web console / read API for this conversation.

    Validated here rather than clipped later: a truncated URL is a broken link, so an
    overlong or non-HTTP URL is a configuration error to surface, not to paper over.
    """

    model_config = ConfigDict(frozen=True)

    transcript_url: str = Field(max_length=MAX_BUTTON_URL)
    analysis_url: str = Field(max_length=MAX_BUTTON_URL)

    @field_validator("transcript_url", "analysis_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an absolute http(s) URL")
        return value


# --------------------------------------------------------------------------- text helpers


def slack_length(text: str) -> int:
    """Length as Slack counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """Shorten ``text`` to at most ``limit`` Slack characters, ending with an ellipsis.

    Never cuts an escape entity (``&amp;``) in half, which Slack would render as garbage, and
    never splits a surrogate pair (cutting is done on Python code points).
    """
    if slack_length(text) <= limit:
        return text
    budget = limit - slack_length(ELLIPSIS)
    used = 0
    cut_at = len(text)
    for index, char in enumerate(text):
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > budget:
            cut_at = index
            break
        used += width
    cut = text[:cut_at]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + ELLIPSIS


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as control characters in ``mrkdwn``.

    Without this a transcript quote like ``<!channel>`` or ``<https://x|click>`` would ping a
    whole channel or render as a link: call content is untrusted input.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _single_line(text: str) -> str:
    return " ".join(text.split())


def _score_bar(score: float) -> str:
    filled = max(0, min(5, round(score)))
    return "▰" * filled + "▱" * (5 - filled)


def _duration(seconds: float) -> str:
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, _ = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _heading(conversation: CallSummary) -> str:
    title = _single_line(conversation.title or "")
    opportunity = _single_line(conversation.opportunity_name)
    if title and title.casefold() != opportunity.casefold():
        return f"{title} — {opportunity}"
    return title or opportunity or "Sales call"


def _context_text(conversation: CallSummary) -> str:
    parts: list[str] = []
    if conversation.company_name:
        parts.append(f"*Company:* {escape_mrkdwn(_single_line(conversation.company_name))}")
    parts.append(f"*Rep:* {escape_mrkdwn(_single_line(conversation.rep_id))}")
    if conversation.conversation_date is not None:
        parts.append(f"*Date:* {conversation.conversation_date.isoformat()}")
    if conversation.duration_seconds is not None:
        parts.append(f"*Duration:* {_duration(conversation.duration_seconds)}")
    return "  ·  ".join(parts)


def _block_id(conversation: CallSummary, name: str) -> str:
    """Block ids carry the conversation id so a posted message can be traced back (and
    found by tests) without Slack message metadata, which incoming webhooks do not accept."""
    return f"callstream:{conversation.conversation_id}:{name}"[:MAX_ID]


def _bullets(
    title: str, lines: Sequence[str], *, empty: str, total: int | None = None
) -> dict[str, Any]:
    """A section with a bold title and up to ``MAX_LIST_ITEMS`` bullet lines.

    Lines are clipped one by one first, so that a single long item shortens itself instead
    of pushing the following ones out of the section.
    """
    shown = [f"• {clip(line, MAX_LIST_ITEM_TEXT)}" for line in lines[:MAX_LIST_ITEMS]]
    hidden = (total if total is not None else len(lines)) - len(shown)
    if hidden > 0:
        shown.append(f"_…and {hidden} more_")
    body = "\n".join(shown) if shown else f"_{empty}_"
    return {"type": "section", "text": _mrkdwn(f"*{title}*\n{body}", MAX_SECTION_TEXT)}


def _buttons(conversation: CallSummary, links: ConversationLinks) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": _block_id(conversation, "actions"),
        "elements": [
            {
                "type": "button",
                "action_id": "open_transcript",
                "text": _plain("View transcript", MAX_BUTTON_TEXT),
                "url": links.transcript_url,
            },
            {
                "type": "button",
                "action_id": "open_analysis",
                "style": "primary",
                "text": _plain("View MEDDIC analysis", MAX_BUTTON_TEXT),
                "url": links.analysis_url,
            },
        ],
    }


def _header_and_context(conversation: CallSummary, icon: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "header",
            "block_id": _block_id(conversation, "header"),
            "text": _plain(f"{icon} {_heading(conversation)}", MAX_HEADER_TEXT),
        },
        {
            "type": "context",
            "elements": [_mrkdwn(_context_text(conversation), MAX_CONTEXT_TEXT)],
        },
    ]


# --------------------------------------------------------------------------- builders


def build_slack_message(
    conversation: CallSummary, analysis: MeddicAnalysis, links: ConversationLinks
) -> dict[str, Any]:
    """The scorecard message for one analysed call (``text`` fallback + ``blocks``).

    Post it as is with ``chat.postMessage`` (the client adds ``channel``) or to an incoming
    webhook. Dimensions are listed in MEDDIC order whatever order the analysis holds them in.
    """
    status = analysis.qualification_status
    emoji = STATUS_EMOJI[status]
    score = analysis.overall_score

    dimension_fields = []
    for name in MeddicDimension:
        assessment = analysis.dimension(name)
        text = f"*{name.title}*\n{_score_bar(assessment.score)}  {assessment.score}/5"
        if assessment.gaps:
            gap = clip(escape_mrkdwn(_single_line(assessment.gaps[0])), MAX_GAP_TEXT)
            text += f"\n_Gap: {gap}_"
        dimension_fields.append(_mrkdwn(text, MAX_FIELD_TEXT))

    risks = sorted(analysis.risks, key=lambda r: _PRIORITY_RANK[r.severity])
    steps = sorted(analysis.next_steps, key=lambda s: _PRIORITY_RANK[s.priority])

    blocks: list[dict[str, Any]] = [
        *_header_and_context(conversation, ":telephone_receiver:"),
        {
            "type": "section",
            "block_id": _block_id(conversation, "score"),
            "fields": [
                _mrkdwn(f"*Overall score*\n*{score:.1f}* / 5  {_score_bar(score)}", MAX_FIELD_TEXT),
                _mrkdwn(f"*Qualification*\n{emoji} {status.value}", MAX_FIELD_TEXT),
            ],
        },
        {"type": "divider"},
        {
            "type": "section",
            "block_id": _block_id(conversation, "dimensions"),
            "text": _mrkdwn("*MEDDIC scorecard*", MAX_SECTION_TEXT),
            "fields": dimension_fields,
        },
        _bullets(
            "Top risks",
            [
                f"*{r.severity.value.capitalize()}* — {escape_mrkdwn(_single_line(r.description))}"
                for r in risks
            ],
            empty="No risks identified",
        ),
        _bullets(
            "Next steps",
            [
                f"*{s.priority.value.capitalize()}* — {escape_mrkdwn(_single_line(s.action))}"
                for s in steps
            ],
            empty="No next steps suggested",
        ),
        *call_facts_blocks(analysis, _block_id(conversation, "facts")),
        _buttons(conversation, links),
    ]
    fallback = f"{emoji} {status.value} ({score:.1f}/5) — {escape_mrkdwn(_heading(conversation))}"
    payload: dict[str, Any] = {
        "text": clip(fallback, MAX_FALLBACK_TEXT),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }
    validate_slack_message(payload)
    return payload


def build_alert_message(
    conversation: CallSummary,
    alerts: Sequence[AlertTriggered],
    links: ConversationLinks,
) -> dict[str, Any]:
    """One message listing every alert a call triggered (most severe first)."""
    if not alerts:
        raise ValueError("build_alert_message needs at least one alert")
    rank = {AlertSeverity.CRITICAL: 0, AlertSeverity.WARNING: 1, AlertSeverity.INFO: 2}
    ordered = sorted(alerts, key=lambda a: rank[a.severity])
    shown = ordered[:MAX_ALERT_SECTIONS]
    blocks: list[dict[str, Any]] = _header_and_context(conversation, ":rotating_light:")
    for alert in shown:
        text = (
            f"{SEVERITY_EMOJI[alert.severity]} *{escape_mrkdwn(_single_line(alert.rule_name))}*"
            f"\n{escape_mrkdwn(alert.message)}"
        )
        blocks.append({"type": "section", "text": _mrkdwn(text, MAX_SECTION_TEXT)})
    if len(ordered) > len(shown):
        more = f"_…and {len(ordered) - len(shown)} more alerts_"
        blocks.append({"type": "context", "elements": [_mrkdwn(more, MAX_CONTEXT_TEXT)]})
    blocks.append(_buttons(conversation, links))
    first = ordered[0]
    noun = "alert" if len(ordered) == 1 else "alerts"
    fallback = (
        f"{SEVERITY_EMOJI[first.severity]} {len(ordered)} MEDDIC {noun} for "
        f"{escape_mrkdwn(_heading(conversation))}: {escape_mrkdwn(first.message)}"
    )
    payload: dict[str, Any] = {
        "text": clip(fallback, MAX_FALLBACK_TEXT),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }
    validate_slack_message(payload)
    return payload


# --------------------------------------------------------------------------- validation


def _check_text(
    problems: list[str], where: str, obj: object, limit: int, *, plain_only: bool = False
) -> None:
    if not isinstance(obj, Mapping):
        problems.append(f"{where}: text object missing")
        return
    kind = obj.get("type")
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if kind not in allowed:
        problems.append(f"{where}: text type {kind!r} not in {allowed}")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"{where}: empty text")
    elif slack_length(text) > limit:
        problems.append(f"{where}: text is {slack_length(text)} chars, limit {limit}")


def _check_block(problems: list[str], where: str, block: Mapping[str, Any]) -> None:
    kind = block.get("type")
    if kind == "header":
        _check_text(problems, where, block.get("text"), MAX_HEADER_TEXT, plain_only=True)
    elif kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and not fields:
            problems.append(f"{where}: section needs text or fields")
        if text is not None:
            _check_text(problems, f"{where}.text", text, MAX_SECTION_TEXT)
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > MAX_SECTION_FIELDS:
                problems.append(f"{where}: at most {MAX_SECTION_FIELDS} fields")
            else:
                for j, field in enumerate(fields):
                    _check_text(problems, f"{where}.fields[{j}]", field, MAX_FIELD_TEXT)
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
            problems.append(f"{where}: context needs 1..{MAX_CONTEXT_ELEMENTS} elements")
        else:
            for j, element in enumerate(elements):
                _check_text(problems, f"{where}.elements[{j}]", element, MAX_CONTEXT_TEXT)
    elif kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_ACTION_ELEMENTS:
            problems.append(f"{where}: actions need 1..{MAX_ACTION_ELEMENTS} elements")
            return
        action_ids: set[str] = set()
        for j, element in enumerate(elements):
            at = f"{where}.elements[{j}]"
            if not isinstance(element, Mapping) or element.get("type") != "button":
                problems.append(f"{at}: only buttons are produced here")
                continue
            _check_text(problems, at, element.get("text"), MAX_BUTTON_TEXT, plain_only=True)
            url = element.get("url")
            if url is not None and (not isinstance(url, str) or len(url) > MAX_BUTTON_URL):
                problems.append(f"{at}: url longer than {MAX_BUTTON_URL}")
            action_id = element.get("action_id")
            if isinstance(action_id, str):
                if len(action_id) > MAX_ID or action_id in action_ids:
                    problems.append(f"{at}: action_id too long or duplicated")
                action_ids.add(action_id)
    elif kind != "divider":
        problems.append(f"{where}: unexpected block type {kind!r}")


def validate_slack_message(payload: Mapping[str, Any]) -> None:
    """Check a message against the Block Kit limits; raise ``BlockKitError`` listing all
    problems. The builders call it as a final guard, so a limit mistake fails in tests rather
    than as ``invalid_blocks`` in production."""
    problems: list[str] = []
    text = payload.get("text")
    if text is not None and (not isinstance(text, str) or slack_length(text) > 40_000):
        problems.append("text: must be a string of at most 40000 chars")
    blocks = payload.get("blocks")
    if blocks is None:
        if not text:
            problems.append("message needs text or blocks")
    elif not isinstance(blocks, list):
        problems.append("blocks: must be a list")
    else:
        if not blocks or len(blocks) > MAX_BLOCKS:
            problems.append(f"blocks: {len(blocks)} blocks, need 1..{MAX_BLOCKS}")
        block_ids: set[str] = set()
        for i, block in enumerate(blocks):
            where = f"blocks[{i}]"
            if not isinstance(block, Mapping):
                problems.append(f"{where}: not an object")
                continue
            block_id = block.get("block_id")
            if block_id is not None:
                if not isinstance(block_id, str) or len(block_id) > MAX_ID:
                    problems.append(f"{where}: block_id longer than {MAX_ID}")
                elif block_id in block_ids:
                    problems.append(f"{where}: duplicate block_id {block_id!r}")
                else:
                    block_ids.add(block_id)
            _check_block(problems, where, block)
    if problems:
        raise BlockKitError("; ".join(problems))


# --------------------------------------------------------------------------- client

#: ``{"ok": false, "error": ...}`` codes worth retrying; any other code is permanent (a
#: request Slack understood and refused fails the same way next time).
RETRYABLE_SLACK_ERRORS: Final = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "request_timeout",
        "service_unavailable",
        "internal_error",
        "fatal_error",
        "team_added_to_org",
    }
)

#: The permanent codes operators will actually meet. Codes in neither set are also treated
#: as permanent, but logged as unknown so a new transient code gets noticed and added above.
PERMANENT_SLACK_ERRORS: Final = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_arguments",
        "restricted_action",
    }
)


@dataclass(frozen=True, slots=True)
class SlackDelivery:
    """What Slack accepted. ``channel``/``ts`` identify the posted message (bot mode only:
    incoming webhooks answer a bare ``ok``); keep them to thread replies or edit later."""

    channel: str | None
    ts: str | None
    attempts: int


class SlackClient:
    """Posts messages to Slack with a bot token (``chat.postMessage``) or an incoming webhook.

    Exactly one of ``bot_token`` / ``webhook_url`` is given. Both are secrets: the token only
    travels in the ``Authorization`` header and the webhook URL is registered for redaction
    in httpx's request log; neither appears in our logs or in raised errors.
    """

    def __init__(
        self,
        *,
        bot_token: SecretStr | None = None,
        channel: str | None = None,
        webhook_url: SecretStr | None = None,
        api_base_url: str = "https://slack.com/api",
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if (bot_token is None) == (webhook_url is None):
            raise ValueError("configure exactly one of bot_token or webhook_url")
        if bot_token is not None and not bot_token.get_secret_value():
            raise ValueError("bot_token is empty")
        if webhook_url is not None:
            register_secret_url(webhook_url.get_secret_value())
        self._bot_token = bot_token
        self._webhook_url = webhook_url
        self._channel = channel
        self._api_base_url = api_base_url.rstrip("/")
        self._retry = retry or RetryPolicy()
        self._owns_client = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"User-Agent": "callstream-notifier"},
        )

    @property
    def default_channel(self) -> str | None:
        return self._channel

    async def find_message(
        self,
        channel_id: str,
        oldest: float,
        matches: Callable[[Mapping[str, Any]], bool],
        pages: int = 5,
    ) -> Mapping[str, Any] | None:
        """The first message in ``conversations.history`` since ``oldest`` (epoch seconds)
        that ``matches`` (bot mode; needs the ``channels:history`` scope). None when there
        is none or the history cannot be read — the caller then sends: at least once beats
        never."""
        if self._bot_token is None:
            return None
        form: dict[str, str] = {
            "channel": channel_id,
            "oldest": f"{oldest:.6f}",
            "include_all_metadata": "true",
            "limit": "200",
        }
        headers = {"Authorization": f"Bearer {self._bot_token.get_secret_value()}"}
        for _ in range(pages):
            try:
                response = await self._http.post(
                    f"{self._api_base_url}/conversations.history", data=form, headers=headers
                )
                data = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                logger.warning("slack history unreadable (%s)", type(exc).__name__)
                return None
            if not isinstance(data, dict) or data.get("ok") is not True:
                error = data.get("error") if isinstance(data, dict) else response.status_code
                logger.warning("slack history unreadable (%s)", error)
                return None
            for message in data.get("messages") or []:
                if matches(message):
                    return message
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not data.get("has_more") or not cursor:
                return None
            form["cursor"] = cursor
        return None

    @property
    def mode(self) -> str:
        """``"bot"`` or ``"webhook"``."""
        return "bot" if self._bot_token is not None else "webhook"

    async def __aenter__(self) -> SlackClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()

    async def post_message(
        self, message: Mapping[str, Any], *, channel: str | None = None
    ) -> SlackDelivery:
        """Deliver ``message`` (e.g. from ``build_slack_message``), retrying transient
        failures per the policy.

        ``channel`` overrides the default channel (bot mode; an alert rule's channel). An
        incoming webhook is bound to its channel, so there ``channel`` is ignored.

        Raises ``RetryableDeliveryError`` once the policy is exhausted (or Slack asks for a
        longer pause than ``max_retry_after``), ``PermanentDeliveryError`` at once.
        """
        if self._bot_token is not None:
            target_channel = channel or self._channel
            if not target_channel:
                raise ValueError("no Slack channel: pass channel= or configure a default")
            body = {**message, "channel": target_channel}
            target = f"slack chat.postMessage {target_channel}"

            async def send() -> SlackDelivery:
                return await self._post_api(body, target)

        else:
            target = "slack incoming webhook"

            async def send() -> SlackDelivery:
                return await self._post_webhook(message, target)

        delivery, attempts = await run_with_retries(send, self._retry)
        delivery = SlackDelivery(channel=delivery.channel, ts=delivery.ts, attempts=attempts)
        logger.info("slack message delivered: %s ts=%s attempts=%d", target, delivery.ts, attempts)
        return delivery

    async def _post_api(self, body: Mapping[str, Any], target: str) -> SlackDelivery:
        assert self._bot_token is not None
        try:
            response = await self._http.post(
                f"{self._api_base_url}/chat.postMessage",
                json=body,
                headers={
                    "Authorization": f"Bearer {self._bot_token.get_secret_value()}",
                    "Content-Type": "application/json; charset=utf-8",
                },
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise transport_error(exc, target=target) from None
        data = _api_result(response, target)
        channel = data.get("channel")
        ts = data.get("ts")
        return SlackDelivery(
            channel=channel if isinstance(channel, str) else None,
            ts=ts if isinstance(ts, str) else None,
            attempts=1,
        )

    async def _post_webhook(self, body: Mapping[str, Any], target: str) -> SlackDelivery:
        assert self._webhook_url is not None
        try:
            response = await self._http.post(self._webhook_url.get_secret_value(), json=body)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise transport_error(exc, target=target) from None
        status = response.status_code
        error = _short(response.text)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            raise RetryableDeliveryError(
                "rate limited",
                target=target,
                status_code=status,
                error=error or "rate_limited",
                retry_after=retry_after,
            )
        if status >= 500 or status == 408:
            raise RetryableDeliveryError(
                "server error", target=target, status_code=status, error=error
            )
        if not 200 <= status < 300:
            raise PermanentDeliveryError(
                "webhook rejected the message", target=target, status_code=status, error=error
            )
        return SlackDelivery(channel=None, ts=None, attempts=1)


def _short(text: str, limit: int = 200) -> str:
    """A response body fit for an error message (Slack's are short codes like
    ``invalid_payload``; an HTML error page from a proxy is cut)."""
    return _single_line(text)[:limit]


def _api_result(response: httpx.Response, target: str) -> dict[str, Any]:
    """Classify a Web API response; return its JSON on ``ok: true``.

    Slack reports most failures as HTTP 200 with ``{"ok": false, "error": code}``; rate
    limiting is HTTP 429 with ``Retry-After``.
    """
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        raise RetryableDeliveryError(
            "rate limited",
            target=target,
            status_code=status,
            error="ratelimited",
            retry_after=retry_after,
        )
    if status >= 500 or status == 408:
        raise RetryableDeliveryError(
            "server error", target=target, status_code=status, error=_short(response.text)
        )
    if status != 200:
        raise PermanentDeliveryError(
            "unexpected HTTP status", target=target, status_code=status, error=_short(response.text)
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        # A 200 that is not Slack's JSON comes from something in between (proxy, captive
        # portal) and tends to go away; let the retries decide.
        raise RetryableDeliveryError("response is not Slack JSON", target=target, status_code=200)
    if data.get("ok") is True:
        if data.get("warning"):
            logger.debug("slack warning on %s: %s", target, data.get("warning"))
        return data
    error = str(data.get("error") or "unknown_error")
    if error in RETRYABLE_SLACK_ERRORS:
        raise RetryableDeliveryError(
            "slack error", target=target, status_code=status, error=error, retry_after=retry_after
        )
    if error not in PERMANENT_SLACK_ERRORS:
        logger.warning("unknown slack error %r on %s, treating it as permanent", error, target)
    raise PermanentDeliveryError("slack error", target=target, status_code=status, error=error)
