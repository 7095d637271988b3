"""Alert rules: which analysed calls deserve someone's attention now.

Rules are data (stored, edited through the API, loaded from configuration), evaluation is a
pure function of the rules and one ``MeddicAnalysis``. The handler records each
``AlertTriggered`` in the alert history and routes it to the rule's channel or target; nothing
here does I/O, so the same analysis always yields the same alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callstream_common.contracts import MeddicAnalysis, MeddicDimension, QualificationStatus

Score = Annotated[float, Field(ge=1, le=5)]


class AlertKind(StrEnum):
    OVERALL_BELOW = "overall_below"
    """Overall score strictly below ``threshold``."""
    STATUS_IS = "status_is"
    """Qualification status equals ``status``."""
    DIMENSION_AT_MOST = "dimension_at_most"
    """The score of ``dimension`` is at most ``threshold``."""
    ANY_DIMENSION_AT_MOST = "any_dimension_at_most"
    """At least one dimension scores at most ``threshold``."""


class AlertSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


# Which optional fields each kind needs; every other optional field must be left unset so a
# rule like ``overall_below`` with a stray ``dimension`` is rejected instead of misread.
_REQUIRED: dict[AlertKind, frozenset[str]] = {
    AlertKind.OVERALL_BELOW: frozenset({"threshold"}),
    AlertKind.STATUS_IS: frozenset({"status"}),
    AlertKind.DIMENSION_AT_MOST: frozenset({"dimension", "threshold"}),
    AlertKind.ANY_DIMENSION_AT_MOST: frozenset({"threshold"}),
}
_PARAMETERS = ("threshold", "status", "dimension")


class AlertRule(BaseModel):
    """One rule. ``channel`` (a Slack channel) and ``target`` (a named webhook target) say
    where a triggered alert goes; both unset means the notifier's default destination."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    kind: AlertKind
    threshold: Score | None = None
    status: QualificationStatus | None = None
    dimension: MeddicDimension | None = None
    severity: AlertSeverity = AlertSeverity.WARNING
    enabled: bool = True
    channel: str | None = None
    target: str | None = None

    @model_validator(mode="after")
    def _parameters_match_kind(self) -> Self:
        required = _REQUIRED[self.kind]
        missing = sorted(p for p in required if getattr(self, p) is None)
        stray = sorted(p for p in _PARAMETERS if p not in required and getattr(self, p) is not None)
        if missing:
            raise ValueError(f"rule kind {self.kind.value!r} requires {', '.join(missing)}")
        if stray:
            raise ValueError(f"rule kind {self.kind.value!r} does not use {', '.join(stray)}")
        return self


class AlertTriggered(BaseModel):
    """A rule that fired for one analysis, with a message a manager can act on as is."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    rule_name: str
    kind: AlertKind
    message: str
    severity: AlertSeverity
    channel: str | None = None
    target: str | None = None


def _fmt(value: float) -> str:
    """``3`` rather than ``3.0`` for whole thresholds, one decimal otherwise."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _message(rule: AlertRule, analysis: MeddicAnalysis) -> str | None:
    """The alert text if ``rule`` fires for ``analysis``, else ``None``."""
    overall = analysis.overall_score
    status = analysis.qualification_status.value
    if rule.kind is AlertKind.OVERALL_BELOW:
        assert rule.threshold is not None
        if overall < rule.threshold:
            return (
                f"Overall MEDDIC score {overall:.1f}/5 is below the threshold of "
                f"{_fmt(rule.threshold)} (qualification: {status})."
            )
        return None
    if rule.kind is AlertKind.STATUS_IS:
        if analysis.qualification_status == rule.status:
            return f"Qualification status is {status} (overall score {overall:.1f}/5)."
        return None
    if rule.kind is AlertKind.DIMENSION_AT_MOST:
        assert rule.dimension is not None and rule.threshold is not None
        score = analysis.dimension(rule.dimension).score
        if score <= rule.threshold:
            return (
                f"{rule.dimension.title} scored {score}/5, at or below the threshold of "
                f"{_fmt(rule.threshold)}."
            )
        return None
    assert rule.threshold is not None
    threshold = rule.threshold
    in_meddic_order = [analysis.dimension(name) for name in MeddicDimension]
    weak = [d for d in in_meddic_order if d.score <= threshold]
    if not weak:
        return None
    listed = ", ".join(f"{d.dimension.title} ({d.score}/5)" for d in weak)
    noun = "dimension" if len(weak) == 1 else "dimensions"
    return f"{len(weak)} MEDDIC {noun} at or below {_fmt(threshold)}/5: {listed}."


def evaluate_rules(rules: Iterable[AlertRule], analysis: MeddicAnalysis) -> list[AlertTriggered]:
    """Every enabled rule that fires for ``analysis``, in rule order."""
    triggered: list[AlertTriggered] = []
    for rule in rules:
        if not rule.enabled:
            continue
        message = _message(rule, analysis)
        if message is None:
            continue
        triggered.append(
            AlertTriggered(
                rule_id=rule.id,
                rule_name=rule.name,
                kind=rule.kind,
                message=message,
                severity=rule.severity,
                channel=rule.channel,
                target=rule.target,
            )
        )
    return triggered
