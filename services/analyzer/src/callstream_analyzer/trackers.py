"""Trackers: what an organisation wants spotted in its calls, with when and by whom.

*Keyword* trackers match any of their phrases as whole words, case-insensitively ("SOC 2"
finds "soc 2" but not "soc 20"). *Smart* trackers match by meaning: a sentence whose
sentence embedding (the analyzer's MiniLM) is at least ``threshold`` similar to one of the
phrases, so "we're also talking to Gong" hits a "competitor evaluation" tracker phrased as
"we are evaluating other vendors". Pure apart from the embedder passed in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from callstream_analyzer.meddic.classifier import Embedder
from callstream_analyzer.meddic.lexicon import ACK
from callstream_analyzer.meddic.sentences import Sentence
from callstream_common.contracts import TrackerDefinition, TrackerHit, TrackerKind

MIN_WORDS_SMART = 4
"""Shorter sentences carry too little meaning to match a phrase by similarity."""


def _keyword_pattern(phrase: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"(?<!\w)" + r"[\s\-]+".join(words) + r"(?!\w)", re.IGNORECASE)


def _hit(tracker: TrackerDefinition, phrase: str, s: Sentence, score: float) -> TrackerHit:
    return TrackerHit(
        tracker=tracker.name,
        kind=tracker.kind,
        phrase=phrase,
        quote=s.text if len(s.text) <= 300 else s.text[:299] + "…",
        start=s.start,
        end=s.end,
        speaker=s.speaker,
        role=s.role,
        score=round(min(max(score, 0.0), 1.0), 3),
    )


def keyword_hits(tracker: TrackerDefinition, sentences: Sequence[Sentence]) -> list[TrackerHit]:
    patterns = [(p, _keyword_pattern(p)) for p in tracker.phrases]
    hits: list[TrackerHit] = []
    for s in sentences:
        phrase = next((p for p, pat in patterns if pat.search(s.text)), None)
        if phrase is not None:
            hits.append(_hit(tracker, phrase, s, 1.0))
    return hits


def smart_hits(
    tracker: TrackerDefinition, sentences: Sequence[Sentence], embedder: Embedder
) -> list[TrackerHit]:
    candidates = [
        s for s in sentences if len(s.text.split()) >= MIN_WORDS_SMART and not ACK.match(s.text)
    ]
    if not candidates:
        return []
    sims = embedder.embed([s.text for s in candidates]) @ embedder.embed(list(tracker.phrases)).T
    best = np.argmax(sims, axis=1)
    return [
        _hit(tracker, tracker.phrases[int(best[i])], s, float(sims[i, best[i]]))
        for i, s in enumerate(candidates)
        if sims[i, best[i]] >= tracker.threshold
    ]


def find_hits(
    trackers: Sequence[TrackerDefinition],
    sentences: Sequence[Sentence],
    embedder: Embedder | None,
) -> list[TrackerHit]:
    """Every hit of every tracker, in call order. Smart trackers need ``embedder``; without
    one (an analyzer configured without embeddings) they are skipped."""
    hits: list[TrackerHit] = []
    for tracker in trackers:
        if tracker.kind is TrackerKind.KEYWORD:
            hits += keyword_hits(tracker, sentences)
        elif embedder is not None:
            hits += smart_hits(tracker, sentences, embedder)
    return sorted(hits, key=lambda h: (h.start, h.tracker))
