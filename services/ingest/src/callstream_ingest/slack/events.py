"""``POST /slack/events``: recordings shared in Slack enter the pipeline.

The answer to Slack comes first (well inside its 3 s): the event is claimed in
``slack_events`` by its event id — and by its file id, since one share produces both a
``file_shared`` and a ``message`` event — so Slack's retries (``X-Slack-Retry-Num``) and the
twin event find the claim and create nothing. The claimed file is then fetched in the
background: ``files.info``, a "received" reply in the file's thread, the ``url_private``
download streamed with the bot token through the same size limit and audio sniffing as an
upload, and the normal intake for the Slack user's rep, with the thread stored on the
conversation so that the notifier posts the scorecard there. A file that is not audio, too
large, or from an unlinked user gets a clear reply and stores nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from callstream_common.db.slack_models import SlackEvent
from callstream_ingest.bodies import read_raw
from callstream_ingest.errors import ApiError
from callstream_ingest.slack import SlackApp, slack_app
from callstream_ingest.slack.identity import UNMAPPED_TEXT, principal_for
from callstream_ingest.slack.verify import verified_body
from callstream_ingest.slack.web import DownloadError
from callstream_ingest.upload.intake import CallDetails, accept_recording
from callstream_ingest.upload.metadata import displayable
from callstream_ingest.upload.sniff import sniff_audio

log = logging.getLogger(__name__)
router = APIRouter()

MEDIA_PREFIXES = ("audio/", "video/")
STALE_CLAIM_SECONDS = 120.0


class Rejected(Exception):
    """A shared file that will not be analysed; ``reply`` says why, in its thread."""

    def __init__(self, code: str, reply: str) -> None:
        super().__init__(code)
        self.code, self.reply = code, reply


@router.post("/slack/events")
async def slack_event(request: Request) -> JSONResponse:
    sa = slack_app(request)
    body = await verified_body(request, sa.st)
    try:
        payload = json.loads(body)
    except ValueError:
        raise ApiError(400, "invalid_json", "the event body is not JSON") from None
    kind = payload.get("type")
    if kind == "url_verification":
        return JSONResponse({"challenge": str(payload.get("challenge", ""))})
    if kind != "event_callback" or not isinstance(payload.get("event"), dict):
        return JSONResponse({"ok": True, "ignored": True})
    share = file_share(payload)
    if share is None:
        return JSONResponse({"ok": True, "ignored": True})
    if not await claim(sa, share):
        log.info("slack event %s (file %s) already claimed", share["event_id"], share["file_id"])
        return JSONResponse({"ok": True, "duplicate": True})
    sa.spawn(take_in(sa, share), name=f"slack-file-{share['file_id']}")
    sa.spawn(resume_stale(sa), name="slack-resume-stale")
    return JSONResponse({"ok": True})


def file_share(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The file an event announces: ``file_shared``, or a user's ``message`` carrying files
    (the first one). None for anything else, including the bot's own messages."""
    event = payload["event"]
    base = {"event_id": str(payload.get("event_id", ""))[:64], "team_id": payload.get("team_id")}
    if not base["event_id"]:
        return None
    if event.get("type") == "file_shared" and event.get("file_id"):
        return {
            **base,
            "file_id": str(event["file_id"]),
            "channel": event.get("channel_id"),
            "thread_ts": None,
            "slack_user": event.get("user_id"),
        }
    files = event.get("files")
    if event.get("type") == "message" and files and not event.get("bot_id"):
        return {
            **base,
            "file_id": str(files[0].get("id")),
            "channel": event.get("channel"),
            "thread_ts": event.get("thread_ts") or event.get("ts"),
            "slack_user": event.get("user"),
        }
    return None


async def claim(sa: SlackApp, share: dict[str, Any]) -> bool:
    async with sa.st.sessions() as session, session.begin():
        claimed = (
            await session.execute(
                insert(SlackEvent.__table__)  # type: ignore[attr-defined]
                .values(**share, status="received")
                .on_conflict_do_nothing()
                .returning(SlackEvent.__table__.c.event_id)  # type: ignore[attr-defined]
            )
        ).scalar_one_or_none()
    return claimed is not None


async def resume_stale(sa: SlackApp) -> None:
    """Take in again the claims a crashed ingest left ``received`` (it answered Slack, so
    Slack will not retry): checked whenever another file event arrives. Taking in is
    idempotent (the conversation's idempotency key is the file id)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=STALE_CLAIM_SECONDS)
    async with sa.st.sessions() as session, session.begin():
        rows = (
            (
                await session.execute(
                    update(SlackEvent)
                    .where(
                        SlackEvent.status == "received",  # type: ignore[arg-type]
                        SlackEvent.updated_at < cutoff,  # type: ignore[arg-type]
                    )
                    .values(updated_at=datetime.now(UTC))
                    .returning(SlackEvent)
                )
            )
            .scalars()
            .all()
        )
    for row in rows:
        log.warning("resuming slack file %s left unfinished", row.file_id)
        share = {
            "event_id": row.event_id,
            "team_id": row.team_id,
            "file_id": row.file_id,
            "channel": row.channel,
            "thread_ts": row.thread_ts,
            "slack_user": row.slack_user,
        }
        await take_in(sa, share)


async def settle(sa: SlackApp, event_id: str, **values: Any) -> None:
    async with sa.st.sessions() as session, session.begin():
        await session.execute(
            update(SlackEvent)
            .where(SlackEvent.event_id == event_id)  # type: ignore[arg-type]
            .values(**values, updated_at=datetime.now(UTC))
        )


def _thread_of(file: dict[str, Any], channel: str | None) -> tuple[str | None, str | None]:
    """The channel and ``ts`` of the message that shared ``file`` (its thread)."""
    shares = file.get("shares") or {}
    for visibility in ("public", "private"):
        by_channel = shares.get(visibility) or {}
        for name, entries in by_channel.items():
            if entries and (channel is None or name == channel):
                entry = entries[0]
                return name, str(entry.get("thread_ts") or entry.get("ts"))
    return channel, None


async def take_in(sa: SlackApp, share: dict[str, Any]) -> None:
    """Fetch and accept the claimed file; every outcome is settled on its claim."""
    channel, thread_ts = share["channel"], share["thread_ts"]
    try:
        file = await sa.web.file_info(share["file_id"])
        if thread_ts is None:
            channel, thread_ts = _thread_of(file, channel)
        if not channel or not thread_ts:
            raise Rejected("no_thread", "")
        await settle(sa, share["event_id"], channel=channel, thread_ts=thread_ts)
        conversation_id = await _accept(sa, share, file, channel, thread_ts)
    except Rejected as rejected:
        log.info("slack file %s rejected: %s", share["file_id"], rejected.code)
        await settle(sa, share["event_id"], status="rejected", detail=rejected.code)
        if rejected.reply and channel and thread_ts:
            await sa.web.reply(channel, thread_ts, rejected.reply)
        return
    except Exception as exc:
        log.exception("slack file %s could not be taken in", share["file_id"])
        # the file is released so that sharing it again is a new claim
        await settle(
            sa, share["event_id"], status="failed", detail=type(exc).__name__, file_id=None
        )
        if channel and thread_ts:
            await sa.web.reply(
                channel, thread_ts, ":x: The recording could not be fetched; please share it again."
            )
        return
    await settle(sa, share["event_id"], status="accepted", conversation_id=conversation_id)


async def _accept(
    sa: SlackApp, share: dict[str, Any], file: dict[str, Any], channel: str, thread_ts: str
) -> Any:
    slack_user = str(share.get("slack_user") or file.get("user") or "")
    name = str(file.get("name") or "recording")
    who = await principal_for(sa.st, sa.web, slack_user)
    if who is None:
        await sa.web.ephemeral(channel, slack_user, UNMAPPED_TEXT.format(user=slack_user))
        raise Rejected("unmapped_user", "")
    if not who.rep_id:
        raise Rejected(
            "no_rep",
            f":x: <@{slack_user}>, your callstream user has no rep, so *{name}* has nobody "
            "to be analysed for. Ask an admin to link you with `--rep`.",
        )
    mimetype = str(file.get("mimetype") or "")
    if not mimetype.startswith(MEDIA_PREFIXES):
        raise Rejected(
            "not_audio",
            f":x: *{name}* is not an audio or video recording ({mimetype or 'unknown type'}); "
            "nothing was stored. Share a call recording (wav, mp3, m4a, ogg, webm, mp4…).",
        )
    limit = sa.st.settings.max_upload_bytes
    if int(file.get("size") or 0) > limit:
        raise Rejected("too_large", _too_large_text(name, limit))
    await sa.web.reply(
        channel,
        thread_ts,
        f":inbox_tray: Received *{name}*. The transcript and MEDDIC scorecard will follow "
        "in this thread.",
    )
    try:
        body = await read_raw(sa.web.download(str(file["url_private"])), limit)
        fmt = sniff_audio(body.head) if body.head else None
        if fmt is None:
            raise Rejected(
                "not_audio",
                f":x: *{name}* is not a recognised audio container; nothing was stored.",
            )
        title = displayable(str(file.get("title") or ""), displayable(name, "Slack recording"))
        rep_id = who.rep_id

        async def details() -> CallDetails:
            return CallDetails(opportunity_name=title, rep_id=rep_id, title=title)

        conv, _ = await accept_recording(
            sa.st,
            head=body.head,
            rest=body.rest,
            fmt=fmt,
            details=details,
            filename=name,
            idempotency_key=f"slack-file:{share['file_id']}",
            who=who,
            slack_thread={"channel": channel, "thread_ts": thread_ts},
        )
    except ApiError as exc:
        if exc.code == "too_large":
            raise Rejected("too_large", _too_large_text(name, limit)) from None
        raise
    except DownloadError as exc:
        raise Rejected(
            "download_failed",
            f":x: Slack did not hand out *{name}* (HTTP {exc.status}); nothing was stored.",
        ) from None
    log.info("slack file %s accepted as conversation %s", share["file_id"], conv.id)
    return conv.id


def _too_large_text(name: str, limit: int) -> str:
    return (
        f":x: *{name}* is larger than the limit of {limit // (1024 * 1024)} MB; nothing was stored."
    )
