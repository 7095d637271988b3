"""Alert rules: each kind, its messages and its validation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from callstream_common.contracts import MeddicAnalysis, MeddicDimension, QualificationStatus
from callstream_notifier.alerts import AlertKind, AlertRule, AlertSeverity, evaluate_rules

MakeAnalysis = Callable[..., MeddicAnalysis]


def rule(**fields: object) -> AlertRule:
    return AlertRule.model_validate({"id": "r1", "name": "Rule", **fields})


def test_overall_below_fires_strictly_below(make_analysis: MakeAnalysis) -> None:
    low = rule(kind="overall_below", threshold=3)
    [alert] = evaluate_rules([low], make_analysis(overall_score=2.4))
    assert alert.rule_id == "r1" and alert.kind is AlertKind.OVERALL_BELOW
    assert alert.message == (
        "Overall MEDDIC score 2.4/5 is below the threshold of 3 (qualification: Medium)."
    )
    assert evaluate_rules([low], make_analysis(overall_score=3.0)) == []


def test_status_is(make_analysis: MakeAnalysis) -> None:
    at_risk = rule(kind="status_is", status="At Risk", severity="critical")
    analysis = make_analysis(qualification_status=QualificationStatus.AT_RISK, overall_score=1.5)
    [alert] = evaluate_rules([at_risk], analysis)
    assert alert.severity is AlertSeverity.CRITICAL
    assert alert.message == "Qualification status is At Risk (overall score 1.5/5)."
    assert evaluate_rules([at_risk], make_analysis()) == []


def test_dimension_at_most_is_inclusive(make_analysis: MakeAnalysis) -> None:
    eb = rule(kind="dimension_at_most", dimension="economic_buyer", threshold=2)
    [alert] = evaluate_rules([eb], make_analysis())  # economic buyer scores 2
    assert alert.message == "Economic Buyer scored 2/5, at or below the threshold of 2."
    strong = make_analysis(scores={MeddicDimension.ECONOMIC_BUYER: 3})
    assert evaluate_rules([eb], strong) == []


def test_any_dimension_at_most_lists_the_weak_ones(make_analysis: MakeAnalysis) -> None:
    any_weak = rule(kind="any_dimension_at_most", threshold=2)
    [alert] = evaluate_rules([any_weak], make_analysis())
    assert alert.message == (
        "2 MEDDIC dimensions at or below 2/5: Economic Buyer (2/5), Champion (1/5)."
    )
    one = make_analysis(scores={MeddicDimension.CHAMPION: 3})
    assert evaluate_rules([any_weak], one)[0].message.startswith("1 MEDDIC dimension at")
    all_good = make_analysis(scores={d: 4 for d in MeddicDimension})
    assert evaluate_rules([any_weak], all_good) == []


def test_disabled_rules_are_skipped_and_order_kept(make_analysis: MakeAnalysis) -> None:
    rules = [
        rule(id="a", kind="overall_below", threshold=4, channel="#deals"),
        rule(id="b", kind="overall_below", threshold=4, enabled=False),
        rule(id="c", kind="any_dimension_at_most", threshold=1, target="crm"),
    ]
    alerts = evaluate_rules(rules, make_analysis())
    assert [(a.rule_id, a.channel, a.target) for a in alerts] == [
        ("a", "#deals", None),
        ("c", None, "crm"),
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "overall_below"},  # no threshold
        {"kind": "status_is"},  # no status
        {"kind": "dimension_at_most", "threshold": 2},  # no dimension
        {"kind": "overall_below", "threshold": 3, "dimension": "champion"},  # stray field
        {"kind": "overall_below", "threshold": 7},  # out of 1..5
        {"kind": "status_is", "status": "Lukewarm"},
        {"kind": "nonsense"},
        {"kind": "overall_below", "threshold": 3, "colour": "red"},  # unknown field
    ],
)
def test_invalid_rules_are_rejected(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        rule(**fields)
