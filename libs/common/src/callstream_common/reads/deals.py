"""The MEDDIC picture of a deal across its calls, and the warnings it raises.

Pure: it takes the calls of one opportunity (oldest first) with their analyses and
returns, per dimension, the best and the latest score with the evidence behind each and
the call it came from, the gaps still open, the overall score's trend, the open risks and
next steps of the latest analysed call, and deal warnings.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from callstream_common.contracts import MeddicDimension

SATISFIED_SCORE = 4
"""A dimension scored this or higher in any call is considered covered: no open gaps."""
WEAK_SCORE = 2
WARN_AFTER_CALLS = 2
FALLING_DROP = 0.5


class DimensionSnapshot(BaseModel):
    dimension: MeddicDimension
    score: int
    evidence: list[dict[str, Any]] = []
    gaps: list[str] = []


class CallSnapshot(BaseModel):
    """One call of the deal as the picture needs it (analysis fields None if unanalysed)."""

    conversation_id: uuid.UUID
    created_at: datetime
    title: str | None = None
    status: str
    overall_score: float | None = None
    qualification_status: str | None = None
    dimensions: list[DimensionSnapshot] = []
    risks: list[dict[str, Any]] = []
    next_steps: list[dict[str, Any]] = []
    pricing_discussed: bool = False

    @property
    def analysed(self) -> bool:
        return self.overall_score is not None and bool(self.dimensions)


class ScoreSource(BaseModel):
    score: int
    conversation_id: uuid.UUID
    created_at: datetime
    evidence: list[dict[str, Any]]


class DimensionPicture(BaseModel):
    dimension: MeddicDimension
    best: ScoreSource | None
    latest: ScoreSource | None
    open_gaps: list[str]


class TrendPoint(BaseModel):
    conversation_id: uuid.UUID
    created_at: datetime
    overall_score: float


class DealWarning(BaseModel):
    code: str
    severity: str
    message: str


class DealPicture(BaseModel):
    calls_analysed: int
    dimensions: list[DimensionPicture]
    trend: list[TrendPoint]
    open_risks: list[dict[str, Any]]
    next_steps: list[dict[str, Any]]
    warnings: list[DealWarning]


def _source(call: CallSnapshot, dim: DimensionSnapshot) -> ScoreSource:
    return ScoreSource(
        score=dim.score,
        conversation_id=call.conversation_id,
        created_at=call.created_at,
        evidence=dim.evidence,
    )


def dimension_picture(name: MeddicDimension, calls: list[CallSnapshot]) -> DimensionPicture:
    best: ScoreSource | None = None
    latest: ScoreSource | None = None
    latest_gaps: list[str] = []
    for call in calls:
        for dim in call.dimensions:
            if dim.dimension != name:
                continue
            latest, latest_gaps = _source(call, dim), dim.gaps
            if best is None or dim.score >= best.score:
                best = latest
    covered = best is not None and best.score >= SATISFIED_SCORE
    return DimensionPicture(
        dimension=name, best=best, latest=latest, open_gaps=[] if covered else latest_gaps
    )


def _best(picture: list[DimensionPicture], name: MeddicDimension) -> int:
    found = next(p for p in picture if p.dimension == name)
    return found.best.score if found.best else 0


def deal_warnings(calls: list[CallSnapshot], picture: list[DimensionPicture]) -> list[DealWarning]:
    """Rules a sales manager would apply by hand, raised only once a deal has had enough
    calls (:data:`WARN_AFTER_CALLS`) for an absence to mean something."""
    analysed = [c for c in calls if c.analysed]
    out: list[DealWarning] = []
    n = len(analysed)
    if n >= WARN_AFTER_CALLS:
        if _best(picture, MeddicDimension.ECONOMIC_BUYER) <= WEAK_SCORE:
            out.append(
                DealWarning(
                    code="no_economic_buyer",
                    severity="high",
                    message=f"no economic buyer identified after {n} calls",
                )
            )
        if _best(picture, MeddicDimension.CHAMPION) < SATISFIED_SCORE:
            out.append(
                DealWarning(
                    code="champion_unconfirmed",
                    severity="medium",
                    message=f"no confirmed champion after {n} calls",
                )
            )
        if _best(picture, MeddicDimension.DECISION_PROCESS) <= WEAK_SCORE:
            out.append(
                DealWarning(
                    code="decision_process_unknown",
                    severity="medium",
                    message=f"the decision process was never discussed in {n} calls",
                )
            )
        if not any(c.pricing_discussed for c in analysed):
            out.append(
                DealWarning(
                    code="pricing_never_discussed",
                    severity="medium",
                    message=f"pricing was never discussed in {n} calls",
                )
            )
        scores = [c.overall_score for c in analysed if c.overall_score is not None]
        falling_step = scores[-1] <= scores[-2] - FALLING_DROP
        falling_run = len(scores) >= 3 and scores[-3] > scores[-2] > scores[-1]
        if falling_step or falling_run:
            out.append(
                DealWarning(
                    code="score_falling",
                    severity="high",
                    message=(
                        f"the overall score fell from {scores[-2]:.1f} to {scores[-1]:.1f}"
                        if falling_step
                        else "the overall score fell over the last three calls"
                    ),
                )
            )
    if analysed and analysed[-1].qualification_status == "At Risk":
        out.append(
            DealWarning(code="at_risk", severity="high", message="the latest call is At Risk")
        )
    return out


def deal_picture(calls: list[CallSnapshot]) -> DealPicture:
    """Everything the opportunity detail shows about the deal, from its calls in order."""
    ordered = sorted(calls, key=lambda c: (c.created_at, str(c.conversation_id)))
    picture = [dimension_picture(name, ordered) for name in MeddicDimension]
    analysed = [c for c in ordered if c.analysed]
    latest = analysed[-1] if analysed else None
    return DealPicture(
        calls_analysed=len(analysed),
        dimensions=picture,
        trend=[
            TrendPoint(
                conversation_id=c.conversation_id,
                created_at=c.created_at,
                overall_score=c.overall_score or 0.0,
            )
            for c in analysed
        ],
        open_risks=latest.risks if latest else [],
        next_steps=latest.next_steps if latest else [],
        warnings=deal_warnings(ordered, picture),
    )
