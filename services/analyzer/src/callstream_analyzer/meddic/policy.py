"""Scoring policy: dimension weights, the qualification status rule and the thresholds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from callstream_analyzer.meddic.replies import Stance
from callstream_analyzer.meddic.sentences import Role
from callstream_common.contracts import MeddicDimension, QualificationStatus

D = MeddicDimension


@dataclass(frozen=True)
class StatusPolicy:
    """Qualification status from the overall score and the number of dimensions at 1.

    Strong: overall >= 4.0 and no dimension at 1. Medium: overall >= 3.0 and at most one
    dimension at 1. Weak: overall >= 2.0 and at most one dimension at 1. At Risk: anything
    else — overall < 2.0, or two or more MEDDIC pillars never discussed (a deal missing two
    pillars is at risk however well the others went).
    """

    strong: float = 4.0
    medium: float = 3.0
    weak: float = 2.0
    at_risk_missing: int = 2

    def status(self, overall: float, scores: Iterable[int]) -> QualificationStatus:
        missing = sum(1 for s in scores if s <= 1)
        if overall < self.weak or missing >= self.at_risk_missing:
            return QualificationStatus.AT_RISK
        if overall >= self.strong and missing == 0:
            return QualificationStatus.STRONG
        if overall >= self.medium:
            return QualificationStatus.MEDIUM
        return QualificationStatus.WEAK


DEFAULT_WEIGHTS: Mapping[MeddicDimension, float] = {
    D.METRICS: 1.0,
    D.ECONOMIC_BUYER: 1.25,
    D.DECISION_CRITERIA: 0.75,
    D.DECISION_PROCESS: 1.0,
    D.IDENTIFY_PAIN: 1.25,
    D.CHAMPION: 1.0,
}


@dataclass(frozen=True)
class AnalyzerConfig:
    """Thresholds of the built-in analyzer.

    The semantic signal is a softmax over the sentence's similarity to the six dimensions, to
    the background prototypes and to a constant ``semantic_none`` ("about none of these"), at
    ``semantic_temperature``. all-MiniLM-L6-v2 gives ~0.35-0.55 for a sentence and a prototype
    on the same topic and ~0.1-0.3 otherwise, so a softmax rewards a sentence that is clearly
    closer to one dimension than to the rest and to small talk, which a fixed cosine threshold
    cannot do for short, generic sentences.
    """

    semantic_temperature: float = 0.05
    semantic_none: float = 0.30
    semantic_weight: float = 0.85
    evidence_threshold: float = 0.42
    #: A secondary dimension of a sentence needs this share of the sentence's best confidence.
    relative_threshold: float = 0.65
    #: A prospect's answer inherits this share of the rep question's confidence per dimension.
    context_share: float = 0.6
    context_min: float = 0.45
    top_k: int = 3
    min_words: int = 3
    #: Weight of a sentence by who said it. The rep's sentences are never evidence (see
    #: :mod:`.replies`); without diarization nobody knows who spoke, hence less than 1.
    role_weights: Mapping[Role, float] = field(
        default_factory=lambda: {Role.PROSPECT: 1.0, Role.UNKNOWN: 0.8, Role.REP: 0.0}
    )
    #: Weight of a signal by how the prospect stands behind it.
    stance_weights: Mapping[Stance, float] = field(
        default_factory=lambda: {
            Stance.STATED: 1.0,
            Stance.CONFIRMED: 0.8,
            Stance.ASKED: 0.5,
            Stance.ACKNOWLEDGED: 0.35,
            Stance.UNATTRIBUTED: 0.35,
        }
    )
    #: Highest score of a dimension the prospect only confirmed (the rep's summary, "yes").
    confirmed_cap: int = 3
    weights: Mapping[MeddicDimension, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    status_policy: StatusPolicy = field(default_factory=StatusPolicy)


def weighted_overall(
    scores: Mapping[MeddicDimension, int],
    weights: Mapping[MeddicDimension, float] = DEFAULT_WEIGHTS,
) -> float:
    """The overall score as the built-in analyzer computes it (exposed for tests and LLM
    post-processing that wants the same aggregation)."""
    total = sum(weights[d] for d in scores)
    return round(sum(weights[d] * s for d, s in scores.items()) / total, 2) if total else 1.0
