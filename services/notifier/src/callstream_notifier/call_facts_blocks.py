"""The call statistics and tracker hits of a scorecard as Block Kit blocks.

Kept apart from the scorecard builder so that whichever module builds the Slack message
can append them: ``blocks += call_facts_blocks(analysis, block_id)``. Returns nothing when
the analysis has neither (an older scorecard, or a call without speakers and trackers).
Text stays well under Slack's limits (a section's text: 3,000 characters).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from callstream_common.contracts import CallStats, MeddicAnalysis, SpeakerRole, TrackerHit

MAX_TRACKERS_LISTED = 8
MAX_TEXT = 2900


def _clock(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def stats_text(stats: CallStats) -> str:
    """One mrkdwn paragraph: talk ratio, questions, monologues, pace."""
    lines: list[str] = []
    share = stats.talk_share_by_role
    if SpeakerRole.REP in share or SpeakerRole.PROSPECT in share:
        rep, prospect = share.get(SpeakerRole.REP, 0.0), share.get(SpeakerRole.PROSPECT, 0.0)
        lines.append(f"*Talk ratio* rep {rep:.0%} · prospect {prospect:.0%}")
    elif stats.speakers:
        lines.append(
            "*Talk share* "
            + " · ".join(f"{_escape(s.speaker)} {s.talk_share:.0%}" for s in stats.speakers[:4])
        )
    questions = stats.questions_by_role
    if questions:
        lines.append(
            "*Questions* "
            + " · ".join(f"{role.value} {n}" for role, n in sorted(questions.items()))
        )
    if stats.longest_monologue is not None:
        m = stats.longest_monologue
        who = m.role.value if m.role is not SpeakerRole.UNKNOWN else _escape(m.speaker or "?")
        lines.append(f"*Longest monologue* {m.seconds:.0f} s ({who}, at {_clock(m.start)})")
    if stats.longest_customer_story is not None:
        c = stats.longest_customer_story
        lines.append(f"*Longest customer story* {c.seconds:.0f} s (at {_clock(c.start)})")
    pace = [f"{stats.interactivity:.1f} switches/min"] if stats.speakers else []
    if stats.patience_seconds is not None:
        pace.append(f"patience {stats.patience_seconds:.1f} s")
    pace.append(f"silence {stats.silence_share:.0%}")
    lines.append("*Pace* " + " · ".join(pace))
    return "\n".join(lines)


def trackers_text(hits: list[TrackerHit]) -> str:
    """Tracker names with their hit count and first moment, most hits first."""
    counts = Counter(h.tracker for h in hits)
    first: dict[str, TrackerHit] = {}
    for h in sorted(hits, key=lambda h: h.start):
        first.setdefault(h.tracker, h)
    parts = [
        f"*{_escape(name)}* x{n} (first at {_clock(first[name].start)}, {first[name].role.value})"
        for name, n in counts.most_common(MAX_TRACKERS_LISTED)
    ]
    more = len(counts) - MAX_TRACKERS_LISTED
    return "\n".join(parts) + (f"\n…and {more} more" if more > 0 else "")


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text[:MAX_TEXT]}


def call_facts_blocks(analysis: MeddicAnalysis, block_id_prefix: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if analysis.stats is not None:
        blocks.append(
            {
                "type": "section",
                "block_id": f"{block_id_prefix}-stats"[:255],
                "text": {
                    "type": "mrkdwn",
                    "text": "*Call statistics*\n" + stats_text(analysis.stats),
                },
            }
        )
    if analysis.trackers:
        blocks.append(
            {
                "type": "section",
                "block_id": f"{block_id_prefix}-trackers"[:255],
                "text": {
                    "type": "mrkdwn",
                    "text": "*Trackers*\n" + trackers_text(analysis.trackers),
                },
            }
        )
    return blocks
