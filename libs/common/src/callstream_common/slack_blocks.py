"""The Block Kit scorecard of one call, built with slack-sdk's Block Kit models.

Shared because two services show it: the notifier posts it when a call is analysed and
ingest answers ``/analyze`` with it. The builders are pure (conversation + analysis + links
in, JSON-able payload out). slack-sdk's models check Block Kit's limits when serialised and
raise rather than shorten, so every text that reaches them is escaped and clipped first:
Slack rejects an oversized block with ``invalid_blocks``, a permanent failure, and one long
risk description must never cost the whole notification.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from callstream_common.contracts import (
    MeddicAnalysis,
    MeddicDimension,
    Priority,
    QualificationStatus,
)
from callstream_common.db.models import Conversation

# Block Kit limits (https://api.slack.com/reference/block-kit). We count UTF-16 code units,
# what Slack measures, never less than the code points slack-sdk's validators count.
MAX_BLOCKS: Final = 50
MAX_SECTION_TEXT: Final = 3000
MAX_SECTION_FIELDS: Final = 10
MAX_FIELD_TEXT: Final = 2000
MAX_HEADER_TEXT: Final = 150
MAX_CONTEXT_TEXT: Final = 3000
MAX_BUTTON_TEXT: Final = 75
MAX_BUTTON_URL: Final = 3000
MAX_ID: Final = 255
MAX_FALLBACK_TEXT: Final = 3000
MAX_LIST_ITEMS: Final = 5
MAX_LIST_ITEM_TEXT: Final = 400
MAX_GAP_TEXT: Final = 160
ELLIPSIS: Final = "…"

#: ``action_id`` of the buttons ingest's ``/slack/interactions`` acts on.
ACTION_OPEN_TRANSCRIPT: Final = "open_transcript"
ACTION_OPEN_ANALYSIS: Final = "open_analysis"
ACTION_RERUN_ANALYSIS: Final = "rerun_analysis"
ACTION_SHOW_SCORECARD: Final = "show_scorecard"
ACTION_ACKNOWLEDGE_ALERT: Final = "acknowledge_alert"

STATUS_EMOJI: Final[Mapping[QualificationStatus, str]] = {
    QualificationStatus.STRONG: ":large_green_circle:",
    QualificationStatus.MEDIUM: ":large_yellow_circle:",
    QualificationStatus.WEAK: ":large_orange_circle:",
    QualificationStatus.AT_RISK: ":red_circle:",
}

PRIORITY_RANK: Final[Mapping[Priority, int]] = {
    Priority.HIGH: 0,
    Priority.MEDIUM: 1,
    Priority.LOW: 2,
}


class BlockKitError(ValueError):
    """A payload breaks a Block Kit rule; Slack would answer ``invalid_blocks``."""


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
    def of(cls, conversation: Conversation) -> CallSummary:
        """The summary of a conversation row (the notifier's scorecard and ``/analyze``)."""
        return cls(
            conversation_id=conversation.id,
            title=conversation.title,
            opportunity_name=conversation.opportunity_name,
            company_name=conversation.company_name,
            rep_id=conversation.rep_id,
            conversation_date=conversation.conversation_date,
            duration_seconds=conversation.duration_seconds,
        )


class ConversationLinks(BaseModel):
    """Where the buttons point: console / read API pages of this conversation.

    Validated rather than clipped: a truncated URL is a broken link, so an overlong or
    non-HTTP URL is a configuration error to surface, not to paper over.
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

    @classmethod
    def for_conversation(cls, base_url: str, conversation_id: uuid.UUID) -> ConversationLinks:
        url = f"{base_url.rstrip('/')}/v1/conversations/{conversation_id}"
        return cls(transcript_url=f"{url}#transcript", analysis_url=f"{url}#analysis")


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


def single_line(text: str) -> str:
    return " ".join(text.split())


def mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, limit))


def plain(text: str, limit: int) -> PlainTextObject:
    return PlainTextObject(text=clip(text, limit), emoji=True)


def section(text: str) -> SectionBlock:
    return SectionBlock(text=mrkdwn(text))


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


def heading(conversation: CallSummary) -> str:
    title = single_line(conversation.title or "")
    opportunity = single_line(conversation.opportunity_name)
    if title and title.casefold() != opportunity.casefold():
        return f"{title} — {opportunity}"
    return title or opportunity or "Sales call"


def context_text(conversation: CallSummary) -> str:
    parts: list[str] = []
    if conversation.company_name:
        parts.append(f"*Company:* {escape_mrkdwn(single_line(conversation.company_name))}")
    parts.append(f"*Rep:* {escape_mrkdwn(single_line(conversation.rep_id))}")
    if conversation.conversation_date is not None:
        parts.append(f"*Date:* {conversation.conversation_date.isoformat()}")
    if conversation.duration_seconds is not None:
        parts.append(f"*Duration:* {_duration(conversation.duration_seconds)}")
    return "  ·  ".join(parts)


def block_id(conversation: CallSummary, name: str) -> str:
    """Block ids carry the conversation id so a posted message can be traced back (and
    found by tests) without message metadata, which incoming webhooks do not accept."""
    return f"callstream:{conversation.conversation_id}:{name}"[:MAX_ID]


def bullets(title: str, lines: Sequence[str], *, empty: str) -> SectionBlock:
    """A section with a bold title and up to ``MAX_LIST_ITEMS`` bullet lines, each clipped on
    its own so one long item shortens itself instead of pushing the others out."""
    shown = [f"• {clip(line, MAX_LIST_ITEM_TEXT)}" for line in lines[:MAX_LIST_ITEMS]]
    hidden = len(lines) - len(shown)
    if hidden > 0:
        shown.append(f"_…and {hidden} more_")
    body = "\n".join(shown) if shown else f"_{empty}_"
    return section(f"*{title}*\n{body}")


def link_buttons(
    conversation: CallSummary, links: ConversationLinks, *extra: ButtonElement
) -> ActionsBlock:
    """The console links (and ``extra`` action buttons); Slack also reports clicks on link
    buttons to the interactivity URL, which only acknowledges them."""
    return ActionsBlock(
        block_id=block_id(conversation, "actions"),
        elements=[
            ButtonElement(
                action_id=ACTION_OPEN_TRANSCRIPT,
                text=plain("View transcript", MAX_BUTTON_TEXT),
                url=links.transcript_url,
            ),
            ButtonElement(
                action_id=ACTION_OPEN_ANALYSIS,
                style="primary",
                text=plain("View MEDDIC analysis", MAX_BUTTON_TEXT),
                url=links.analysis_url,
            ),
            *extra,
        ],
    )


def header_and_context(conversation: CallSummary, icon: str) -> list[Block]:
    return [
        HeaderBlock(
            block_id=block_id(conversation, "header"),
            text=plain(f"{icon} {heading(conversation)}", MAX_HEADER_TEXT),
        ),
        ContextBlock(elements=[mrkdwn(context_text(conversation), MAX_CONTEXT_TEXT)]),
    ]


def message(fallback: str, blocks: Sequence[Block]) -> dict[str, Any]:
    """A ``chat.postMessage`` / webhook / response body; raises ``BlockKitError`` when a
    block breaks a limit (slack-sdk's validators), so a mistake fails in tests."""
    payload: dict[str, Any] = {
        "text": clip(fallback, MAX_FALLBACK_TEXT),
        "blocks": blocks_to_dicts(blocks),
        "unfurl_links": False,
        "unfurl_media": False,
    }
    return payload


def blocks_to_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    if not 1 <= len(blocks) <= MAX_BLOCKS:
        raise BlockKitError(f"blocks: {len(blocks)} blocks, need 1..{MAX_BLOCKS}")
    try:
        return [block.to_dict() for block in blocks]
    except SlackObjectFormationError as exc:
        raise BlockKitError(str(exc)) from exc


def validate_slack_message(payload: Mapping[str, Any]) -> None:
    """Check a JSON message against Block Kit's rules with slack-sdk's models; raise
    ``BlockKitError`` naming every offending block."""
    blocks = payload.get("blocks")
    if blocks is None:
        if not payload.get("text"):
            raise BlockKitError("message needs text or blocks")
        return
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= MAX_BLOCKS:
        raise BlockKitError(f"blocks: need a list of 1..{MAX_BLOCKS} blocks")
    problems: list[str] = []
    for i, raw in enumerate(blocks):
        block = Block.parse(raw) if isinstance(raw, dict) else None
        if block is None or type(block) is Block:
            problems.append(f"blocks[{i}]: unknown block {raw!r:.60}")
            continue
        try:
            block.validate_json()
            if isinstance(block, HeaderBlock) and getattr(block.text, "type", None) != "plain_text":
                raise SlackObjectFormationError("header text must be plain_text")
        except SlackObjectFormationError as exc:
            problems.append(f"blocks[{i}]: {exc}")
    if problems:
        raise BlockKitError("; ".join(problems))


# --------------------------------------------------------------------------- scorecard


def scorecard_blocks(
    conversation: CallSummary,
    analysis: MeddicAnalysis,
    links: ConversationLinks,
    *,
    extra_sections: Sequence[Block] = (),
    actions: Sequence[ButtonElement] = (),
) -> list[Block]:
    """The scorecard's blocks. ``extra_sections`` (call statistics, tracker hits) go after
    the risks and next steps; ``actions`` join the console link buttons."""
    status = analysis.qualification_status
    score = analysis.overall_score
    dimension_fields = []
    for name in MeddicDimension:
        assessment = analysis.dimension(name)
        text = f"*{name.title}*\n{_score_bar(assessment.score)}  {assessment.score}/5"
        if assessment.gaps:
            gap = clip(escape_mrkdwn(single_line(assessment.gaps[0])), MAX_GAP_TEXT)
            text += f"\n_Gap: {gap}_"
        dimension_fields.append(mrkdwn(text, MAX_FIELD_TEXT))
    risks = sorted(analysis.risks, key=lambda r: PRIORITY_RANK[r.severity])
    steps = sorted(analysis.next_steps, key=lambda s: PRIORITY_RANK[s.priority])
    return [
        *header_and_context(conversation, ":telephone_receiver:"),
        SectionBlock(
            block_id=block_id(conversation, "score"),
            fields=[
                mrkdwn(f"*Overall score*\n*{score:.1f}* / 5  {_score_bar(score)}", MAX_FIELD_TEXT),
                mrkdwn(f"*Qualification*\n{STATUS_EMOJI[status]} {status.value}", MAX_FIELD_TEXT),
            ],
        ),
        DividerBlock(),
        SectionBlock(
            block_id=block_id(conversation, "dimensions"),
            text=mrkdwn("*MEDDIC scorecard*"),
            fields=dimension_fields,
        ),
        bullets(
            "Top risks",
            [
                f"*{r.severity.value.capitalize()}* — {escape_mrkdwn(single_line(r.description))}"
                for r in risks
            ],
            empty="No risks identified",
        ),
        bullets(
            "Next steps",
            [
                f"*{s.priority.value.capitalize()}* — {escape_mrkdwn(single_line(s.action))}"
                for s in steps
            ],
            empty="No next steps suggested",
        ),
        *extra_sections,
        link_buttons(conversation, links, *actions),
    ]


def rerun_button(conversation_id: uuid.UUID) -> ButtonElement:
    return ButtonElement(
        action_id=ACTION_RERUN_ANALYSIS,
        text=plain("Re-run analysis", MAX_BUTTON_TEXT),
        value=str(conversation_id),
    )


def scorecard_fallback(conversation: CallSummary, analysis: MeddicAnalysis) -> str:
    status = analysis.qualification_status
    return (
        f"{STATUS_EMOJI[status]} {status.value} ({analysis.overall_score:.1f}/5) — "
        f"{escape_mrkdwn(heading(conversation))}"
    )


def build_slack_message(
    conversation: CallSummary,
    analysis: MeddicAnalysis,
    links: ConversationLinks,
    *,
    extra_sections: Sequence[Block] = (),
) -> dict[str, Any]:
    """The scorecard message for one analysed call (``text`` fallback + ``blocks``), with a
    re-run button (ingest lets only managers and admins use it). Dimensions are listed in
    MEDDIC order whatever order the analysis holds them in."""
    blocks = scorecard_blocks(
        conversation,
        analysis,
        links,
        extra_sections=extra_sections,
        actions=[rerun_button(conversation.conversation_id)],
    )
    return message(scorecard_fallback(conversation, analysis), blocks)


class SlackThread(BaseModel):
    """Where a call's scorecard goes when its recording was shared in Slack: a reply in the
    thread of that message (stored on the conversation as ``slack_thread``)."""

    model_config = ConfigDict(frozen=True)

    channel: str = Field(min_length=1, max_length=32)
    thread_ts: str = Field(min_length=1, max_length=32)
