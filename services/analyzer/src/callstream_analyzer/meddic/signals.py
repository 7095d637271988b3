"""Labelling sentences by dimension: semantic and lexical signals combined, context borrowed
from the question before, and the weight of who said it.

The two signals are independent so that neither a paraphrase without keywords nor a keyword
in an unrelated sentence decides alone; they are combined as a noisy-or into a confidence per
dimension. A secondary dimension of a sentence needs ``relative_threshold`` of its best
confidence (or a strong cue of its own), and Metrics always needs a cue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from callstream_analyzer.meddic.classifier import PrototypeClassifier
from callstream_analyzer.meddic.lexicon import (
    ACK,
    ASKS_CAPABILITY,
    CONCRETE,
    CUES,
    FACETS,
    MINIMIZER,
    MONTHS,
    NEGATIVE,
    PROCESS_ANCHOR,
    SELF_AUTHORITY,
    SPECIFIC_FACETS,
    TIMING_CUES,
    person_names,
)
from callstream_analyzer.meddic.policy import AnalyzerConfig
from callstream_analyzer.meddic.replies import SELLER_VOICE, Stance, replies, speaks_as_seller
from callstream_analyzer.meddic.sentences import Role, Sentence
from callstream_common.contracts import DimensionAssessment, MeddicDimension

D = MeddicDimension


@dataclass(frozen=True)
class Signal:
    """One sentence's support for one dimension, with everything that explains it."""

    sentence: Sentence
    dimension: MeddicDimension
    confidence: float
    weight: float
    semantic: float
    cues: tuple[str, ...]
    in_context: bool
    negative: bool
    primary: bool
    facets: frozenset[str]
    stance: Stance = Stance.STATED
    prompt: Sentence | None = None
    """The rep's sentence that a confirmed or acknowledged signal replies to."""

    @property
    def specific(self) -> bool:
        return bool(self.facets & SPECIFIC_FACETS[self.dimension])


#: Dimensions a sentence supports only with a lexical cue: metrics are measurable by
#: definition, and a sentence "sounding like" metrics without a number or a measure is not one.
NEEDS_CUE = frozenset({D.METRICS})


def noisy_or(values: Iterable[float]) -> float:
    p = 1.0
    for v in values:
        p *= 1.0 - max(0.0, min(v, 1.0))
    return 1.0 - p


def facets_of(dimension: MeddicDimension, text: str) -> frozenset[str]:
    found = {name for name, pat in FACETS[dimension].items() if pat.search(text)}
    if dimension is D.ECONOMIC_BUYER:
        if person_names(text):
            found.add("named person")
        if SELF_AUTHORITY.search(text):  # the speaker is the buyer: role and person are known
            found |= {"role", "named person", "authority"}
        if re.search(r"\bowns? the (?:company|business|practice|firm)\b|\bowner\b", text, re.I):
            found.add("role")
    if dimension is D.DECISION_PROCESS and MONTHS.search(text):
        found.add("timeline")
    return frozenset(found)


@dataclass
class DimensionResult:
    assessment: DimensionAssessment
    signals: list[Signal]
    facets: frozenset[str]


class SignalExtractor:
    """Per dimension, the sentences that support it (``extract``), under ``config``."""

    def __init__(self, classifier: PrototypeClassifier, config: AnalyzerConfig) -> None:
        self._classifier = classifier
        self._config = config

    def _confidences(
        self, sentences: Sequence[Sentence]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], list[list[tuple[str, ...]]]]:
        """Per sentence and dimension: combined confidence, semantic probability, cue labels."""
        cfg = self._config
        dims = list(MeddicDimension)
        n = len(sentences)
        # Back-channel is never evidence and never a question worth context: skip embedding it.
        wanted = [i for i, s in enumerate(sentences) if not ACK.match(s.text)]
        sims = np.zeros((n, len(dims)), np.float32)
        background = np.ones(n, np.float32)
        if wanted:
            sims[wanted], background[wanted] = self._classifier.similarities(
                [sentences[i].text for i in wanted]
            )
        logits = (
            np.concatenate(
                [sims, background[:, None], np.full((n, 1), cfg.semantic_none)], axis=1
            ).astype(np.float64)
            / cfg.semantic_temperature
        )
        logits -= logits.max(axis=1, keepdims=True) if n else 0.0
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True) if n else 1.0
        semantic = probs[:, : len(dims)]
        conf = np.zeros((n, len(dims)), np.float64)
        cue_hits: list[list[tuple[str, ...]]] = []
        for i, s in enumerate(sentences):
            row: list[tuple[str, ...]] = []
            for k, d in enumerate(dims):
                hits = [c for c in CUES[d] if c.pattern.search(s.text)]
                if d is D.DECISION_PROCESS and not PROCESS_ANCHOR.search(s.text):
                    hits = [c for c in hits if c.label not in TIMING_CUES]
                lexical = min(noisy_or(c.weight for c in hits), 0.85)
                conf[i, k] = noisy_or((cfg.semantic_weight * float(semantic[i, k]), lexical))
                row.append(tuple(c.label for c in hits))
            cue_hits.append(row)
        return conf, semantic, cue_hits

    def _context(
        self, sentences: Sequence[Sentence], conf: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Confidence a sentence borrows from what came right before it.

        * A prospect's answer to a rep question about D is about D: the first sentences of the
          next turn (up to and including the first one of six words or more, at most two)
          borrow ``context_share`` of the question's confidence, unless they are clearly about
          another dimension themselves.
        * A sentence that continues an Economic Buyer statement by the same speaker with "she",
          "he", "her", "him" is about that person ("She already asked me for options").
        """
        cfg = self._config
        context = np.zeros_like(conf)
        for i, s in enumerate(sentences):
            if not s.is_question or s.role is Role.PROSPECT:
                continue
            j = i + 1
            while j < len(sentences) and sentences[j].turn == s.turn:
                j += 1
            if j == len(sentences) or sentences[j].role is Role.REP:
                continue
            answers: list[Sentence] = []
            for t in sentences[j : j + 2]:
                if t.turn != sentences[j].turn:
                    break
                answers.append(t)
                if len(t.text.split()) >= 6:
                    break
            for k in range(conf.shape[1]):
                if conf[i, k] < cfg.context_min:
                    continue
                for t in answers:
                    own_other = max(
                        (conf[t.index, j] for j in range(conf.shape[1]) if j != k), default=0.0
                    )
                    if own_other >= 0.6 and own_other > conf[t.index, k]:
                        continue
                    context[t.index, k] = max(context[t.index, k], cfg.context_share * conf[i, k])
        eb = list(MeddicDimension).index(D.ECONOMIC_BUYER)
        for i in range(1, len(sentences)):
            prev, s = sentences[i - 1], sentences[i]
            if (
                prev.speaker == s.speaker
                and conf[i - 1, eb] >= 0.6
                and re.search(r"\b(?:she|he|her|him)\b", s.text, re.I)
            ):
                context[i, eb] = max(context[i, eb], 0.5 * conf[i - 1, eb])
        return context

    def extract(
        self, sentences: Sequence[Sentence], *, roles_certain: bool = True
    ) -> list[list[Signal]]:
        """Per dimension (in ``MeddicDimension`` order), the signals of the call.

        The rep's sentences are never evidence; a prospect's short reply to one carries its
        topics with the stance the reply gives them (see :mod:`.replies`). When the roles are
        only guessed (``roles_certain`` false), a statement of the rep's speaker that does not
        sound like the seller is kept as ``UNATTRIBUTED``: touched on at most."""
        cfg = self._config
        dims = list(MeddicDimension)
        conf, semantic, cue_hits = self._confidences(sentences)
        context = self._context(sentences, conf)
        total = 1.0 - (1.0 - conf) * (1.0 - context)
        reply_to = replies(sentences)
        out: list[list[Signal]] = [[] for _ in dims]

        def topics(i: int) -> list[int]:
            """Dimensions sentence ``i`` is about, judged on its words and context alone."""
            s = sentences[i]
            best = float(total[i].max()) if len(dims) else 0.0
            # A short sentence counts when it names something, or when it is a "not really"
            # in answer to a question on the topic (a deflection touches the topic on).
            if ACK.match(s.text) or (
                len(s.text.split()) < cfg.min_words
                and not (CONCRETE.search(s.text) or person_names(s.text))
                and not (NEGATIVE.search(s.text) and context[i].max() > 0)
            ):
                return []
            found = []
            for k, d in enumerate(dims):
                c = float(total[i, k])
                strong_cue = any(
                    cue.weight >= 0.5 for cue in CUES[d] if cue.label in cue_hits[i][k]
                )
                if c < cfg.evidence_threshold:
                    continue
                if d in NEEDS_CUE and not cue_hits[i][k] and context[i, k] == 0:
                    continue
                if c < cfg.relative_threshold * best and not strong_cue:
                    continue
                found.append(k)
            return found

        for i, s in enumerate(sentences):
            reply = reply_to.get(i)
            if reply is not None:
                stance = reply.stance
                p = reply.prompt.index
                if stance is None:
                    continue
                best = float(total[p].max())
                for k in topics(p):
                    c = float(total[p, k])
                    if c < 0.9 * best:
                        continue  # a short reply answers the main point of what the rep said
                    out[k].append(
                        Signal(
                            sentence=s,
                            dimension=dims[k],
                            confidence=round(c, 3),
                            weight=c * cfg.stance_weights[stance],
                            semantic=round(float(semantic[p, k]), 3),
                            cues=cue_hits[p][k],
                            in_context=True,
                            negative=reply.negative,
                            primary=c >= 0.9 * best,
                            facets=facets_of(dims[k], reply.prompt.text)
                            if stance is Stance.CONFIRMED and not reply.negative
                            else frozenset(),
                            stance=stance,
                            prompt=reply.prompt,
                        )
                    )
                continue
            requirement = s.is_question and bool(ASKS_CAPABILITY.search(s.text))
            unattributed = (
                s.role is Role.REP
                and not roles_certain
                and not s.is_question
                and not SELLER_VOICE.search(s.text)
            )
            if (speaks_as_seller(s) and not unattributed) or (
                s.is_question and s.role is not Role.PROSPECT and not requirement
            ):
                continue
            best = float(total[i].max())
            concrete = bool(CONCRETE.search(s.text))
            negative_text = bool(NEGATIVE.search(s.text)) and not concrete
            minimized = bool(MINIMIZER.search(s.text))
            for k in topics(i):
                d = dims[k]
                c = float(total[i, k])
                stance = (
                    Stance.UNATTRIBUTED
                    if unattributed
                    else Stance.STATED
                    if not s.is_question or (requirement and d is D.DECISION_CRITERIA)
                    else Stance.ASKED
                )
                if stance is Stance.ASKED and s.role is not Role.PROSPECT:
                    continue
                if d is D.IDENTIFY_PAIN:
                    # Pain is negative talk by nature: only playing it down or an evasive
                    # answer without any strong pain word counts against it.
                    strong_pain = any(c == "pain" for c in cue_hits[i][k])
                    negative = minimized or (negative_text and not strong_pain)
                else:
                    negative = negative_text
                out[k].append(
                    Signal(
                        sentence=s,
                        dimension=d,
                        confidence=round(c, 3),
                        weight=c
                        * cfg.role_weights[Role.UNKNOWN if unattributed else s.role]
                        * cfg.stance_weights[stance],
                        semantic=round(float(semantic[i, k]), 3),
                        cues=cue_hits[i][k],
                        in_context=bool(conf[i, k] < cfg.evidence_threshold),
                        negative=negative,
                        primary=c >= 0.9 * best,
                        facets=frozenset() if negative else facets_of(d, s.text),
                        stance=stance,
                    )
                )
        return out
