"""Whose words are evidence: the prospect's statements count, the rep's claims do not, a
prospect's confirmation of the rep's summary counts (alone at most 3), an acknowledged claim
is only touched on (2), and every evidence item says who said it and when.

The policy is documented in ``callstream_analyzer.meddic.replies``."""

from __future__ import annotations

import pytest

from callstream_analyzer.meddic import BuiltinMeddicAnalyzer, Role, split_sentences
from callstream_analyzer.meddic.replies import (
    PromptKind,
    ReplyKind,
    Stance,
    prompt_kind,
    replies,
    reply_kind,
)
from callstream_analyzer.meddic.roles import sentences_with_roles
from callstream_common.contracts import MeddicAnalysis, MeddicDimension, SpeakerRole

from . import dialogues as dl

D = MeddicDimension
R, P = "Rep", "Prospect"

CLAIMS = (
    "Teams like yours usually cut admin time by thirty percent and save $200k a year.",
    "Most firms we work with need single sign-on and a Salesforce integration as must-haves.",
)


def scores(a: MeddicAnalysis) -> dict[MeddicDimension, int]:
    return {d.dimension: d.score for d in a.dimensions}


# --------------------------------------------------------------------------- replies


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Yes, exactly.", ReplyKind.CONFIRMATION),
        ("That's right.", ReplyKind.CONFIRMATION),
        ("Correct.", ReplyKind.CONFIRMATION),
        ("Yep, she does.", ReplyKind.CONFIRMATION),
        ("Okay.", ReplyKind.BACKCHANNEL),
        ("Sure, makes sense.", ReplyKind.BACKCHANNEL),
        ("Mm-hm.", ReplyKind.BACKCHANNEL),
        ("Mm, probably.", ReplyKind.HEDGE),
        ("Yeah, that happens.", ReplyKind.HEDGE),
        ("I guess so.", ReplyKind.HEDGE),
        ("A fair bit, I'd say.", ReplyKind.HEDGE),
        ("No idea.", ReplyKind.DECLINE),
        ("Not officially.", ReplyKind.DECLINE),
        ("Nope, not yet.", ReplyKind.DECLINE),
        ("Yes, and the board meets in March to approve it.", None),
        ("Our dispatchers lose an hour every morning.", None),
    ],
)
def test_reply_kinds(text: str, kind: ReplyKind | None) -> None:
    assert reply_kind(text) is kind


def test_prompt_kinds() -> None:
    def kind(text: str) -> PromptKind:
        return prompt_kind(split_sentences(dl.make_transcript([(R, text)]))[0])

    assert kind("So, to recap, Dana signs off on anything over fifty thousand.") is (
        PromptKind.SUMMARY
    )
    assert kind("And it has to run on your own servers, right?") is PromptKind.SUMMARY
    assert kind("Does your CFO approve purchases like this?") is PromptKind.SUMMARY
    assert kind("Who signs off on purchases like this?") is PromptKind.OPEN_QUESTION
    assert kind("So what does the approval process look like?") is PromptKind.OPEN_QUESTION
    assert kind(CLAIMS[0]) is PromptKind.CLAIM


def test_a_short_reply_answers_the_last_sentence_of_a_short_rep_turn_only() -> None:
    pitch = [(R, "We do three things. " + CLAIMS[1] + " " + CLAIMS[0]), (P, "Okay.")]
    sentences, _ = sentences_with_roles(dl.make_transcript(pitch))
    assert replies(sentences) == {}  # "okay" after a pitch is politeness
    short = [(R, CLAIMS[0]), (P, "Okay. Yes, that's right.")]
    sentences, _ = sentences_with_roles(dl.make_transcript(short))
    (index, reply), *_ = replies(sentences).items()
    assert sentences[index].text == "Yes, that's right."  # back-channel first, then the reply
    assert reply.prompt.text == CLAIMS[0] and reply.stance is Stance.ACKNOWLEDGED


# --------------------------------------------------------------------------- the policy


@pytest.mark.parametrize("analyzer", ["fake_analyzer", "real_analyzer"])
def test_a_dimension_only_the_rep_talked_about_is_not_discussed(
    analyzer: str, request: pytest.FixtureRequest
) -> None:
    """The rep claims metrics and criteria; the prospect talks about something else."""
    a: BuiltinMeddicAnalyzer = request.getfixturevalue(analyzer)
    t = dl.make_transcript(
        [
            (R, CLAIMS[0]),
            (R, CLAIMS[1]),
            (P, "Honestly what bothers me is that the night shift keeps missing handovers."),
        ]
    )
    result = a.analyze(t)
    for d in (D.METRICS, D.DECISION_CRITERIA):
        dim = result.dimension(d)
        assert dim.score == 1, (d, dim.rationale)
        assert dim.evidence == []
    assert result.dimension(D.IDENTIFY_PAIN).score >= 2


def test_a_rep_monologue_is_not_evidence_even_when_the_prospect_says_okay(
    real_analyzer: BuiltinMeddicAnalyzer,
) -> None:
    t = dl.make_transcript(
        [
            (R, "Let me walk you through it. " + CLAIMS[0]),
            (R, CLAIMS[1] + " Pilots usually take two weeks before the contract."),
            (P, "Okay."),
        ]
    )
    assert set(scores(real_analyzer.analyze(t)).values()) == {1}


def test_an_acknowledged_claim_is_touched_on_and_quotes_the_prospect(
    fake_analyzer: BuiltinMeddicAnalyzer,
) -> None:
    t = dl.make_transcript([(R, "Hi."), (P, "Hello."), (R, CLAIMS[0]), (P, "Right.")])
    metrics = fake_analyzer.analyze(t).dimension(D.METRICS)
    assert metrics.score == 2
    (ev,) = metrics.evidence
    assert ev.quote == "Right." and ev.speaker == P and ev.role is SpeakerRole.PROSPECT
    assert ev.start == t.segments[3].start and ev.end == t.segments[3].end
    assert "only acknowledged the rep's claim" in metrics.rationale


@pytest.mark.parametrize("analyzer", ["fake_analyzer", "real_analyzer"])
def test_a_prospect_confirming_the_reps_summary_counts(
    analyzer: str, request: pytest.FixtureRequest
) -> None:
    a: BuiltinMeddicAnalyzer = request.getfixturevalue(analyzer)
    summary = (
        "So, to recap, Dana, your CFO, signs off on any purchase over fifty thousand dollars, "
        "right?"
    )
    confirmed = a.analyze(dl.make_transcript([(R, summary), (P, "Yes, exactly.")]))
    eb = confirmed.dimension(D.ECONOMIC_BUYER)
    assert eb.score == 3, eb.rationale  # counts, but not above 3 on a "yes" alone
    assert eb.evidence[0].quote == "Yes, exactly." and eb.evidence[0].role is Role.PROSPECT
    assert "confirm a summary by the rep" in eb.rationale
    moved_on = [(R, summary), (R, "Anyway, let me show you the dashboard."), (P, "Sure.")]
    assert a.analyze(dl.make_transcript(moved_on)).dimension(D.ECONOMIC_BUYER).score == 1


@pytest.mark.parametrize("analyzer", ["fake_analyzer", "real_analyzer"])
def test_a_no_or_a_vague_answer_to_the_rep_touches_the_topic_on(
    analyzer: str, request: pytest.FixtureRequest
) -> None:
    a: BuiltinMeddicAnalyzer = request.getfixturevalue(analyzer)
    declined = a.analyze(
        dl.make_transcript([(R, "Does anyone own the budget for this yet?"), (P, "Nope, not yet.")])
    ).dimension(D.ECONOMIC_BUYER)
    assert declined.score == 2 and declined.evidence[0].quote == "Nope, not yet."
    assert "not knowing" in declined.rationale and "Nope, not yet." in declined.gaps[0]
    vague = a.analyze(
        dl.make_transcript(
            [(R, "How many hours a week go into matching invoices?"), (P, "A fair bit, I'd say.")]
        )
    ).dimension(D.METRICS)
    assert vague.score == 2 and vague.evidence[0].role is Role.PROSPECT


def test_a_confirmation_adds_to_the_prospects_own_words(
    real_analyzer: BuiltinMeddicAnalyzer,
) -> None:
    own = [
        (R, "Who would approve the spend?"),
        (P, "Dana would have to approve it."),
    ]
    recap = [
        (R, "Just to confirm, Dana signs off on anything above fifty thousand dollars?"),
        (P, "Correct."),
    ]
    alone = real_analyzer.analyze(dl.make_transcript(own)).dimension(D.ECONOMIC_BUYER)
    both = real_analyzer.analyze(dl.make_transcript(own + recap)).dimension(D.ECONOMIC_BUYER)
    assert alone.score == 3
    assert both.score == 4  # the rep's recap, confirmed, adds the amount and the name
    assert {e.role for e in both.evidence} == {Role.PROSPECT}


def test_evidence_items_say_who_said_it_and_when(real_analyzer: BuiltinMeddicAnalyzer) -> None:
    """On a diarised call every evidence item is the prospect's, with speaker, role and the
    time of the sentence quoted; the rep's sentences are never quoted."""
    for lines in (dl.STRONG, dl.MIXED, dl.COMMITTEE, dl.FACTORY):
        t = dl.make_transcript(lines)
        sentences, roles = sentences_with_roles(t)
        by_text = {s.text: s for s in sentences}
        for dim in real_analyzer.analyze(t).dimensions:
            for ev in dim.evidence:
                said = by_text[ev.quote]
                assert ev.role is Role.PROSPECT, (dim.dimension, ev)
                assert ev.speaker == said.speaker and roles.of(ev.speaker) is Role.PROSPECT
                assert (ev.start, ev.end) == (said.start, said.end)


def test_without_roles_the_sellers_voice_is_not_evidence(
    real_analyzer: BuiltinMeddicAnalyzer,
) -> None:
    t = dl.make_transcript(
        [
            (None, "Our platform integrates with every major CRM and supports single sign-on."),
            (None, CLAIMS[0]),
            (None, "We mostly worry about the night shift missing handovers."),
        ]
    )
    s = scores(real_analyzer.analyze(t))
    assert s[D.DECISION_CRITERIA] == 1 and s[D.METRICS] == 1


def test_speakers_that_change_inside_sentences_are_not_trusted_with_roles() -> None:
    """Clustering that cuts sentences between voices gives no roles: nobody's words are then
    dropped as the rep's."""
    cut = dl.make_transcript(
        [
            ("SPEAKER_1", "Thanks for the time. How is the"),
            ("SPEAKER_2", "quarter going for your team?"),
            ("SPEAKER_1", "Busy. Our dispatchers lose an hour"),
            ("SPEAKER_2", "every morning to phone calls."),
            ("SPEAKER_1", "Who approves the"),
            ("SPEAKER_2", "budget for tools like ours?"),
        ]
    )
    sentences, roles = sentences_with_roles(cut)
    assert "unreliable" in roles.method and not roles.certain
    assert {s.role for s in sentences} == {Role.UNKNOWN}
    clean = dl.make_transcript(dl.WEAK)
    assert "behaviour" in sentences_with_roles(clean)[1].method


def test_guessed_roles_keep_the_reps_speakers_buyer_talk_as_touched_on(
    fake_analyzer: BuiltinMeddicAnalyzer,
) -> None:
    """Roles guessed from behaviour: a buyer's sentence that clustering gave to the rep's
    speaker touches the topic on (2) with no role claimed; with labels it would be dropped."""
    lines = [
        ("A", "What does the budget look like, and who signs?"),
        ("B", "Fine."),
        ("A", "Our CFO Dana signs off on every purchase above fifty thousand dollars."),
        ("A", "How do teams like yours usually roll this out?"),
        ("B", "Okay."),
    ]
    eb = fake_analyzer.analyze(dl.make_transcript(lines)).dimension(D.ECONOMIC_BUYER)
    assert eb.score == 2 and eb.evidence[0].role is None
    assert "unsure speaker" in eb.rationale
    labelled = [("Rep" if sp == "A" else "Customer", text) for sp, text in lines]
    assert (
        fake_analyzer.analyze(dl.make_transcript(labelled)).dimension(D.ECONOMIC_BUYER).score == 1
    )
