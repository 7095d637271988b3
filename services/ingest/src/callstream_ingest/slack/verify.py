"""Every request from Slack is checked before anything is read from it.

``X-Slack-Signature`` must be ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` under the
app's signing secret (slack-sdk's ``SignatureVerifier``: constant-time comparison), with
``X-Slack-Request-Timestamp`` within five minutes. Anything else is a 401 with a JSON error
and nothing is processed or stored. Commands and interactions are also refused when the very
same signed request was already handled (a replay inside the window); events are instead
deduplicated by their event id, which also absorbs Slack's own retries.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from fastapi import Request
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert

from callstream_common.db.slack_models import SlackSeenRequest
from callstream_ingest.errors import ApiError
from callstream_ingest.state import IngestState

WINDOW_SECONDS = 300
MAX_BODY_BYTES = 1024 * 1024


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message)


async def verified_body(request: Request, st: IngestState) -> bytes:
    """The raw body of a genuine Slack request (raises ``ApiError`` 401 / 503 / 413)."""
    secret = st.settings.slack_signing_secret
    if secret is None:
        raise ApiError(503, "slack_not_configured", "the Slack app is not configured")
    timestamp = request.headers.get("x-slack-request-timestamp")
    signature = request.headers.get("x-slack-signature")
    if not timestamp or not signature:
        raise _unauthorized(
            "missing_signature",
            "X-Slack-Request-Timestamp and X-Slack-Signature are required",
        )
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > WINDOW_SECONDS:
        raise _unauthorized("stale_request", "the request timestamp is not within 5 minutes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "too_large", "a Slack request body is at most 1 MB")
    verifier = SignatureVerifier(secret.get_secret_value())
    if not verifier.is_valid(bytes(body), timestamp, signature):
        raise _unauthorized("invalid_signature", "the Slack signature does not match")
    return bytes(body)


async def refuse_replay(st: IngestState, signature: str) -> None:
    """401 ``replayed_request`` when this signature was already handled in the window."""
    async with st.sessions() as session, session.begin():
        claimed = (
            await session.execute(
                insert(SlackSeenRequest.__table__)  # type: ignore[attr-defined]
                .values(signature=signature[:80])
                .on_conflict_do_nothing()
                .returning(SlackSeenRequest.__table__.c.signature)  # type: ignore[attr-defined]
            )
        ).scalar_one_or_none()
        cutoff = datetime.now(UTC) - timedelta(seconds=2 * WINDOW_SECONDS)
        await session.execute(
            delete(SlackSeenRequest).where(SlackSeenRequest.seen_at < cutoff)  # type: ignore[arg-type]
        )
    if claimed is None:
        raise _unauthorized("replayed_request", "this signed request was already handled")
