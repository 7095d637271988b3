"""The benchmark/fault-test analyzer: no model, a fixed scorecard at once.

The counterpart of the transcriber's ``instant`` provider: with both, a call's time through
the pipeline is the pipeline's own overhead (Kafka hops, database writes, object store), so
that overhead can be measured and load-tested without the analysis' CPU cost in the way.
The scorecard is always the same valid :class:`MeddicAnalysis`; the transcript only lends
its first segments as evidence so that the stored rows look like real ones.
"""

from __future__ import annotations

from callstream_common.contracts import (
    DimensionAssessment,
    Evidence,
    MeddicAnalysis,
    MeddicDimension,
    NextStep,
    Priority,
    QualificationStatus,
    Risk,
    Transcript,
)

SCORES: dict[MeddicDimension, int] = {
    MeddicDimension.METRICS: 4,
    MeddicDimension.ECONOMIC_BUYER: 3,
    MeddicDimension.DECISION_CRITERIA: 4,
    MeddicDimension.DECISION_PROCESS: 3,
    MeddicDimension.IDENTIFY_PAIN: 4,
    MeddicDimension.CHAMPION: 3,
}


class InstantAnalyzer:
    """Returns the same scorecard for every transcript, without any computation."""

    provider = "instant"
    model = "fixed-scorecard"

    def analyze(self, transcript: Transcript) -> MeddicAnalysis:
        segments = transcript.segments
        dimensions = []
        for n, (dimension, score) in enumerate(SCORES.items()):
            evidence = []
            if segments:
                seg = segments[n % len(segments)]
                evidence.append(
                    Evidence(quote=seg.text, start=seg.start, end=seg.end, speaker=seg.speaker)
                )
            dimensions.append(
                DimensionAssessment(
                    dimension=dimension,
                    score=score,
                    evidence=evidence,
                    gaps=[] if score >= 4 else [f"{dimension.title} is not fully confirmed"],
                    recommendations=[] if score >= 4 else [f"Confirm {dimension.title}"],
                    rationale="fixed score (instant analyzer)",
                )
            )
        overall = round(sum(SCORES.values()) / len(SCORES), 2)
        return MeddicAnalysis(
            dimensions=dimensions,
            overall_score=overall,
            qualification_status=QualificationStatus.MEDIUM,
            key_findings=["Fixed scorecard from the instant analyzer (benchmark mode)"],
            next_steps=[NextStep(action="Book a meeting with the economic buyer")],
            risks=[Risk(description="Decision process not confirmed", severity=Priority.LOW)],
            provider=self.provider,
            model=self.model,
        )
