"""Call statistics and tracker hits in the Slack scorecard (valid Block Kit, figures shown)."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from callstream_common.contracts import (
    CallStats,
    Monologue,
    SpeakerRole,
    SpeakerStats,
    TrackerHit,
    TrackerKind,
)
from callstream_notifier.call_facts_blocks import call_facts_blocks
from callstream_notifier.slack import CallSummary, ConversationLinks, build_slack_message

from .conftest import MakeAnalysis

REP, PROSPECT = SpeakerRole.REP, SpeakerRole.PROSPECT

STATS = CallStats(
    duration_seconds=600,
    speakers=[
        SpeakerStats(speaker="Speaker 1", role=REP, talk_seconds=330, talk_share=0.6, questions=9),
        SpeakerStats(
            speaker="Speaker 2", role=PROSPECT, talk_seconds=220, talk_share=0.4, questions=2
        ),
    ],
    talk_share_by_role={REP: 0.6, PROSPECT: 0.4},
    questions_by_role={REP: 9, PROSPECT: 2},
    longest_monologue=Monologue(speaker="Speaker 1", role=REP, start=75, seconds=95),
    longest_customer_story=Monologue(speaker="Speaker 2", role=PROSPECT, start=200, seconds=48),
    interactivity=4.2,
    patience_seconds=0.8,
    silence_share=0.08,
)


def hit(tracker: str, start: float) -> TrackerHit:
    return TrackerHit(
        tracker=tracker,
        kind=TrackerKind.KEYWORD,
        phrase=tracker.lower(),
        quote="...",
        start=start,
        end=start + 2,
        speaker="Speaker 2",
        role=PROSPECT,
    )


def test_stats_and_trackers_appear_in_the_scorecard(
    call: CallSummary, make_analysis: MakeAnalysis, links: ConversationLinks
) -> None:
    analysis = make_analysis(
        stats=STATS, trackers=[hit("Pricing", 130), hit("Competitors", 65), hit("Pricing", 400)]
    )
    facts = call_facts_blocks(analysis, f"callstream:{call.conversation_id}:facts")
    sections = [block for b in facts if (block := Block.parse(b)) is not None]
    payload = build_slack_message(call, analysis, links, extra_sections=sections)
    text = "\n".join(
        b["text"]["text"]
        for b in payload["blocks"]
        if b.get("block_id", "").endswith(("facts-stats", "facts-trackers"))
    )
    assert "rep 60% · prospect 40%" in text
    assert "rep 9" in text and "prospect 2" in text
    assert "Longest monologue* 95 s (rep, at 1:15)" in text
    assert "Longest customer story* 48 s (at 3:20)" in text
    assert "patience 0.8 s" in text and "silence 8%" in text
    assert "*Pricing* x2 (first at 2:10, prospect)" in text
    assert text.index("Pricing") < text.index("Competitors")


def test_no_stats_no_blocks(make_analysis: MakeAnalysis) -> None:
    assert call_facts_blocks(make_analysis(), "x") == []
