"""Scoring one dimension 1-5 from its signals.

1 not discussed; 2 touched on (only vague, rep-only or negative evidence); 3 the prospect
spoke to it; 4 specifics (numbers, names, dates) and three facets, or two facets over two
statements; 5 three or more facets, specifics and at least two statements, with this
dimension the main topic of at least one (two unless all four facets are covered). Negative
evidence (not knowing, deflecting, playing pain down) cannot lift a score above 2 and lowers a
higher one.
"""

from __future__ import annotations

from callstream_analyzer.meddic.lexicon import FACETS, SPECIFIC_FACETS
from callstream_analyzer.meddic.policy import AnalyzerConfig
from callstream_analyzer.meddic.report import CallContext, gaps_and_recommendations, short
from callstream_analyzer.meddic.sentences import Role
from callstream_analyzer.meddic.signals import DimensionResult, Signal
from callstream_common.contracts import DimensionAssessment, Evidence, MeddicDimension


def assess(
    d: MeddicDimension,
    signals: list[Signal],
    ctx: CallContext,
    buyer: str,
    cfg: AnalyzerConfig,
) -> DimensionResult:
    """Score 1-5 for one dimension with its rationale, best evidence, gaps and advice."""
    positive = [s for s in signals if not s.negative]
    voiced = [s for s in positive if s.sentence.role is not Role.REP and not s.sentence.is_question]
    negatives = [s for s in signals if s.negative]
    facets = frozenset().union(*(s.facets for s in voiced)) if voiced else frozenset()
    specific = bool(facets & SPECIFIC_FACETS[d])
    strength = sum(sorted((s.weight for s in voiced), reverse=True)[:3])
    who = "the prospect" if any(s.sentence.role is Role.PROSPECT for s in voiced) else "the call"

    if not signals:
        score = 1
        why = f"Not discussed: no statement in the call supports {d.title}."
    elif not voiced:
        score = 2
        kinds = []
        if negatives:
            kinds.append(f"{len(negatives)} statement(s) of not knowing")
        if any(s.sentence.role is Role.REP for s in positive):
            kinds.append("only the rep's statements")
        if any(s.sentence.is_question for s in positive):
            kinds.append("only questions from the prospect")
        why = f"Touched on but unresolved ({', '.join(kinds) or 'weak evidence'})."
    else:
        primary = sum(1 for s in voiced if s.primary)
        if (
            len(facets) >= 3
            and specific
            and len(voiced) >= 2
            and primary >= 1
            and (len(facets) >= 4 or primary >= 2)
        ):
            score = 5
        elif (
            specific
            and primary >= 1
            and (len(facets) >= 3 or (len(facets) >= 2 and len(voiced) >= 2))
        ):
            score = 4
        elif facets or strength >= 0.8:
            score = 3
        else:
            score = 2
        if negatives and score > 2:
            score -= 1
        why = (
            f"{len(voiced)} statement(s) from {who} (strength {strength:.2f}); covers "
            f"{', '.join(sorted(facets)) or 'no specific facet'}"
            + ("; includes specifics" if specific else "; no specifics (numbers, names, dates)")
        )
        if negatives:
            why += f"; {len(negatives)} statement(s) of not knowing lower it"
    missing = [f for f in FACETS[d] if f not in facets]
    if score < 5 and missing:
        why += f". Missing: {', '.join(missing)}."
    elif not why.endswith("."):
        why += "."
    if any(s.in_context for s in voiced):
        why += " Some evidence is an answer to the rep's question on this topic."

    ranked = sorted(
        signals,
        key=lambda s: (
            s.negative,
            s.sentence.role is Role.REP or s.sentence.is_question,
            -s.weight * (1.3 if s.specific else 1.0),
        ),
    )
    evidence = [
        Evidence(
            quote=short(s.sentence.text, 300),
            start=s.sentence.start,
            end=s.sentence.end,
            speaker=s.sentence.speaker,
            confidence=round(min(max(s.confidence, 0.0), 1.0), 2),
            role=None if s.sentence.role is Role.UNKNOWN else s.sentence.role,
        )
        for s in ranked[: cfg.top_k]
    ]
    gaps, recs = gaps_and_recommendations(d, score, facets, negatives, ctx, buyer)
    assessment = DimensionAssessment(
        dimension=d,
        score=score,
        evidence=evidence,
        gaps=gaps,
        recommendations=recs,
        rationale=f"Score {score}/5. {why}",
    )
    return DimensionResult(assessment, signals, facets)
