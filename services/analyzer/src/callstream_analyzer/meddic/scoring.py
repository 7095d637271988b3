"""Scoring one dimension 1-5 from its signals.

1 not discussed (the rep's own claims and questions are not evidence); 2 touched on (the
prospect only asked, acknowledged a claim of the rep's, was vague or did not know); 3 the
prospect spoke to it, or confirmed the rep's summary of it (a confirmation alone stops at 3);
4 specifics (numbers, names, dates) and three facets, or two facets over two statements; 5
all four facets, specifics and at least two statements that are mainly about this dimension
("thorough"; on the eval, a reviewer gave most three-facet 5s a 4). Negative
evidence (not knowing, deflecting, playing pain down) cannot lift a score above 2 and lowers a
higher one.
"""

from __future__ import annotations

from callstream_analyzer.meddic.lexicon import FACETS, SPECIFIC_FACETS
from callstream_analyzer.meddic.policy import AnalyzerConfig
from callstream_analyzer.meddic.replies import Stance
from callstream_analyzer.meddic.report import (
    CallContext,
    fmt_ts,
    gaps_and_recommendations,
    short,
)
from callstream_analyzer.meddic.sentences import Role
from callstream_analyzer.meddic.signals import DimensionResult, Signal
from callstream_common.contracts import DimensionAssessment, Evidence, MeddicDimension

_STANCE_ORDER = {
    Stance.STATED: 0,
    Stance.CONFIRMED: 1,
    Stance.ASKED: 2,
    Stance.ACKNOWLEDGED: 3,
    Stance.UNATTRIBUTED: 4,
}


def _prompt(signal: Signal) -> str:
    return signal.prompt.text if signal.prompt is not None else ""


def assess(
    d: MeddicDimension,
    signals: list[Signal],
    ctx: CallContext,
    buyer: str,
    cfg: AnalyzerConfig,
) -> DimensionResult:
    """Score 1-5 for one dimension with its rationale, best evidence, gaps and advice."""
    positive = [s for s in signals if not s.negative]
    voiced = [s for s in positive if s.stance in (Stance.STATED, Stance.CONFIRMED)]
    negatives = [s for s in signals if s.negative]
    facets = frozenset().union(*(s.facets for s in voiced)) if voiced else frozenset()
    specific = bool(facets & SPECIFIC_FACETS[d])
    strength = sum(sorted((s.weight for s in voiced), reverse=True)[:3])
    who = "the prospect" if any(s.sentence.role is Role.PROSPECT for s in voiced) else "the call"

    if not signals:
        score = 1
        why = f"Not discussed: no statement by the prospect supports {d.title}."
    elif not voiced:
        score = 2
        kinds = []
        if negatives:
            kinds.append(f"{len(negatives)} statement(s) of not knowing")
        acknowledged = [s for s in positive if s.stance is Stance.ACKNOWLEDGED]
        if acknowledged:
            first = acknowledged[0]
            kinds.append(
                f'the prospect only acknowledged the rep\'s claim "{short(_prompt(first), 80)}" '
                f'with "{short(first.sentence.text, 40)}" ({fmt_ts(first.sentence.start)})'
            )
        if any(s.stance is Stance.ASKED for s in positive):
            kinds.append("only questions from the prospect")
        if any(s.stance is Stance.UNATTRIBUTED for s in positive):
            kinds.append("only statements of unsure speaker (roles guessed from behaviour)")
        why = f"Touched on but unresolved ({'; '.join(kinds) or 'weak evidence'})."
    else:
        primary = sum(1 for s in voiced if s.primary)
        if len(facets) >= 4 and specific and len(voiced) >= 2 and primary >= 2:
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
        own = [s for s in voiced if s.stance is Stance.STATED]
        if not own:
            score = min(score, cfg.confirmed_cap)
        if negatives and score > 2:
            score -= 1
        why = (
            f"{len(voiced)} statement(s) from {who} (strength {strength:.2f}); covers "
            f"{', '.join(sorted(facets)) or 'no specific facet'}"
            + ("; includes specifics" if specific else "; no specifics (numbers, names, dates)")
        )
        confirmed = len(voiced) - len(own)
        if confirmed:
            why += f"; {confirmed} of them confirm a summary by the rep"
            if not own:
                why += f" (at most {cfg.confirmed_cap} without the prospect's own words)"
        if negatives:
            why += f"; {len(negatives)} statement(s) of not knowing lower it"
    missing = [f for f in FACETS[d] if f not in facets]
    if score < 5 and missing:
        why = why.rstrip(".") + f". Missing: {', '.join(missing)}."
    elif not why.endswith("."):
        why += "."
    if any(s.in_context for s in voiced):
        why += " Some evidence is an answer to the rep's question on this topic."

    ranked = sorted(
        signals,
        key=lambda s: (
            s.negative,
            _STANCE_ORDER[s.stance],
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
            role=None
            if s.sentence.role is Role.UNKNOWN or s.stance is Stance.UNATTRIBUTED
            else s.sentence.role,
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
