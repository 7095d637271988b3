"""Call statistics and trackers on hand-timed transcripts: every figure checked by hand."""

from __future__ import annotations

import pytest

from callstream_analyzer.call_facts import CallFactsAnalyzer
from callstream_analyzer.embeddings import MiniLMEmbedder
from callstream_analyzer.meddic import BuiltinMeddicAnalyzer, sentences_with_roles
from callstream_analyzer.stats import call_stats
from callstream_analyzer.trackers import find_hits
from callstream_common.contracts import (
    SpeakerRole,
    TrackerDefinition,
    TrackerKind,
    Transcript,
    TranscriptSegment,
)

REP, PROSPECT = SpeakerRole.REP, SpeakerRole.PROSPECT


def seg(start: float, end: float, speaker: str | None, text: str) -> TranscriptSegment:
    return TranscriptSegment(start=start, end=end, speaker=speaker, text=text)


CALL = Transcript(
    language="en",
    duration_seconds=100.0,
    segments=[
        seg(0, 10, "Rep", "Thanks for joining. What is slowing your team down today?"),
        seg(11, 41, "Prospect", "Honestly the reporting. " * 6 + "We lose two days a month."),
        seg(41.5, 42.5, "Rep", "Right."),
        seg(43, 60, "Prospect", "And our CFO wants it fixed by Q3. We also looked at Gong."),
        seg(62, 70, "Rep", "How do you compare vendors? Our platform integrates with Salesforce."),
        seg(70, 80, "Prospect", "Security review and price. Do you support SSO?"),
    ],
)


def test_stats_by_hand() -> None:
    sentences, roles = sentences_with_roles(CALL)
    assert roles.of("Rep") is REP and roles.of("Prospect") is PROSPECT
    stats = call_stats(CALL, sentences, roles.roles)
    by = {s.speaker: s for s in stats.speakers}
    assert by["Prospect"].talk_seconds == 57.0 and by["Rep"].talk_seconds == 19.0
    assert by["Prospect"].talk_share == pytest.approx(57 / 76, abs=1e-3)
    assert stats.talk_share_by_role[PROSPECT] == pytest.approx(0.75, abs=1e-3)
    assert stats.questions_by_role == {PROSPECT: 1, REP: 2}
    # "Right." is back-channel: the prospect's story runs on from 11 s to 60 s.
    assert stats.longest_customer_story is not None
    assert (stats.longest_customer_story.start, stats.longest_customer_story.seconds) == (11, 49)
    assert stats.longest_monologue == stats.longest_customer_story
    assert stats.interactivity == pytest.approx(5 / (100 / 60), abs=0.01)
    assert stats.patience_seconds == pytest.approx((0.5 + 2.0) / 2)
    assert stats.silence_share == pytest.approx(1 - 76 / 100, abs=1e-3)


def test_stats_without_speakers_keep_call_level_figures() -> None:
    call = Transcript(
        language="en",
        duration_seconds=20,
        segments=[seg(0, 5, None, "Hello there."), seg(10, 15, None, "Hi, how are you?")],
    )
    sentences, roles = sentences_with_roles(call)
    stats = call_stats(call, sentences, roles.roles)
    assert stats.speakers == [] and stats.interactivity == 0 and stats.patience_seconds is None
    assert stats.silence_share == pytest.approx(0.5)


def test_keyword_tracker_hits_whole_words_with_time_and_speaker() -> None:
    sentences, _ = sentences_with_roles(CALL)
    tracker = TrackerDefinition(name="Competitors", phrases=["Gong", "Chorus"])
    security = TrackerDefinition(name="Security", phrases=["SSO", "security review"])
    hits = find_hits([tracker, security], sentences, None)
    assert [(h.tracker, h.phrase, h.speaker, h.role) for h in hits] == [
        ("Competitors", "Gong", "Prospect", PROSPECT),
        ("Security", "security review", "Prospect", PROSPECT),
        ("Security", "SSO", "Prospect", PROSPECT),
    ]
    assert hits[0].start >= 43 and hits[0].end <= 60
    no_substring = TrackerDefinition(name="x", phrases=["port"])  # not in "reporting"
    assert find_hits([no_substring], sentences, None) == []


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_smart_tracker_matches_by_meaning(minilm: MiniLMEmbedder) -> None:
    sentences, _ = sentences_with_roles(CALL)
    competition = TrackerDefinition(
        name="Competition",
        kind=TrackerKind.SMART,
        phrases=["We are evaluating other vendors and competitors."],
    )
    hits = find_hits([competition], sentences, minilm)
    # No shared keyword beyond "vendors", and no hit on the unrelated security question.
    assert [(h.quote, h.speaker) for h in hits] == [("How do you compare vendors?", "Rep")]
    assert competition.threshold <= hits[0].score <= 1
    assert find_hits([competition], sentences, None) == []  # no embedder: smart ones skipped


def test_call_facts_wrap_any_analyzer(minilm: MiniLMEmbedder) -> None:
    definitions = [TrackerDefinition(name="Pricing", phrases=["price", "pricing"])]
    analyzer = CallFactsAnalyzer(BuiltinMeddicAnalyzer(minilm), lambda: definitions, minilm)
    analysis = analyzer.analyze(CALL)
    assert analysis.stats is not None and analysis.stats.duration_seconds == 100
    assert [h.tracker for h in analysis.trackers] == ["Pricing"]
    evidence = [e for d in analysis.dimensions for e in d.evidence]
    assert evidence and all(e.role in (REP, PROSPECT) for e in evidence)
    assert any(e.role is PROSPECT for e in evidence)
