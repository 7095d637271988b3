"""Quality of transcription and MEDDIC analysis on the labelled synthetic calls.

    python -m eval.run [--only ID ...] [--no-audio] [--beam-size 1] [--refresh]

1. **Transcription**: every call of ``eval/scripts/`` is synthesised (cached) and transcribed
   by the built-in Whisper (cached by audio hash and transcriber settings); word error rate
   against the script, on normalised text (lower case, no punctuation, numbers as digits:
   "twenty" and "20" are the same word, so are "30%" and "thirty percent").
2. **Analysis**: the built-in analyzer scores each call on three inputs — the script with
   speaker labels (a perfect, diarised transcript), the script without labels, and the
   Whisper transcript (no labels, as the pipeline has it). Per dimension: precision, recall
   and F1 of "present" (score >= 2 against ground truth present) and the mean absolute
   error of the score on the dimensions that are present. With
   ``CALLSTREAM_ANALYZER_PROVIDER=openai|gemini`` and its key, the LLM analyzer is scored
   the same way side by side (on the labelled script and on the Whisper transcript).

Results: tables on stdout, ``eval/results/eval-<UTC>.json`` (+ ``eval-latest.json`` and a
PNG when matplotlib is installed). Audio and transcripts are cached in
``eval/results/cache/``, so a rerun only repeats the analysis (seconds).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from callstream_common.contracts import MeddicAnalysis, MeddicDimension, Transcript
from eval.diarization import DiarizationResult, print_diarization, run_diarization_eval
from eval.diarization import total as total_der
from eval.generate import (
    CACHE_DIR,
    DIMENSIONS,
    RESULTS_DIR,
    Script,
    content_hash,
    load_scripts,
    script_transcript,
    short_name,
    synthesize_all,
    truth_summary,
    wav_seconds,
)

PRESENT_AT = 2
"""An analyzer score at or above this counts as "the dimension is present"."""
ASR_CACHE_VERSION = "1"

# =========================================================================== text normalisation

_UNITS: dict[str, int] = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS: dict[str, int] = {
    w: 10 * n
    for n, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
_SCALES: dict[str, int] = {"thousand": 10**3, "million": 10**6, "billion": 10**9}
_ORDINALS: dict[str, int] = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
_SPELLING: dict[str, list[str]] = {
    "ok": ["okay"],
    "alright": ["all", "right"],
    "percentage": ["percent"],
    "email": ["e", "mail"],
    "mr": ["mister"],
    "mrs": ["missus"],
    "dr": ["doctor"],
}
_CURRENCY = {"$": "dollars", "£": "pounds", "€": "euros"}
_BRITISH_ISE = re.compile(
    r"\b(organ|optim|real|recogn|prior|custom|summar|minim|maxim|standard|modern|central|"
    r"util|author|apolog|special|final|visual|normal|personal|categor|emphas)is"
    r"(e|ed|es|er|ers|ing|ation|ations)\b"
)
_DIGITS = re.compile(r"^\d+(?:\.\d+)?$")


def _is_number_word(word: str) -> bool:
    return word in _UNITS or word in _TENS or word == "hundred" or word in _SCALES


def _format_number(value: float) -> str:
    if value == int(value):
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _read_number(tokens: Sequence[str], i: int) -> tuple[str, int] | None:
    """If a number starts at ``tokens[i]`` ("two hundred and five", "1.2 million",
    "a hundred", "four point five"), its digits and the index after it; else None."""
    n = len(tokens)
    start = i
    if tokens[i] == "a" and i + 1 < n and tokens[i + 1] in ("hundred", *_SCALES):
        i += 1
    total = 0.0
    current = 0.0
    seen = False
    while i < n:
        t = tokens[i]
        if _DIGITS.match(t):
            if seen:
                break
            current, seen = float(t), True
        elif t in _UNITS or t in _TENS:
            v = _UNITS.get(t, _TENS.get(t, 0))
            last_two = current % 100
            fits = not seen or (
                current == int(current)
                and (
                    last_two == 0
                    or (t in _UNITS and v < 10 and last_two >= 20 and last_two % 10 == 0)
                )
            )
            if not fits:
                break
            current, seen = current + v, True
        elif t == "hundred":
            current, seen = (current or 1) * 100, True
        elif t in _SCALES:
            total += (current or 1) * _SCALES[t]
            current, seen = 0.0, True
        elif t == "and" and seen and i + 1 < n and tokens[i - 1] in ("hundred", *_SCALES):
            if not (tokens[i + 1] in _UNITS or tokens[i + 1] in _TENS):
                break
        elif t == "point" and seen and i + 1 < n and tokens[i + 1] in _UNITS:
            digits = ""
            j = i + 1
            while j < n and tokens[j] in _UNITS and _UNITS[tokens[j]] < 10:
                digits += str(_UNITS[tokens[j]])
                j += 1
            if not digits:
                break
            current += float(f"0.{digits}")
            i = j
            continue
        else:
            break
        i += 1
    if not seen:
        return None
    if i == start + 1 and tokens[start] == "a":
        return None
    return _format_number(total + current), i


def normalize_words(text: str) -> list[str]:
    """Words for WER: lower case, punctuation stripped, numbers as digits, a few spellings
    unified ("ok" = "okay", "$5" = "5 dollars", "30%" = "30 percent", "21st" = "21th",
    "organisation" = "organization")."""
    t = text.lower()
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)  # 42,000 -> 42000
    t = re.sub(
        r"([$£€])\s?(\d+(?:\.\d+)?)(\s?(?:k|thousand|million|billion|m|bn)\b)?",
        lambda m: f"{m.group(2)} {m.group(3) or ''} {_CURRENCY[m.group(1)]}",
        t,
    )
    t = re.sub(r"(\d)\s?%", r"\1 percent", t)
    t = re.sub(r"\bper cent\b", "percent", t)
    t = re.sub(r"(\d+)(?:st|nd|rd|th)\b", r"\1 th", t)
    t = re.sub(r"(\d)\s?k\b", r"\1 thousand", t)
    t = re.sub(r"(\d)\s?(?:bn)\b", r"\1 billion", t)
    t = _BRITISH_ISE.sub(r"\1iz\2", t)  # optimised = optimized
    t = re.sub(r"[-\u2013\u2014/]", " ", t)
    t = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", t)  # keep decimal points only
    t = re.sub(r"[^\w\s'.]", " ", t)
    raw = [w.strip("'") for w in t.split()]
    words: list[str] = []
    for w in raw:
        if not w:
            continue
        words.extend(_SPELLING.get(w, [w]))
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in _ORDINALS:
            out.append(f"{_ORDINALS[w]}th")
            i += 1
            continue
        if w in _TENS and i + 1 < len(words) and words[i + 1] in _ORDINALS:
            if _ORDINALS[words[i + 1]] < 10:
                out.append(f"{_TENS[w] + _ORDINALS[words[i + 1]]}th")
                i += 2
                continue
        starts_number = _is_number_word(w) or w == "a" or _DIGITS.match(w)
        number = _read_number(words, i) if starts_number else None
        if number is not None:
            digits, i = number
            if i < len(words) and words[i] == "th":
                out.append(f"{digits}th")
                i += 1
            else:
                out.append(digits)
            continue
        out.append(w)
        i += 1
    return out


# =========================================================================== word error rate


@dataclass(frozen=True)
class WordErrors:
    """Minimum edit between reference and hypothesis words."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.errors == 0 else 1.0
        return self.errors / self.reference_words

    def __add__(self, other: WordErrors) -> WordErrors:
        return WordErrors(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.reference_words + other.reference_words,
        )


def word_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> WordErrors:
    """Levenshtein alignment over words, counting substitutions, deletions and insertions
    (among alignments of minimum cost, the one with the fewest edits of all kinds is kept
    deterministic by preferring substitution, then deletion, then insertion)."""
    m = len(hypothesis)
    # Each cell: (cost, substitutions, deletions, insertions).
    prev = [(j, 0, 0, j) for j in range(m + 1)]
    for i in range(1, len(reference) + 1):
        cur = [(i, 0, i, 0)]
        r = reference[i - 1]
        for j in range(1, m + 1):
            d = prev[j - 1]
            if r == hypothesis[j - 1]:
                diag = d
            else:
                diag = (d[0] + 1, d[1] + 1, d[2], d[3])
            up = prev[j]
            left = cur[j - 1]
            cur.append(
                min(
                    diag,
                    (up[0] + 1, up[1], up[2] + 1, up[3]),
                    (left[0] + 1, left[1], left[2], left[3] + 1),
                    key=lambda c: c[0],
                )
            )
        prev = cur
    _cost, s, dl, ins = prev[m]
    return WordErrors(s, dl, ins, len(reference))


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Word-level Levenshtein distance in O(len(ref)) numpy row updates: fast enough for
    two-hour transcripts, where the pure-Python alignment of ``word_errors`` is not."""
    vocab: dict[str, int] = {}
    ref = np.array([vocab.setdefault(w, len(vocab)) for w in reference], dtype=np.int64)
    hyp = np.array([vocab.setdefault(w, len(vocab)) for w in hypothesis], dtype=np.int64)
    m = len(hyp)
    cols = np.arange(m + 1, dtype=np.int64)
    prev = cols.copy()
    for i, r in enumerate(ref, 1):
        # Substitution/match and deletion first, then insertions as a running minimum:
        # cur[j] = min_k<=j (best[k] + j - k).
        best = np.empty(m + 1, dtype=np.int64)
        best[0] = i
        best[1:] = np.minimum(prev[:-1] + (hyp != r), prev[1:] + 1)
        prev = np.minimum.accumulate(best - cols) + cols
    return int(prev[m])


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` after ``normalize_words``."""
    return word_errors(normalize_words(reference), normalize_words(hypothesis)).wer


# =========================================================================== analysis metrics


@dataclass(frozen=True)
class DimensionScore:
    """How well an analyzer's scores match the ground truth on one dimension (or all)."""

    n: int
    present: int
    tp: int
    fp: int
    fn: int
    tn: int
    precision: float | None
    recall: float | None
    f1: float | None
    mae: float | None
    """Mean |score - strength| over calls where the dimension is present."""
    bias: float | None
    """Mean (score - strength) over the same calls: < 0 means the analyzer under-scores."""


def dimension_metrics(
    pairs: Sequence[tuple[int | None, int]], present_at: int = PRESENT_AT
) -> DimensionScore:
    """``pairs`` of (ground-truth strength or None when absent, analyzer score 1-5).

    Precision is undefined (None) when the analyzer called nothing present, recall when
    nothing was present; F1 is 0 when either is 0 and None when both are undefined.
    """
    tp = fp = fn = tn = 0
    diffs: list[int] = []
    for truth, score in pairs:
        predicted = score >= present_at
        if truth is None:
            fp += predicted
            tn += not predicted
        else:
            tp += predicted
            fn += not predicted
            diffs.append(score - truth)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    if precision is None and recall is None:
        f1 = None
    elif not precision or not recall:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return DimensionScore(
        n=len(pairs),
        present=tp + fn,
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        precision=precision,
        recall=recall,
        f1=f1,
        mae=sum(abs(d) for d in diffs) / len(diffs) if diffs else None,
        bias=sum(diffs) / len(diffs) if diffs else None,
    )


Scores = dict[MeddicDimension, int]
"""One analysis reduced to its six scores."""


def score_predictions(
    scripts: Sequence[Script], predictions: Mapping[str, Scores]
) -> dict[str, DimensionScore]:
    """Per dimension (by value) and ``"all"`` (micro-average over every call and dimension)
    for the scripts that have a prediction."""
    scored = [s for s in scripts if s.id in predictions]
    out: dict[str, DimensionScore] = {}
    every: list[tuple[int | None, int]] = []
    for d in DIMENSIONS:
        pairs = [(s.truth[d], predictions[s.id][d]) for s in scored]
        every.extend(pairs)
        out[d.value] = dimension_metrics(pairs)
    out["all"] = dimension_metrics(every)
    return out


def macro_f1(metrics: Mapping[str, DimensionScore]) -> float | None:
    """Mean F1 over the dimensions that have one (the "all" row is micro, left out)."""
    f1s = [m.f1 for name, m in metrics.items() if name != "all" and m.f1 is not None]
    return sum(f1s) / len(f1s) if f1s else None


# =========================================================================== running analyzers


class AnalyzerLike(Protocol):
    """What ``analyze_transcripts`` needs: the built-in analyzer or an LLM one."""

    def analyze(self, transcript: Transcript) -> MeddicAnalysis: ...


def scores_of(analysis: MeddicAnalysis) -> Scores:
    return {a.dimension: int(a.score) for a in analysis.dimensions}


@dataclass
class ConditionResult:
    """One analyzer on one kind of input over the calls."""

    key: str
    label: str
    predictions: dict[str, Scores] = field(default_factory=dict)
    overall: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def metrics(self, scripts: Sequence[Script]) -> dict[str, DimensionScore]:
        return score_predictions(scripts, self.predictions)


def analyze_transcripts(
    key: str,
    label: str,
    analyzer: AnalyzerLike,
    transcripts: Mapping[str, Transcript],
    *,
    catch: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ConditionResult:
    """Run ``analyzer`` on each transcript (call id → transcript). With ``catch``, a call
    that fails (a remote LLM timing out) is recorded as a failure instead of raising."""
    result = ConditionResult(key, label)
    began = time.perf_counter()
    for call_id, transcript in transcripts.items():
        if progress:
            progress(call_id)
        try:
            analysis = analyzer.analyze(transcript)
        except Exception as exc:
            if not catch:
                raise
            result.failures[call_id] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        result.predictions[call_id] = scores_of(analysis)
        result.overall[call_id] = float(analysis.overall_score)
    result.seconds = time.perf_counter() - began
    return result


def text_transcripts(scripts: Sequence[Script], *, speakers: bool) -> dict[str, Transcript]:
    return {s.id: script_transcript(s, speakers=speakers) for s in scripts}


def llm_analyzer() -> tuple[AnalyzerLike | None, str]:
    """The LLM analyzer configured by ``CALLSTREAM_ANALYZER_*`` (environment or ``.env``), or
    None with the reason it is skipped."""
    from callstream_analyzer.factory import build_analyzer
    from callstream_analyzer.settings import AnalyzerSettings

    settings = AnalyzerSettings()
    provider = settings.analyzer_provider.strip().lower()
    if provider not in ("openai", "gemini"):
        return None, (
            f"CALLSTREAM_ANALYZER_PROVIDER is {provider!r}; set it to openai or gemini "
            "(with CALLSTREAM_ANALYZER_API_KEY) to score an LLM side by side"
        )
    key = settings.analyzer_api_key
    if (key is None or not key.get_secret_value()) and not settings.analyzer_base_url:
        return None, (
            f"CALLSTREAM_ANALYZER_PROVIDER={provider} but CALLSTREAM_ANALYZER_API_KEY is not set"
        )
    analyzer = build_analyzer(
        provider, settings.analyzer_base_url, key, settings.analyzer_model, max_attempts=2
    )
    model = settings.analyzer_model or getattr(analyzer, "model", "") or "default model"
    return analyzer, f"{provider} ({model})"


# =========================================================================== transcription


@dataclass(frozen=True)
class AsrResult:
    call_id: str
    transcript: Transcript
    audio_seconds: float
    elapsed_seconds: float
    """Transcription time when it was computed (it may come from the cache)."""
    cached: bool
    errors: WordErrors


def transcript_cache_path(script: Script, settings: Mapping[str, object]) -> Path:
    key = content_hash({"audio": script.audio_key, "asr": ASR_CACHE_VERSION, **settings})
    return CACHE_DIR / "transcripts" / f"{script.id}-{key[:16]}.json"


def transcribe_calls(
    scripts: Sequence[Script],
    audio: Mapping[str, Path],
    *,
    beam_size: int,
    chunk_seconds: float,
    model: str = "tiny.en",
    refresh: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Iterator[AsrResult]:
    """Whisper transcripts of the calls, from the cache when the same audio was transcribed
    with the same settings before (the model is loaded only if something is missing)."""
    from callstream_transcriber.models import MODEL_NAMES
    from callstream_transcriber.whisper import WhisperTranscriber

    settings = {
        "model": MODEL_NAMES[model],
        "beam_size": beam_size,
        "chunk_seconds": chunk_seconds,
        "pipeline": "words+speakers",
    }
    transcriber: WhisperTranscriber | None = None
    for s in scripts:
        path = transcript_cache_path(s, settings)
        cached = path.exists() and not refresh
        if cached:
            doc = json.loads(path.read_text())
            transcript = Transcript.model_validate(doc["transcript"])
            elapsed = float(doc["elapsed_seconds"])
        else:
            if progress:
                progress(s.id)
            if transcriber is None:
                transcriber = WhisperTranscriber(
                    model=model, beam_size=beam_size, chunk_seconds=chunk_seconds
                )
            began = time.perf_counter()
            transcript = transcriber.transcribe(audio[s.id])
            elapsed = time.perf_counter() - began
            path.parent.mkdir(parents=True, exist_ok=True)
            doc = {"transcript": transcript.model_dump(mode="json"), "elapsed_seconds": elapsed}
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc))
            tmp.replace(path)
        yield AsrResult(
            call_id=s.id,
            transcript=transcript,
            audio_seconds=wav_seconds(audio[s.id]),
            elapsed_seconds=elapsed,
            cached=cached,
            errors=word_errors(normalize_words(s.reference_text), normalize_words(transcript.text)),
        )


# =========================================================================== report


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def print_condition(result: ConditionResult, scripts: Sequence[Script]) -> None:
    from bench.common import print_table

    metrics = result.metrics(scripts)
    rows: list[list[object]] = []
    for name, m in metrics.items():
        title = "all (micro)" if name == "all" else MeddicDimension(name).title
        rows.append(
            [
                title,
                m.present,
                m.tp,
                m.fp,
                m.fn,
                _f(m.precision),
                _f(m.recall),
                _f(m.f1),
                _f(m.mae),
                _signed(m.bias),
            ]
        )
    caption = f"{len(result.predictions)} calls, {result.seconds:.1f} s"
    if result.failures:
        caption += f"; {len(result.failures)} failed: " + ", ".join(sorted(result.failures))
    print_table(
        f"MEDDIC — {result.label}",
        ["dimension", "present", "TP", "FP", "FN", "precision", "recall", "F1", "MAE", "bias"],
        rows,
        caption=caption,
    )


def print_side_by_side(
    results: Sequence[ConditionResult], scripts: Sequence[Script], title: str = "Side by side"
) -> None:
    from bench.common import print_table

    metrics = [r.metrics(scripts) for r in results]
    rows: list[list[object]] = []
    for name in [d.value for d in DIMENSIONS] + ["all"]:
        title_of = "all (micro)" if name == "all" else MeddicDimension(name).title
        rows.append([title_of, *(f"{_f(m[name].f1)} / {_f(m[name].mae)}" for m in metrics)])
    rows.append(["macro F1", *(_f(macro_f1(m)) for m in metrics)])
    print_table(
        f"{title}: F1 of present / MAE of score on present dimensions",
        ["dimension", *(r.label for r in results)],
        rows,
        caption=f"{len(scripts)} calls; present = score >= {PRESENT_AT}; MAE on the 1-5 scale",
    )


def predicted_summary(scores: Scores | None) -> str:
    if scores is None:
        return "failed"
    return " ".join(f"{short_name(d)}{scores[d]}" for d in DIMENSIONS)


def print_per_call(results: Sequence[ConditionResult], scripts: Sequence[Script]) -> None:
    from bench.common import print_table

    rows: list[list[object]] = []
    for s in scripts:
        cells: list[object] = [s.id, truth_summary(s)]
        for r in results:
            scores = r.predictions.get(s.id)
            wrong = (
                sum((scores[d] >= PRESENT_AT) != s.present(d) for d in DIMENSIONS)
                if scores is not None
                else 0
            )
            cells.append(f"{predicted_summary(scores)}  ({wrong})")
        rows.append(cells)
    print_table(
        "Per call: ground truth and scores (in brackets: dimensions called present/absent wrongly)",
        ["call", "ground truth", *(r.label for r in results)],
        rows,
    )


def write_chart(
    path: Path,
    results: Sequence[ConditionResult],
    scripts: Sequence[Script],
    asr: Sequence[AsrResult],
) -> bool:
    """F1 and MAE per dimension and condition, and WER per call, as one PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        return False
    panels = 3 if asr else 2
    fig, axes = plt.subplots(1, panels, figsize=(6.4 * panels, 4.8))
    labels = [short_name(d) for d in DIMENSIONS] + ["all"]
    x = np.arange(len(labels))
    width = 0.8 / max(1, len(results))
    for k, r in enumerate(results):
        m = r.metrics(scripts)
        names = [d.value for d in DIMENSIONS] + ["all"]
        f1 = [m[n].f1 or 0.0 for n in names]
        mae = [m[n].mae or 0.0 for n in names]
        axes[0].bar(x + k * width, f1, width, label=r.label)
        axes[1].bar(x + k * width, mae, width, label=r.label)
    for ax, title in zip(axes[:2], ("F1 of present", "MAE of score (present)"), strict=True):
        ax.set_xticks(x + width * (len(results) - 1) / 2, labels)
        ax.set_title(title)
        ax.grid(True, axis="y", alpha=0.3)
        # Head room above the bars for the legend.
        ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
        ax.legend(fontsize=7, loc="upper center", ncol=min(3, len(results)))
    if asr:
        ax = axes[2]
        ax.bar(range(len(asr)), [a.errors.wer * 100 for a in asr])
        ax.set_xticks(range(len(asr)), [a.call_id for a in asr], rotation=90, fontsize=6)
        ax.set_title("WER per call (%)")
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("callstream eval")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def print_transcription(
    scripts: Sequence[Script], asr: Sequence[AsrResult], model: str, beam_size: int
) -> None:
    from bench.common import print_table

    by_id = {s.id: s for s in scripts}
    rows: list[list[object]] = []
    for a in asr:
        s = by_id[a.call_id]
        e = a.errors
        rows.append(
            [
                a.call_id,
                " / ".join(s.voices.values()),
                s.speed,
                "yes" if s.noise else "",
                f"{a.audio_seconds:.0f}",
                e.reference_words,
                e.substitutions,
                e.deletions,
                e.insertions,
                f"{e.wer:.1%}",
            ]
        )
    total = sum((a.errors for a in asr), WordErrors(0, 0, 0, 0))
    audio_s = sum(a.audio_seconds for a in asr)
    asr_s = sum(a.elapsed_seconds for a in asr)
    rows.append(
        [
            "all (corpus)",
            "",
            "",
            "",
            f"{audio_s:.0f}",
            total.reference_words,
            total.substitutions,
            total.deletions,
            total.insertions,
            f"{total.wer:.1%}",
        ]
    )
    print_table(
        f"Transcription — built-in Whisper {model}, beam {beam_size}",
        ["call", "voices", "wpm", "noise", "audio s", "words", "S", "D", "I", "WER"],
        rows,
        caption=(
            f"normalised text (case, punctuation, numbers); RTF {asr_s / audio_s:.3f} "
            f"({sum(a.cached for a in asr)}/{len(asr)} transcripts from the cache)"
        ),
    )


def print_models_side_by_side(asr_by_model: Mapping[str, Sequence[AsrResult]]) -> None:
    """WER and real-time factor of each Whisper model on the same calls, same run."""
    from bench.common import print_table

    rows: list[list[object]] = []
    for model, asr in asr_by_model.items():
        errors = sum((a.errors for a in asr), WordErrors(0, 0, 0, 0))
        audio_s = sum(a.audio_seconds for a in asr) or 1.0
        asr_s = sum(a.elapsed_seconds for a in asr)
        rows.append(
            [model, len(asr), f"{audio_s:.0f}", f"{errors.wer:.1%}", f"{asr_s / audio_s:.3f}"]
        )
    print_table(
        "Whisper models side by side",
        ["model", "calls", "audio s", "WER", "RTF"],
        rows,
        caption="RTF = transcription seconds per audio second, incl. word timestamps and speakers",
    )


def _status_updater(status: Any, prefix: str) -> Callable[[str], None]:
    """A progress callback that shows ``prefix: <call id>`` on a rich status line."""

    def update(call_id: str) -> None:
        status.update(f"{prefix}: {call_id}")

    return update


def main(argv: Sequence[str] | None = None) -> None:
    from bench.common import console, save_results
    from callstream_analyzer.factory import build_analyzer
    from callstream_transcriber.transcription import DEFAULT_CHUNK_SECONDS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", default=[], metavar="ID", help="just these calls")
    parser.add_argument("--no-audio", action="store_true", help="analysis of the scripts only")
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--chunk-seconds", type=float, default=DEFAULT_CHUNK_SECONDS)
    parser.add_argument("--refresh", action="store_true", help="transcribe again (ignore cache)")
    parser.add_argument(
        "--models",
        nargs="+",
        default=["tiny.en"],
        choices=["tiny.en", "base"],
        help="built-in Whisper models to compare (the first one feeds the analysis columns)",
    )
    args = parser.parse_args(argv)

    scripts = load_scripts(only=args.only)
    began = time.perf_counter()
    console.print(f"[bold]eval[/]: {len(scripts)} labelled calls from eval/scripts/")

    # ---- transcription
    asr_by_model: dict[str, list[AsrResult]] = {}
    if not args.no_audio:
        audio = synthesize_all(scripts)
        for model in args.models:
            with console.status(f"transcribing ({model})") as status:
                asr_by_model[model] = list(
                    transcribe_calls(
                        scripts,
                        audio,
                        beam_size=args.beam_size,
                        chunk_seconds=args.chunk_seconds,
                        model=model,
                        refresh=args.refresh,
                        progress=_status_updater(status, f"transcribing ({model})"),
                    )
                )
            print_transcription(scripts, asr_by_model[model], model, args.beam_size)
        print_models_side_by_side(asr_by_model)
    asr = next(iter(asr_by_model.values()), [])

    # ---- diarization
    diarization: list[DiarizationResult] = []
    if not args.no_audio:
        with console.status("diarization"):
            diarization = run_diarization_eval()
        print_diarization(diarization)

    # ---- analysis
    builtin = build_analyzer("builtin")
    inputs: list[tuple[str, str, dict[str, Transcript]]] = [
        (
            "builtin/text+speakers",
            "builtin, script + speakers",
            text_transcripts(scripts, speakers=True),
        ),
        ("builtin/text", "builtin, script", text_transcripts(scripts, speakers=False)),
    ]
    for model, model_asr in asr_by_model.items():
        whisper = {a.call_id: a.transcript for a in model_asr}
        inputs.append((f"builtin/whisper-{model}", f"builtin, Whisper {model}", whisper))
    results = [analyze_transcripts(k, label, builtin, t) for k, label, t in inputs]

    llm, why = llm_analyzer()
    if llm is None:
        console.print(f"[yellow]LLM column skipped[/]: {why}")
    else:
        llm_inputs = [("llm/text+speakers", f"{why}, script + speakers", inputs[0][2])]
        if asr:
            llm_inputs.append(("llm/whisper", f"{why}, Whisper", inputs[2][2]))
        for k, label, t in llm_inputs:
            with console.status(f"{label}") as status:
                r = analyze_transcripts(
                    k,
                    label,
                    llm,
                    t,
                    catch=True,
                    progress=_status_updater(status, label),
                )
            if not r.predictions:
                first = next(iter(r.failures.values()), "no calls")
                console.print(f"[yellow]LLM column skipped[/]: every call failed ({first})")
                continue
            results.append(r)

    for r in results:
        print_condition(r, scripts)
    print_side_by_side(results, scripts)
    held_out = [s for s in scripts if s.held_out]
    if held_out:
        print_side_by_side(results, held_out, "Held out (written after the last tuning)")
    print_per_call(results, scripts)

    payload: dict[str, Any] = {
        "calls": len(scripts),
        "present_at": PRESENT_AT,
        "llm": why,
        "transcription": {
            "model": args.models[0],
            "models": {
                model: {
                    "wer": round(sum((a.errors for a in r), WordErrors(0, 0, 0, 0)).wer, 4),
                    "rtf": round(
                        sum(a.elapsed_seconds for a in r)
                        / (sum(a.audio_seconds for a in r) or 1.0),
                        4,
                    ),
                }
                for model, r in asr_by_model.items()
            },
            "beam_size": args.beam_size,
            "chunk_seconds": args.chunk_seconds,
            "calls": [
                {
                    "id": a.call_id,
                    "audio_seconds": round(a.audio_seconds, 2),
                    "elapsed_seconds": round(a.elapsed_seconds, 2),
                    **asdict(a.errors),
                    "wer": round(a.errors.wer, 4),
                    "hypothesis": a.transcript.text,
                }
                for a in asr
            ],
        },
        "analysis": {
            r.key: {
                "label": r.label,
                "seconds": round(r.seconds, 2),
                "metrics": {k: asdict(v) for k, v in r.metrics(scripts).items()},
                "macro_f1": macro_f1(r.metrics(scripts)),
                "held_out": {
                    "calls": [s.id for s in held_out],
                    "metrics": {k: asdict(v) for k, v in r.metrics(held_out).items()},
                    "macro_f1": macro_f1(r.metrics(held_out)),
                },
                "predictions": {
                    cid: {d.value: v for d, v in p.items()} for cid, p in r.predictions.items()
                },
                "overall": r.overall,
                "failures": r.failures,
            }
            for r in results
        },
        "truth": {s.id: {d.value: s.truth[d] for d in DIMENSIONS} for s in scripts},
        "diarization": {
            "der": round(total_der(diarization)[0], 4) if diarization else None,
            "der_one_speaker": round(total_der(diarization)[1], 4) if diarization else None,
            "mixes": [asdict(r) for r in diarization],
        },
    }
    if asr:
        total = sum((a.errors for a in asr), WordErrors(0, 0, 0, 0))
        payload["transcription"]["wer"] = round(total.wer, 4)
    written = save_results("eval", payload, directory=RESULTS_DIR)
    png = written[0].with_suffix(".png")
    if write_chart(png, results, scripts, asr):
        png.with_name("eval-latest.png").write_bytes(png.read_bytes())
    console.print(
        f"results: {written[-1].relative_to(RESULTS_DIR.parents[1])} "
        f"({time.perf_counter() - began:.0f} s)"
    )


if __name__ == "__main__":
    main()
