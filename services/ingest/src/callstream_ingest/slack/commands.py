"""``POST /slack/commands``: ``/analyze <id | words>`` and ``/analyze help``.

Answered in the HTTP response itself (Slack shows it to the asking user only), well
inside Slack's 3-second limit: one indexed query and, for an unlinked user, one
``users.info``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request

from callstream_ingest.slack import slack_app
from callstream_ingest.slack.identity import UNMAPPED_TEXT, principal_for
from callstream_ingest.slack.lookup import MAX_MATCHES, Found, analysis_of, find
from callstream_ingest.slack.messages import HELP_TEXT, ephemeral, pick_list, scorecard
from callstream_ingest.slack.verify import refuse_replay, verified_body

router = APIRouter()


def form_of(body: bytes) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


@router.post("/slack/commands")
async def slack_command(request: Request) -> dict[str, Any]:
    sa = slack_app(request)
    st = sa.st
    body = await verified_body(request, st)
    await refuse_replay(st, request.headers["x-slack-signature"])
    form = form_of(body)
    text = form.get("text", "").strip()
    if text.lower() in ("", "help"):
        return ephemeral(HELP_TEXT)
    slack_user = form.get("user_id", "")
    who = await principal_for(st, sa.web, slack_user)
    if who is None:
        return ephemeral(UNMAPPED_TEXT.format(user=slack_user))
    async with st.sessions() as session:
        matches = await find(session, who, text)
        if len(matches) == 1:
            found = Found(matches[0], await analysis_of(session, matches[0].id))
    if not matches:
        return ephemeral(
            f"No call you can see matches “{text[:100]}”. Try other words or `/analyze help`."
        )
    if len(matches) > 1:
        return pick_list(matches[:MAX_MATCHES], more=len(matches) > MAX_MATCHES)
    return scorecard(found, who, sa.console_url)
