"""What the Slack app says: usage, the scorecard, a pick list, and short notices — all
ephemeral (only the asking user sees them), built with slack-sdk's Block Kit models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from callstream_common.db.models import Conversation, Role
from callstream_common.slack_blocks import (
    ACTION_SHOW_SCORECARD,
    MAX_BUTTON_TEXT,
    MAX_LIST_ITEM_TEXT,
    CallSummary,
    ConversationLinks,
    clip,
    escape_mrkdwn,
    heading,
    message,
    plain,
    rerun_button,
    scorecard_blocks,
    scorecard_fallback,
    section,
)
from callstream_ingest.auth import Principal
from callstream_ingest.slack.lookup import Found

HELP_TEXT = (
    "*/analyze* shows the MEDDIC scorecard of a call.\n"
    "• `/analyze <conversation id>` — that call\n"
    "• `/analyze <words>` — calls whose title, company or opportunity contain the words "
    "(newest first; pick one when several match)\n"
    "• `/analyze help` — this text\n"
    "Share an audio or video recording in a channel with the app: it is analysed for "
    "your rep and the scorecard arrives in the file's thread."
)


def ephemeral(text: str, blocks: Sequence[Block] | None = None) -> dict[str, Any]:
    body = message(text, blocks or [section(text)])
    return {"response_type": "ephemeral", **body}


def scorecard(found: Found, who: Principal, base_url: str) -> dict[str, Any]:
    """The scorecard, or the call's status while it has none; managers and admins also get
    the re-run button."""
    conv = found.conversation
    summary = CallSummary.of(conv)
    if found.analysis is None:
        reason = f" ({escape_mrkdwn(conv.failure_reason)})" if conv.failure_reason else ""
        return ephemeral(
            f"*{escape_mrkdwn(heading(summary))}* is {conv.status}{reason}; "
            "the scorecard follows when the analysis is done."
        )
    links = ConversationLinks.for_conversation(base_url, conv.id)
    actions = [rerun_button(conv.id)] if who.role in (Role.MANAGER, Role.ADMIN) else []
    blocks = scorecard_blocks(summary, found.analysis, links, actions=actions)
    return ephemeral(scorecard_fallback(summary, found.analysis), blocks)


def pick_list(matches: Sequence[Conversation], more: bool) -> dict[str, Any]:
    lines = []
    buttons = []
    for conv in matches:
        summary = CallSummary.of(conv)
        when = conv.created_at.date().isoformat()
        title = clip(escape_mrkdwn(heading(summary)), MAX_LIST_ITEM_TEXT)
        lines.append(f"• *{title}* — {conv.status}, {when}")
        buttons.append(
            ButtonElement(
                action_id=f"{ACTION_SHOW_SCORECARD}:{conv.id}",
                text=plain(heading(summary), MAX_BUTTON_TEXT),
                value=str(conv.id),
            )
        )
    tail = "\n_More calls match: add words to narrow it down._" if more else ""
    text = f"{len(matches)} calls match; pick one:\n" + "\n".join(lines) + tail
    return ephemeral(text, [section(text), ActionsBlock(elements=buttons)])
