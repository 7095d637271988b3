"""Shared pieces of the stage handler unit tests: the fake database and contract samples."""

from __future__ import annotations

from callstream_common.contracts import (
    DimensionAssessment,
    MeddicAnalysis,
    MeddicDimension,
    QualificationStatus,
    Transcript,
    TranscriptSegment,
)
from tests.unit.fakes import db, uow  # noqa: F401  (fixtures)

TRANSCRIPT = Transcript(
    language="en",
    duration_seconds=42.5,
    segments=[
        TranscriptSegment(start=0, end=3, text="Thanks for joining.", speaker="rep"),
        TranscriptSegment(start=3, end=9, text="Our budget is approved.", speaker="buyer"),
    ],
    provider="fake",
    model="fake-1",
)

ANALYSIS = MeddicAnalysis(
    dimensions=[DimensionAssessment(dimension=d, score=3) for d in MeddicDimension],
    overall_score=3.0,
    qualification_status=QualificationStatus.MEDIUM,
    provider="fake",
    model="fake-1",
)
