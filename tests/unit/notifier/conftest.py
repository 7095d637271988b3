"""Fixtures for the notifier unit tests: a realistic analysis and the fake Slack server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from callstream_common.contracts import (
    DimensionAssessment,
    MeddicAnalysis,
    MeddicDimension,
    NextStep,
    Priority,
    QualificationStatus,
    Risk,
)
from callstream_notifier.slack import CallSummary, ConversationLinks
from tests.support.fake_slack import fake_slack  # noqa: F401  (fixture re-export)

SCORES = {
    MeddicDimension.METRICS: 4,
    MeddicDimension.ECONOMIC_BUYER: 2,
    MeddicDimension.DECISION_CRITERIA: 3,
    MeddicDimension.DECISION_PROCESS: 3,
    MeddicDimension.IDENTIFY_PAIN: 5,
    MeddicDimension.CHAMPION: 1,
}

MakeAnalysis = Callable[..., MeddicAnalysis]


@pytest.fixture
def make_analysis() -> MakeAnalysis:
    """Build an analysis; keyword overrides replace fields, ``scores`` replaces some scores."""

    def make(scores: dict[MeddicDimension, int] | None = None, **overrides: Any) -> MeddicAnalysis:
        merged = {**SCORES, **(scores or {})}
        fields: dict[str, Any] = {
            "dimensions": [
                DimensionAssessment(
                    dimension=name,
                    score=merged[name],
                    gaps=[f"No clear {name.title.lower()} yet"] if merged[name] <= 2 else [],
                )
                # reversed: the builder must not rely on the analysis' order
                for name in reversed(list(MeddicDimension))
            ],
            "overall_score": 3.0,
            "qualification_status": QualificationStatus.MEDIUM,
            "next_steps": [
                NextStep(action="Book a meeting with the CFO", priority=Priority.HIGH),
                NextStep(action="Send the ROI model", priority=Priority.LOW),
            ],
            "risks": [
                Risk(description="Budget not confirmed", severity=Priority.MEDIUM),
                Risk(description="No champion identified", severity=Priority.HIGH),
            ],
        }
        fields.update(overrides)
        return MeddicAnalysis(**fields)

    return make


@pytest.fixture
def analysis(make_analysis: MakeAnalysis) -> MeddicAnalysis:
    return make_analysis()


@pytest.fixture
def call() -> CallSummary:
    return CallSummary(
        conversation_id=uuid.UUID("0b7d3c1e-7a51-4c0e-9d62-7f1f8a0c2b11"),
        title="Discovery call",
        opportunity_name="Acme renewal",
        company_name="Acme Corp",
        rep_id="rep-42",
        conversation_date=date(2025, 3, 14),
        duration_seconds=1834,
    )


@pytest.fixture
def links(call: CallSummary) -> ConversationLinks:
    base = f"https://console.example.com/conversations/{call.conversation_id}"
    return ConversationLinks(transcript_url=f"{base}/transcript", analysis_url=f"{base}/analysis")
