"""Signed generic webhooks: POST a JSON event to any HTTPS endpoint a customer configures.

Each request carries

* ``X-Callstream-Timestamp`` — Unix seconds when this attempt was signed;
* ``X-Callstream-Signature`` — ``v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>``;
* ``X-Callstream-Event-Id`` — the same for every attempt and every redelivery of one event.

Receivers verify the signature over the *raw* body bytes (re-serialising parsed JSON changes
them), reject timestamps outside a tolerance window to stop replays, and dedupe on the event
id, because delivery is at-least-once: a timeout after the receiver processed the request
looks exactly like a failure to us, and we send again.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_core import to_json

from callstream_common.contracts import MeddicAnalysis, utcnow
from callstream_common.outbound_http import InCallRetry, is_retryable_status, parse_retry_after
from callstream_notifier._http import (
    describe_url,
    register_secret_url,
    run_with_retries,
    transport_error,
)
from callstream_notifier.alerts import AlertTriggered
from callstream_notifier.errors import PermanentDeliveryError, RetryableDeliveryError
from callstream_notifier.slack import CallSummary, ConversationLinks

logger = logging.getLogger(__name__)

SIGNATURE_VERSION: Final = "v1"
TIMESTAMP_HEADER: Final = "X-Callstream-Timestamp"
SIGNATURE_HEADER: Final = "X-Callstream-Signature"
EVENT_ID_HEADER: Final = "X-Callstream-Event-Id"
DEFAULT_TOLERANCE_SECONDS: Final = 300

EVENT_ANALYZED: Final = "conversation.analyzed"
EVENT_ALERT: Final = "conversation.alert"

Secret = str | bytes | SecretStr

_TIMESTAMP = re.compile(r"^\d{1,12}$")
_SIGNATURE = re.compile(rf"^{SIGNATURE_VERSION}=([0-9a-f]{{64}})$")


def _secret_bytes(secret: Secret) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.encode() if isinstance(secret, str) else secret


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def compute_signature(secret: Secret, timestamp: int | str, body: bytes | str) -> str:
    """The ``X-Callstream-Signature`` value for ``body`` sent at ``timestamp``."""
    message = f"{timestamp}.".encode() + _as_bytes(body)
    digest = hmac.new(_secret_bytes(secret), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify_signature(
    secret: Secret,
    timestamp: int | str,
    body: bytes | str,
    signature: str,
    now: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when ``signature`` is a valid v1 signature of ``body`` at a recent ``timestamp``.

    ``now`` defaults to the current time (Unix seconds); timestamps more than ``tolerance``
    seconds away in either direction fail, so a captured request cannot be replayed later.
    Several comma-separated ``v1=`` values are accepted (a sender rotating secrets may sign
    with both); the comparison is constant-time.
    """
    ts = str(timestamp).strip()
    if not _TIMESTAMP.match(ts):
        return False
    current = time.time() if now is None else now
    if abs(current - int(ts)) > tolerance:
        return False
    expected = compute_signature(secret, ts, body)
    valid = False
    for candidate in signature.split(","):
        candidate = candidate.strip()
        if _SIGNATURE.match(candidate) and hmac.compare_digest(candidate, expected):
            valid = True
    return valid


class WebhookTarget(BaseModel):
    """A configured receiver. The URL is treated as sensitive too (many receivers embed a
    token in it): logs and errors show only its scheme and host."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(default="default", min_length=1)
    url: str
    secret: SecretStr

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an absolute http(s) URL")
        return value

    @field_validator("secret")
    @classmethod
    def _non_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("webhook secret must not be empty")
        return value


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    event_id: str
    status_code: int
    attempts: int


def build_webhook_event(
    *,
    event_id: str | uuid.UUID,
    event_type: str,
    conversation: CallSummary,
    analysis: MeddicAnalysis,
    links: ConversationLinks,
    alerts: Sequence[AlertTriggered] = (),
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """The JSON body of a webhook: the analysis *summary* (not evidence or transcript text),
    links to the full data, and the alerts it triggered. ``event_id`` repeats the header."""
    return {
        "id": str(event_id),
        "type": event_type,
        "occurred_at": (occurred_at or utcnow()).isoformat(),
        "conversation": conversation.model_dump(mode="json"),
        "analysis": analysis.summary(),
        "alerts": [alert.model_dump(mode="json") for alert in alerts],
        "links": links.model_dump(mode="json"),
    }


class WebhookClient:
    """Delivers signed JSON events to ``WebhookTarget``s with in-process retries.

    Each attempt is signed afresh with the current time, so a delivery that succeeds on its
    last retry still passes the receiver's timestamp tolerance. Redirects are not followed:
    re-posting a signed body to a URL nobody configured is not something to do silently.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        retry: InCallRetry | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        user_agent: str = "callstream-notifier",
    ) -> None:
        self._retry = retry or InCallRetry()
        self._clock = clock
        self._user_agent = user_agent
        self._owns_client = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
        )

    async def __aenter__(self) -> WebhookClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()

    async def send(
        self,
        target: WebhookTarget,
        payload: Mapping[str, Any],
        *,
        event_id: str | uuid.UUID,
    ) -> WebhookDelivery:
        """POST ``payload`` to ``target``; raise ``RetryableDeliveryError`` (429, 408, 425,
        5xx, network) once the policy is exhausted, ``PermanentDeliveryError`` for any other
        non-2xx answer."""
        url = target.url
        register_secret_url(url)
        label = f"webhook {target.name} ({describe_url(url)})"
        body = to_json(payload)
        event = str(event_id)
        secret = target.secret

        async def send() -> int:
            timestamp = str(int(self._clock()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": self._user_agent,
                EVENT_ID_HEADER: event,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: compute_signature(secret, timestamp, body),
            }
            try:
                response = await self._http.post(url, content=body, headers=headers)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise transport_error(exc, target=label) from None
            return _classify(response, label)

        status, attempts = await run_with_retries(send, self._retry)
        logger.info(
            "webhook delivered: %s event=%s status=%d attempts=%d", label, event, status, attempts
        )
        return WebhookDelivery(event_id=event, status_code=status, attempts=attempts)


def _classify(response: httpx.Response, label: str) -> int:
    status = response.status_code
    if 200 <= status < 300:
        return status
    error = " ".join(response.text.split())[:200] or None
    if status == 429:
        raise RetryableDeliveryError(
            "rate limited",
            target=label,
            status_code=status,
            error=error,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if is_retryable_status(status):
        raise RetryableDeliveryError(
            "receiver error",
            target=label,
            status_code=status,
            error=error,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    raise PermanentDeliveryError(
        "receiver rejected the event", target=label, status_code=status, error=error
    )
