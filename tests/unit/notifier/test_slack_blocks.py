"""Block Kit builder: content, limits and safe truncation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from callstream_common.contracts import (
    MeddicAnalysis,
    MeddicDimension,
    NextStep,
    QualificationStatus,
    Risk,
)
from callstream_notifier.alerts import AlertKind, AlertSeverity, AlertTriggered
from callstream_notifier.slack import (
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_FIELD_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_FIELDS,
    MAX_SECTION_TEXT,
    STATUS_EMOJI,
    BlockKitError,
    CallSummary,
    ConversationLinks,
    build_alert_message,
    build_slack_message,
    clip,
    escape_mrkdwn,
    slack_length,
    validate_slack_message,
)
from tests.support.fake_slack import block_kit_problems

MakeAnalysis = Callable[..., MeddicAnalysis]


def blocks_of(payload: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in payload["blocks"] if b["type"] == kind]


def all_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def test_message_has_header_score_dimensions_risks_steps_and_buttons(
    call: CallSummary, analysis: Any, links: ConversationLinks
) -> None:
    payload = build_slack_message(call, analysis, links)

    header = blocks_of(payload, "header")[0]["text"]
    assert header["type"] == "plain_text"
    assert "Discovery call" in header["text"] and "Acme renewal" in header["text"]

    text = all_text(payload)
    assert "3.0" in text and "Medium" in text and STATUS_EMOJI[QualificationStatus.MEDIUM] in text
    assert "Acme Corp" in text and "rep-42" in text and "2025-03-14" in text and "30 min" in text
    assert "Budget not confirmed" in text and "Book a meeting with the CFO" in text
    assert payload["text"]  # notification fallback
    assert str(call.conversation_id) in text  # traceable via block ids

    dimension_section = next(
        b for b in blocks_of(payload, "section") if b.get("block_id", "").endswith(":dimensions")
    )
    fields = [f["text"] for f in dimension_section["fields"]]
    assert len(fields) == 6
    # MEDDIC order whatever order the analysis holds them in
    for field, name in zip(fields, MeddicDimension, strict=True):
        assert field.startswith(f"*{name.title}*")
        assert f"{analysis.dimension(name).score}/5" in field
    assert "_Gap: No clear champion yet_" in fields[-1]


def test_buttons_carry_the_links(
    call: CallSummary, analysis: Any, links: ConversationLinks
) -> None:
    actions = blocks_of(build_slack_message(call, analysis, links), "actions")
    assert len(actions) == 1
    urls = {e["action_id"]: e.get("url") for e in actions[0]["elements"]}
    assert urls == {
        "open_transcript": links.transcript_url,
        "open_analysis": links.analysis_url,
        "rerun_analysis": None,
    }
    assert actions[0]["elements"][2]["value"] == str(call.conversation_id)
    for element in actions[0]["elements"]:
        assert element["type"] == "button"
        assert element["text"]["type"] == "plain_text"
        assert len(element["text"]["text"]) <= MAX_BUTTON_TEXT


def test_risks_and_steps_are_sorted_by_priority(
    call: CallSummary, analysis: Any, links: ConversationLinks
) -> None:
    text = all_text(build_slack_message(call, analysis, links))
    assert text.index("No champion identified") < text.index("Budget not confirmed")
    assert text.index("Book a meeting") < text.index("Send the ROI model")


@pytest.mark.parametrize("status", list(QualificationStatus))
def test_each_status_has_its_emoji(
    status: QualificationStatus, call: CallSummary, make_analysis: MakeAnalysis, links: Any
) -> None:
    payload = build_slack_message(call, make_analysis(qualification_status=status), links)
    assert STATUS_EMOJI[status] in payload["text"]
    assert f"{STATUS_EMOJI[status]} {status.value}" in all_text(payload)


def test_huge_inputs_are_clipped_to_block_kit_limits(
    make_analysis: MakeAnalysis, links: ConversationLinks
) -> None:
    call = CallSummary(
        conversation_id="0b7d3c1e-7a51-4c0e-9d62-7f1f8a0c2b11",
        title="T" * 500,
        opportunity_name="O" * 500,
        company_name="C" * 5000,
        rep_id="r",
    )
    analysis = make_analysis(
        risks=[Risk(description="risk & <danger> " * 400) for _ in range(60)],
        next_steps=[NextStep(action="🚀 step " * 800) for _ in range(60)],
    )
    payload = build_slack_message(call, analysis, links)

    validate_slack_message(payload)
    assert block_kit_problems(payload["blocks"]) == []  # the fake's independent check agrees
    assert len(payload["blocks"]) <= MAX_BLOCKS
    header = blocks_of(payload, "header")[0]["text"]["text"]
    assert slack_length(header) <= MAX_HEADER_TEXT and header.endswith("…")
    for section in blocks_of(payload, "section"):
        if "text" in section:
            assert slack_length(section["text"]["text"]) <= MAX_SECTION_TEXT
        assert len(section.get("fields", [])) <= MAX_SECTION_FIELDS
        for field in section.get("fields", []):
            assert slack_length(field["text"]) <= MAX_FIELD_TEXT
    assert "_…and 55 more_" in all_text(payload)


def test_user_text_is_escaped_so_it_cannot_mention_or_link(
    call: CallSummary, make_analysis: MakeAnalysis, links: ConversationLinks
) -> None:
    analysis = make_analysis(risks=[Risk(description="<!channel> see <https://evil|here> & co")])
    text = all_text(build_slack_message(call, analysis, links))
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt; see &lt;https://evil|here&gt; &amp; co" in text


def test_clip_never_cuts_entities_or_surrogates() -> None:
    assert clip("short", 10) == "short"
    assert clip("abcdefghij", 5) == "abcd…"
    assert clip(escape_mrkdwn("abc & def"), 7) == "abc…"  # not "abc &a…"
    emoji = "😀" * 10  # 2 UTF-16 units each
    clipped = clip(emoji, 7)
    assert slack_length(clipped) <= 7 and clipped == "😀😀😀…"


def test_links_must_be_http_urls() -> None:
    with pytest.raises(ValueError):
        ConversationLinks(transcript_url="javascript:alert(1)", analysis_url="https://x.example")
    with pytest.raises(ValueError):
        ConversationLinks(
            transcript_url="https://x.example/" + "a" * 3000, analysis_url="https://x.example"
        )


def test_validator_reports_every_problem() -> None:
    payload = {
        "blocks": [
            {"type": "header", "text": {"type": "mrkdwn", "text": "x" * 151}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11},
            {"type": "mystery"},
        ]
    }
    with pytest.raises(BlockKitError) as info:
        validate_slack_message(payload)
    message = str(info.value)
    assert "blocks[0]" in message and "blocks[1]" in message and "blocks[2]" in message


def test_alert_message_lists_alerts_most_severe_first(
    call: CallSummary, links: ConversationLinks
) -> None:
    alerts = [
        AlertTriggered(
            rule_id="low",
            rule_name="Low score",
            kind=AlertKind.OVERALL_BELOW,
            message="Overall MEDDIC score 2.0/5 is below 3.",
            severity=AlertSeverity.WARNING,
        ),
        AlertTriggered(
            rule_id="risk",
            rule_name="At risk",
            kind=AlertKind.STATUS_IS,
            message="Qualification status is At Risk.",
            severity=AlertSeverity.CRITICAL,
        ),
    ]
    payload = build_alert_message(call, alerts, links)
    validate_slack_message(payload)
    sections = [b["text"]["text"] for b in blocks_of(payload, "section")]
    assert sections[0].startswith(":rotating_light: *At risk*")
    assert "2 MEDDIC alerts" in payload["text"]
    assert blocks_of(payload, "actions")[0]["elements"][1]["url"] == links.analysis_url

    many = build_alert_message(call, alerts * 30, links)
    assert len(many["blocks"]) <= MAX_BLOCKS and "20 more alerts" in all_text(many)
    with pytest.raises(ValueError):
        build_alert_message(call, [], links)
