"""Slack: the alert message and the adapter that posts to Slack with slack-sdk.

The scorecard itself is built in ``callstream_common.slack_blocks`` (ingest's ``/analyze``
shows the same one); it is re-exported here for the notifier's callers. Delivery goes
through slack-sdk's ``AsyncWebClient`` (bot token) or ``AsyncWebhookClient`` (incoming
webhook) with the SDK's retry handlers — rate limits honouring ``Retry-After``, 500/503,
connection errors and timeouts — and every outcome is then classified into delivered /
retryable / permanent, so that the Kafka retry topics take over once the short in-process
retries are spent. Long waits never happen here: a ``Retry-After`` beyond the policy's cap
ends the in-process loop at once and travels with the error to the retry topic.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import RandomJitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ContextBlock
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from callstream_common.outbound_http import InCallRetry, parse_retry_after
from callstream_common.slack_blocks import (
    ACTION_ACKNOWLEDGE_ALERT,
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_CONTEXT_TEXT,
    MAX_FIELD_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_FIELDS,
    MAX_SECTION_TEXT,
    STATUS_EMOJI,
    BlockKitError,
    CallSummary,
    ConversationLinks,
    build_slack_message,
    clip,
    escape_mrkdwn,
    header_and_context,
    heading,
    link_buttons,
    message,
    mrkdwn,
    plain,
    section,
    single_line,
    slack_length,
    validate_slack_message,
)
from callstream_notifier._http import register_secret_url
from callstream_notifier.alerts import AlertSeverity, AlertTriggered
from callstream_notifier.errors import PermanentDeliveryError, RetryableDeliveryError

__all__ = [
    "MAX_BLOCKS",
    "MAX_BUTTON_TEXT",
    "MAX_FIELD_TEXT",
    "MAX_HEADER_TEXT",
    "MAX_SECTION_FIELDS",
    "MAX_SECTION_TEXT",
    "STATUS_EMOJI",
    "BlockKitError",
    "CallSummary",
    "ConversationLinks",
    "SlackClient",
    "SlackDelivery",
    "build_alert_message",
    "build_slack_message",
    "clip",
    "escape_mrkdwn",
    "slack_length",
    "validate_slack_message",
]

logger = logging.getLogger(__name__)

SEVERITY_EMOJI: Final[Mapping[AlertSeverity, str]] = {
    AlertSeverity.INFO: ":information_source:",
    AlertSeverity.WARNING: ":warning:",
    AlertSeverity.CRITICAL: ":rotating_light:",
}
MAX_ALERT_SECTIONS: Final = 40


def build_alert_message(
    conversation: CallSummary,
    alerts: Sequence[AlertTriggered],
    links: ConversationLinks,
) -> dict[str, Any]:
    """One message listing every alert a call triggered (most severe first), with an
    "Acknowledge" button that ingest records against the call's alerts."""
    if not alerts:
        raise ValueError("build_alert_message needs at least one alert")
    rank = {AlertSeverity.CRITICAL: 0, AlertSeverity.WARNING: 1, AlertSeverity.INFO: 2}
    ordered = sorted(alerts, key=lambda a: rank[a.severity])
    shown = ordered[:MAX_ALERT_SECTIONS]
    blocks: list[Block] = header_and_context(conversation, ":rotating_light:")
    for alert in shown:
        blocks.append(
            section(
                f"{SEVERITY_EMOJI[alert.severity]} *{escape_mrkdwn(single_line(alert.rule_name))}*"
                f"\n{escape_mrkdwn(alert.message)}"
            )
        )
    if len(ordered) > len(shown):
        more = f"_…and {len(ordered) - len(shown)} more alerts_"
        blocks.append(ContextBlock(elements=[mrkdwn(more, MAX_CONTEXT_TEXT)]))
    acknowledge = ButtonElement(
        action_id=ACTION_ACKNOWLEDGE_ALERT,
        text=plain("Acknowledge", MAX_BUTTON_TEXT),
        value=str(conversation.conversation_id),
    )
    buttons: ActionsBlock = link_buttons(conversation, links, acknowledge)
    blocks.append(buttons)
    first = ordered[0]
    noun = "alert" if len(ordered) == 1 else "alerts"
    fallback = (
        f"{SEVERITY_EMOJI[first.severity]} {len(ordered)} MEDDIC {noun} for "
        f"{escape_mrkdwn(heading(conversation))}: {escape_mrkdwn(first.message)}"
    )
    return message(fallback, blocks)


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

#: The permanent codes operators will actually meet; others are permanent too, but logged
#: as unknown so that a new transient code gets noticed and added above.
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
        "thread_not_found",
    }
)

_requests: contextvars.ContextVar[int] = contextvars.ContextVar("slack_requests", default=1)


class _Counting(AsyncRetryHandler):
    """Counts the requests of the current delivery (a context variable, so concurrent
    deliveries sharing the handlers do not mix their counts)."""

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        _requests.set(_requests.get() + 1)
        await super().prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


class _RateLimitRetry(_Counting, AsyncRateLimitErrorRetryHandler):
    """The SDK's 429 handler (sleeps ``Retry-After``), declining when Slack asks for a
    longer pause than ``max_retry_after``: that wait belongs to the retry topic."""

    def __init__(self, max_retry_count: int, max_retry_after: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_retry_after = max_retry_after

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = parse_retry_after(_header(response.headers, "retry-after"))
        return wait is None or wait <= self.max_retry_after


class _ServerErrorRetry(_Counting, AsyncServerErrorRetryHandler):
    pass


class _ConnectionRetry(_Counting, AsyncConnectionErrorRetryHandler):
    pass


def retry_handlers(policy: InCallRetry) -> list[AsyncRetryHandler]:
    """slack-sdk retry handlers honouring ``policy`` (``attempts`` requests in all)."""
    retries = policy.attempts - 1
    backoff = BackoffRetryIntervalCalculator(
        backoff_factor=policy.base_delay, jitter=RandomJitter()
    )
    errors: list[type[Exception]] = [aiohttp.ClientConnectionError, asyncio.TimeoutError]
    return [
        _RateLimitRetry(retries, policy.max_retry_after),
        _ServerErrorRetry(max_retry_count=retries, interval_calculator=backoff),
        _ConnectionRetry(max_retry_count=retries, interval_calculator=backoff, error_types=errors),
    ]


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None


@dataclass(frozen=True, slots=True)
class SlackDelivery:
    """What Slack accepted. ``channel``/``ts`` identify the posted message (bot mode only:
    incoming webhooks answer a bare ``ok``); keep them to thread replies or edit later."""

    channel: str | None
    ts: str | None
    attempts: int


class SlackClient:
    """Posts messages to Slack with a bot token (``chat.postMessage``) or an incoming webhook.

    Exactly one of ``bot_token`` / ``webhook_url`` is given. Both are secrets: slack-sdk
    sends the token only in the ``Authorization`` header (and redacts it in its debug log);
    the webhook URL is registered for redaction in the SDK's webhook log. Neither appears in
    our logs or in raised errors.
    """

    def __init__(
        self,
        *,
        bot_token: SecretStr | None = None,
        channel: str | None = None,
        webhook_url: SecretStr | None = None,
        api_base_url: str = "https://slack.com/api",
        timeout: float = 10.0,
        retry: InCallRetry | None = None,
    ) -> None:
        if (bot_token is None) == (webhook_url is None):
            raise ValueError("configure exactly one of bot_token or webhook_url")
        if bot_token is not None and not bot_token.get_secret_value():
            raise ValueError("bot_token is empty")
        policy = retry or InCallRetry()
        self._channel = channel
        self._web: AsyncWebClient | None = None
        self._webhook: AsyncWebhookClient | None = None
        if bot_token is not None:
            self._web = AsyncWebClient(
                token=bot_token.get_secret_value(),
                base_url=api_base_url.rstrip("/") + "/",
                timeout=timeout,  # type: ignore[arg-type]  # aiohttp takes float seconds
                retry_handlers=retry_handlers(policy),
                user_agent_prefix="callstream-notifier",
            )
        else:
            assert webhook_url is not None
            url = webhook_url.get_secret_value()
            hook_log = logging.getLogger("callstream_notifier.slack.webhook")
            register_secret_url(url, hook_log)
            self._webhook = AsyncWebhookClient(
                url,
                timeout=timeout,  # type: ignore[arg-type]
                retry_handlers=retry_handlers(policy),
                logger=hook_log,
            )

    @property
    def default_channel(self) -> str | None:
        return self._channel

    @property
    def mode(self) -> str:
        """``"bot"`` or ``"webhook"``."""
        return "bot" if self._web is not None else "webhook"

    async def __aenter__(self) -> SlackClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Nothing pooled to close: slack-sdk opens one aiohttp session per request."""

    async def find_message(
        self,
        channel_id: str,
        oldest: float,
        matches: Callable[[Mapping[str, Any]], bool],
        pages: int = 5,
        *,
        thread_ts: str | None = None,
    ) -> Mapping[str, Any] | None:
        """The first message since ``oldest`` (epoch seconds) that ``matches``: in the
        channel (``conversations.history``) or, with ``thread_ts``, among the replies of
        that thread (``conversations.replies``: history holds no thread replies). Bot mode
        only. None when there is none or it cannot be read — the caller then sends: at
        least once beats never."""
        if self._web is None:
            return None
        cursor: str | None = None
        for _ in range(pages):
            args: dict[str, Any] = {
                "channel": channel_id,
                "oldest": f"{oldest:.6f}",
                "include_all_metadata": True,
                "limit": 200,
            }
            if cursor:
                args["cursor"] = cursor
            try:
                if thread_ts is None:
                    data = (await self._web.conversations_history(**args)).data
                else:
                    data = (await self._web.conversations_replies(ts=thread_ts, **args)).data
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
                logger.warning("slack history unreadable (%s)", _error_code(exc))
                return None
            if not isinstance(data, dict):
                return None
            for found in data.get("messages") or []:
                if matches(found):
                    return dict(found)
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not data.get("has_more") or not cursor:
                return None
        return None

    async def post_message(
        self,
        body: Mapping[str, Any],
        *,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> SlackDelivery:
        """Deliver ``body`` (e.g. from ``build_slack_message``), retrying transient failures
        per the policy. ``channel`` overrides the default channel and ``thread_ts`` makes it
        a reply in that thread (bot mode; an incoming webhook is bound to its channel).

        Raises ``RetryableDeliveryError`` once the retries are spent (or Slack asks for a
        longer pause than ``max_retry_after``), ``PermanentDeliveryError`` at once.
        """
        _requests.set(1)
        if self._web is not None:
            target_channel = channel or self._channel
            if not target_channel:
                raise ValueError("no Slack channel: pass channel= or configure a default")
            target = f"slack chat.postMessage {target_channel}"
            args = {**body, "channel": target_channel}
            if thread_ts:
                args["thread_ts"] = thread_ts
            try:
                data = (await self._web.chat_postMessage(**args)).data
            except SlackApiError as exc:
                raise _api_error(exc, target) from None
            except Exception as exc:
                raise _transport_error(exc, target) from None
            assert isinstance(data, dict)
            delivery = SlackDelivery(
                channel=data.get("channel"), ts=data.get("ts"), attempts=_requests.get()
            )
        else:
            assert self._webhook is not None
            target = "slack incoming webhook"
            try:
                response = await self._webhook.send_dict(dict(body))
            except Exception as exc:
                raise _transport_error(exc, target) from None
            _check_webhook(response.status_code, response.body, response.headers, target)
            delivery = SlackDelivery(channel=None, ts=None, attempts=_requests.get())
        logger.info(
            "slack message delivered: %s ts=%s attempts=%d", target, delivery.ts, delivery.attempts
        )
        return delivery


def _error_code(exc: Exception) -> str:
    if isinstance(exc, SlackApiError) and isinstance(exc.response.data, dict):
        return str(exc.response.data.get("error") or exc.response.status_code)
    return type(exc).__name__


def _transport_error(
    exc: Exception, target: str
) -> RetryableDeliveryError | PermanentDeliveryError:
    """No response arrived. A timeout or dropped connection may hit a request Slack already
    processed, so a retry can duplicate (the history lookup catches that); a malformed URL
    is configuration and never succeeds."""
    attempts = _requests.get()
    error: RetryableDeliveryError | PermanentDeliveryError
    if isinstance(exc, aiohttp.InvalidURL | ValueError):
        error = PermanentDeliveryError(
            f"request cannot be sent: {type(exc).__name__}", target=target
        )
    elif isinstance(exc, TimeoutError):
        error = RetryableDeliveryError(f"timed out ({type(exc).__name__})", target=target)
    else:
        error = RetryableDeliveryError(f"transport error: {type(exc).__name__}", target=target)
    error.attempts = attempts
    return error


def _api_error(exc: SlackApiError, target: str) -> RetryableDeliveryError | PermanentDeliveryError:
    """Classify a Web API failure. Slack reports most as HTTP 200 ``{"ok": false, "error"}``;
    rate limiting is HTTP 429 with ``Retry-After``."""
    status = exc.response.status_code
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    retry_after = parse_retry_after(_header(exc.response.headers, "retry-after"))
    error: RetryableDeliveryError | PermanentDeliveryError
    code = str(data.get("error") or "")
    if status == 429:
        error = RetryableDeliveryError(
            "rate limited",
            target=target,
            status_code=status,
            error=code or "ratelimited",
            retry_after=retry_after,
        )
    elif status >= 500 or status == 408:
        error = RetryableDeliveryError("server error", target=target, status_code=status)
    elif status != 200:
        error = PermanentDeliveryError("unexpected HTTP status", target=target, status_code=status)
    elif not code:
        # A 200 that is not Slack's JSON comes from something in between (a proxy, a
        # captive portal) and tends to go away.
        error = RetryableDeliveryError("response is not Slack JSON", target=target, status_code=200)
    elif code in RETRYABLE_SLACK_ERRORS:
        error = RetryableDeliveryError(
            "slack error", target=target, status_code=status, error=code, retry_after=retry_after
        )
    else:
        if code not in PERMANENT_SLACK_ERRORS:
            logger.warning("unknown slack error %r on %s, treating it as permanent", code, target)
        error = PermanentDeliveryError("slack error", target=target, status_code=status, error=code)
    error.attempts = _requests.get()
    return error


def _check_webhook(status: int, body: str, headers: Mapping[str, Any], target: str) -> None:
    """Incoming webhooks answer ``ok`` or an HTTP error with a short code as the body."""
    error: RetryableDeliveryError | PermanentDeliveryError | None = None
    short = single_line(body or "")[:200]
    if status == 429:
        error = RetryableDeliveryError(
            "rate limited",
            target=target,
            status_code=status,
            error=short or "rate_limited",
            retry_after=parse_retry_after(_header(headers, "retry-after")),
        )
    elif status >= 500 or status == 408:
        error = RetryableDeliveryError(
            "server error", target=target, status_code=status, error=short
        )
    elif not 200 <= status < 300:
        error = PermanentDeliveryError(
            "webhook rejected the message", target=target, status_code=status, error=short
        )
    if error is not None:
        error.attempts = _requests.get()
        raise error
