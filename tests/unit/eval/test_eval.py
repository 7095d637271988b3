"""The quality evaluation's pure parts (normaliser, WER, metrics), its labelled scripts, and a
small smoke of the analysis half on two scripts' text (no audio)."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from callstream_common.contracts import MeddicDimension
from eval.generate import (
    DIMENSIONS,
    SCRIPTS_DIR,
    SPEAKER_LABELS,
    Script,
    load_script,
    load_scripts,
    script_transcript,
    stitched_lines,
    stitched_transcript,
    truth_summary,
)
from eval.run import (
    PRESENT_AT,
    WordErrors,
    analyze_transcripts,
    dimension_metrics,
    edit_distance,
    macro_f1,
    normalize_words,
    score_predictions,
    text_transcripts,
    wer,
    word_errors,
)

D = MeddicDimension

# --------------------------------------------------------------------------- normaliser


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("We lose twenty cars a month.", ["we", "lose", "20", "cars", "a", "month"]),
        ("we lose 20 cars a month", ["we", "lose", "20", "cars", "a", "month"]),
        ("twenty-five", ["25"]),
        ("two hundred and five", ["205"]),
        ("a hundred people", ["100", "people"]),
        ("fifty thousand dollars", ["50000", "dollars"]),
        ("$50,000", ["50000", "dollars"]),
        ("$50k", ["50000", "dollars"]),
        ("1.2 million dollars", ["1200000", "dollars"]),
        ("one point two million", ["1200000"]),
        ("30%", ["30", "percent"]),
        ("thirty per cent", ["30", "percent"]),
        ("zero point eight", ["0.8"]),
        ("two thousand and twenty four", ["2024"]),
        ("the 14th of November", ["the", "14th", "of", "november"]),
        ("the fourteenth of November", ["the", "14th", "of", "november"]),
        ("twenty first", ["21th"]),
        ("It's OK, alright?", ["it's", "okay", "all", "right"]),
        ("Mr. Delgado", ["mister", "delgado"]),
        ("optimised organisation", ["optimized", "organization"]),
        ("a specialist", ["a", "specialist"]),
        ("in the last year", ["in", "the", "last", "year"]),
        ("one two", ["1", "2"]),
        ("", []),
    ],
)
def test_normalize_words(text: str, words: list[str]) -> None:
    assert normalize_words(text) == words


def test_normalize_keeps_a_as_a_word_when_no_number_follows() -> None:
    assert normalize_words("a few") == ["a", "few"]
    assert normalize_words("a thousand") == ["1000"]


# --------------------------------------------------------------------------- WER


def test_word_errors_counts_each_kind() -> None:
    ref = "the cat sat on the mat".split()
    assert word_errors(ref, ref) == WordErrors(0, 0, 0, 6)
    assert word_errors(ref, "the cat sat on a mat".split()) == WordErrors(1, 0, 0, 6)
    assert word_errors(ref, "the cat on the mat".split()) == WordErrors(0, 1, 0, 6)
    assert word_errors(ref, "the big cat sat on the mat".split()) == WordErrors(0, 0, 1, 6)
    assert word_errors(ref, []) == WordErrors(0, 6, 0, 6)
    assert word_errors([], ["hello"]) == WordErrors(0, 0, 1, 0)


def test_wer_values() -> None:
    assert wer("We lose twenty cars a month.", "we lose 20 cars a month") == 0.0
    assert wer("Our budget is fifty thousand dollars.", "Our budget is $50,000.") == 0.0
    assert wer("one two three four", "one two three five") == pytest.approx(0.25)
    assert WordErrors(0, 0, 0, 0).wer == 0.0
    assert WordErrors(0, 0, 2, 0).wer == 1.0
    assert (WordErrors(1, 0, 0, 4) + WordErrors(0, 1, 1, 6)) == WordErrors(1, 1, 1, 10)


def test_edit_distance_matches_alignment() -> None:
    rng = random.Random(7)
    vocab = ["a", "b", "c", "d", "e"]
    for _ in range(200):
        ref = [rng.choice(vocab) for _ in range(rng.randint(0, 12))]
        hyp = [rng.choice(vocab) for _ in range(rng.randint(0, 12))]
        assert edit_distance(ref, hyp) == word_errors(ref, hyp).errors, (ref, hyp)


# --------------------------------------------------------------------------- metrics


def test_dimension_metrics_hand_computed() -> None:
    # truth present 4 -> 3 (TP, -1), present 2 -> 1 (FN, -1), absent -> 2 (FP),
    # absent -> 1 (TN), present 5 -> 5 (TP, 0)
    m = dimension_metrics([(4, 3), (2, 1), (None, 2), (None, 1), (5, 5)])
    assert (m.n, m.present, m.tp, m.fp, m.fn, m.tn) == (5, 3, 2, 1, 1, 1)
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(2 / 3)
    assert m.mae == pytest.approx(2 / 3)
    assert m.bias == pytest.approx(-2 / 3)


def test_dimension_metrics_undefined_cases() -> None:
    nothing = dimension_metrics([(None, 1), (None, 1)])
    assert nothing.precision is None and nothing.recall is None and nothing.f1 is None
    assert nothing.mae is None and nothing.bias is None
    missed = dimension_metrics([(3, 1)])
    assert missed.precision is None and missed.recall == 0.0 and missed.f1 == 0.0
    assert missed.mae == 2.0
    false_alarm = dimension_metrics([(None, 4)])
    assert false_alarm.precision == 0.0 and false_alarm.recall is None
    assert false_alarm.f1 == 0.0
    assert dimension_metrics([(2, PRESENT_AT)]).tp == 1


def _script(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "tiny",
        "industry": "test",
        "description": "test",
        "speed": 160,
        "voices": {"rep": "en-us", "prospect": "en-gb"},
        "truth": {d.value: "absent" for d in DIMENSIONS} | {"identify_pain": 3},
        "lines": [
            {"rep": "What is going wrong?"},
            {"prospect": "Our reports are late every week."},
            {"rep": "Thanks."},
            {"prospect": "You're welcome."},
        ],
    }
    return base | changes


def test_score_predictions_per_dimension_and_micro() -> None:
    a = Script.model_validate(_script(id="a"))
    b = Script.model_validate(_script(id="b"))
    good = {d: 1 for d in DIMENSIONS} | {D.IDENTIFY_PAIN: 3}
    bad = {d: 2 for d in DIMENSIONS} | {D.IDENTIFY_PAIN: 1}
    out = score_predictions([a, b], {"a": good, "b": bad})
    assert set(out) == {d.value for d in DIMENSIONS} | {"all"}
    pain = out["identify_pain"]
    assert (pain.tp, pain.fn, pain.mae) == (1, 1, 1.0)
    assert out["metrics"].fp == 1 and out["metrics"].tn == 1
    assert out["all"].n == 12 and out["all"].fp == 5 and out["all"].tp == 1


def test_macro_f1_is_the_mean_over_dimensions_that_have_one() -> None:
    a = Script.model_validate(_script(id="a"))
    b = Script.model_validate(_script(id="b", held_out=True))
    good = {d: 1 for d in DIMENSIONS} | {D.IDENTIFY_PAIN: 3}
    bad = {d: 1 for d in DIMENSIONS} | {D.METRICS: 2}
    out = score_predictions([a, b], {"a": good, "b": bad})
    # Pain: one TP, one FN -> F1 2/3; Metrics: one FP, nothing present -> F1 0; the other
    # four have no F1 (nothing present, nothing called present) and are left out.
    assert macro_f1(out) == pytest.approx((2 / 3 + 0.0) / 2)
    assert [s.id for s in (a, b) if s.held_out] == ["b"]


# --------------------------------------------------------------------------- scripts


@pytest.fixture(scope="module")
def scripts() -> list[Script]:
    return load_scripts()


def test_every_script_has_ground_truth_for_all_six_dimensions(scripts: list[Script]) -> None:
    assert len(scripts) >= 24
    for s in scripts:
        assert set(s.truth) == set(DIMENSIONS), s.id
        for d, strength in s.truth.items():
            assert strength is None or 2 <= strength <= 5, (s.id, d)


def test_the_corpus_is_varied(scripts: list[Script]) -> None:
    assert len({s.id for s in scripts}) == len(scripts)
    assert len({s.industry for s in scripts}) == len(scripts)
    assert sum(s.noise for s in scripts) >= 3
    assert len({s.speed for s in scripts}) >= 4
    assert len({v for s in scripts for v in s.voices.values()}) >= 6
    for d in DIMENSIONS:
        strengths = {s.truth[d] for s in scripts}
        assert len(strengths) >= 3, d  # each dimension at several levels
    assert sum(s.truth[d] is None for s in scripts for d in DIMENSIONS) >= 20


def test_scripts_are_not_built_from_the_analyzer_prototypes(scripts: list[Script]) -> None:
    """The ground truth must not be circular: no script shares a run of five words with the
    built-in analyzer's prototype sentences."""
    from callstream_analyzer.meddic import PROTOTYPES

    def grams(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"[a-z0-9']+", text.lower())
        return {tuple(words[i : i + 5]) for i in range(len(words) - 4)}

    prototype_grams = set().union(*(grams(p) for ps in PROTOTYPES.values() for p in ps))
    for s in scripts:
        shared = grams(s.reference_text) & prototype_grams
        assert not shared, (s.id, shared)


def test_script_validation_rejects_bad_labels(tmp_path: Path) -> None:
    Script.model_validate(_script())
    truth = {d.value: "absent" for d in DIMENSIONS if d is not D.CHAMPION}
    with pytest.raises(ValidationError, match="champion"):
        Script.model_validate(_script(truth=truth))
    with pytest.raises(ValidationError, match="strength"):
        Script.model_validate(_script(truth={d.value: 1 for d in DIMENSIONS}))
    with pytest.raises(ValidationError, match="without a voice"):
        Script.model_validate(_script(lines=[{"prospect2": "hi"}] * 4))
    path = tmp_path / "x.yaml"
    path.write_text((SCRIPTS_DIR / "01-freight-dispatch.yaml").read_text())
    assert load_script(path).id == "freight-dispatch"


def test_script_transcript_and_stitched_calls(scripts: list[Script]) -> None:
    s = scripts[0]
    t = script_transcript(s)
    assert [seg.text for seg in t.segments] == [line.text for line in s.lines]
    assert {seg.speaker for seg in t.segments} <= set(SPEAKER_LABELS.values())
    starts = [seg.start for seg in t.segments]
    assert starts == sorted(starts) and t.duration_seconds > t.segments[-1].end
    assert all(seg.speaker is None for seg in script_transcript(s, speakers=False).segments)
    assert truth_summary(s).startswith("M")

    lines = stitched_lines(600)
    assert len({text for _, _, text in lines}) == len(lines)  # 10 min: no line repeats
    # Past the corpus, every sentence comes back reworded: no exact repeats at 2 hours.
    long_lines = [text for _, _, text in stitched_lines(7200)]
    sentences = [x for t in long_lines for x in re.split(r"(?<=[.?!])\s+", t)]
    repeats = len(sentences) - len(set(sentences))
    assert repeats <= len(sentences) // 50, repeats  # only lines that repeat within a call
    long = stitched_transcript(5, seed=1)
    assert 290 <= long.duration_seconds <= 330
    assert stitched_transcript(5, seed=1) == long


# --------------------------------------------------------------------------- smoke


def test_analysis_smoke_on_two_scripts() -> None:
    """The analysis half of ``python -m eval.run`` on two scripts' text, no audio."""
    from callstream_analyzer.factory import build_analyzer

    began = time.monotonic()
    scripts = load_scripts(only=["freight-dispatch", "hotel-revenue"])
    analyzer = build_analyzer("builtin")
    result = analyze_transcripts(
        "builtin/text+speakers", "builtin", analyzer, text_transcripts(scripts, speakers=True)
    )
    assert set(result.predictions) == {"freight-dispatch", "hotel-revenue"}
    for scores in result.predictions.values():
        assert set(scores) == set(DIMENSIONS) and all(1 <= v <= 5 for v in scores.values())
    metrics = result.metrics(scripts)
    assert set(metrics) == {d.value for d in DIMENSIONS} | {"all"}
    assert metrics["all"].n == 12 and metrics["all"].present == 7
    # A well-qualified call outscores a call of small talk.
    assert result.overall["freight-dispatch"] > result.overall["hotel-revenue"]
    assert time.monotonic() - began < 20
