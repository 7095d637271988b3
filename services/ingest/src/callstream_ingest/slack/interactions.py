"""``POST /slack/interactions``: the buttons of the app's messages.

* ``open_transcript`` / ``open_analysis`` — link buttons; Slack opens the console page
  itself and still reports the click, which is only acknowledged;
* ``show_scorecard:<id>`` — a pick-list entry: the scorecard replaces the list;
* ``rerun_analysis`` — managers and admins: the call is analysed again and the notifier
  posts the new scorecard where the first one went;
* ``acknowledge_alert`` — the channel alert: recorded on the call's alerts, and the message
  says who acknowledged it.

Answers go through the interaction's ``response_url``, after a 200 within Slack's 3 s.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import text

from callstream_common.db.models import Conversation, Role
from callstream_common.slack_blocks import (
    ACTION_ACKNOWLEDGE_ALERT,
    ACTION_OPEN_ANALYSIS,
    ACTION_OPEN_TRANSCRIPT,
    ACTION_RERUN_ANALYSIS,
    ACTION_SHOW_SCORECARD,
)
from callstream_ingest.auth import Principal, can_see
from callstream_ingest.errors import ApiError
from callstream_ingest.slack import SlackApp, slack_app
from callstream_ingest.slack.commands import form_of
from callstream_ingest.slack.identity import UNMAPPED_TEXT, principal_for
from callstream_ingest.slack.lookup import Found, analysis_of
from callstream_ingest.slack.messages import ephemeral, scorecard
from callstream_ingest.slack.rerun import rerun_analysis
from callstream_ingest.slack.verify import refuse_replay, verified_body
from callstream_ingest.slack.web import respond

log = logging.getLogger(__name__)
router = APIRouter()


@router.post("/slack/interactions")
async def slack_interaction(request: Request) -> Response:
    sa = slack_app(request)
    body = await verified_body(request, sa.st)
    await refuse_replay(sa.st, request.headers["x-slack-signature"])
    try:
        payload = json.loads(form_of(body)["payload"])
        action = payload["actions"][0]
        slack_user = str(payload["user"]["id"])
        response_url = str(payload["response_url"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise ApiError(400, "invalid_payload", "not a block_actions interaction") from None
    action_id = str(action.get("action_id", ""))
    if action_id in (ACTION_OPEN_TRANSCRIPT, ACTION_OPEN_ANALYSIS):
        return Response(status_code=200)
    sa.spawn(
        act(sa, action_id, str(action.get("value", "")), slack_user, response_url, payload),
        name=f"slack-action-{action_id}",
    )
    return Response(status_code=200)


async def act(
    sa: SlackApp,
    action_id: str,
    value: str,
    slack_user: str,
    response_url: str,
    payload: dict[str, Any],
) -> None:
    try:
        answer = await _answer(sa, action_id, value, slack_user, payload)
    except Exception:
        log.exception("slack action %s failed", action_id)
        answer = ephemeral(":x: That did not work; please try again.")
    await respond(response_url, answer)


async def _answer(
    sa: SlackApp, action_id: str, value: str, slack_user: str, payload: dict[str, Any]
) -> dict[str, Any]:
    who = await principal_for(sa.st, sa.web, slack_user)
    if who is None:
        return ephemeral(UNMAPPED_TEXT.format(user=slack_user))
    try:
        conversation_id = uuid.UUID(value)
    except ValueError:
        return ephemeral(":x: This button does not name a call.")
    async with sa.st.sessions() as session:
        conv = await session.get(Conversation, conversation_id)
        visible = conv is not None and await can_see(session, who, conv)
        analysis = await analysis_of(session, conversation_id) if visible else None
    if conv is None or not visible:
        return ephemeral(f"No call {conversation_id} that you can see.")
    if action_id.startswith(ACTION_SHOW_SCORECARD):
        return {**scorecard(Found(conv, analysis), who, sa.console_url), "replace_original": True}
    if action_id == ACTION_RERUN_ANALYSIS:
        return await _rerun(sa, who, conv)
    if action_id == ACTION_ACKNOWLEDGE_ALERT:
        return await _acknowledge(sa, conv, slack_user, payload)
    return ephemeral(f":x: Unknown action {action_id[:40]}.")


async def _rerun(sa: SlackApp, who: Principal, conv: Conversation) -> dict[str, Any]:
    if who.role not in (Role.MANAGER, Role.ADMIN):
        return ephemeral(":lock: Only managers and admins can re-run an analysis.")
    outcome = await rerun_analysis(sa.st, conv.id)
    return ephemeral(outcome)


async def _acknowledge(
    sa: SlackApp, conv: Conversation, slack_user: str, payload: dict[str, Any]
) -> dict[str, Any]:
    async with sa.st.sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE alerts SET acknowledged_at = now(), acknowledged_by = :u "
                "WHERE conversation_id = :c AND acknowledged_at IS NULL"
            ),
            {"u": slack_user[:64], "c": conv.id},
        )
    blocks = [
        b for b in (payload.get("message") or {}).get("blocks") or [] if b.get("type") != "actions"
    ]
    note = f":white_check_mark: Acknowledged by <@{slack_user}>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    original = (payload.get("message") or {}).get("text") or note
    return {"replace_original": True, "text": original, "blocks": blocks}
