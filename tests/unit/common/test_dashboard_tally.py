"""The dashboard's distributions and averages merged from its (status, qualification)
groups: the same figures as counting and averaging over the calls one by one."""

from __future__ import annotations

from statistics import fmean

from callstream_common.reads.analytics import MEASURES, TallyGroup, tally


def group(status: str, qualification: str | None, scores: list[dict[str, float]]) -> TallyGroup:
    """The group of calls with ``scores`` (one mapping per call, a missing measure unscored)."""
    return TallyGroup(
        status=status,
        qualification=qualification,
        calls=len(scores),
        scored={m: sum(1 for s in scores if m in s) for m in MEASURES},
        sums={m: sum(s[m] for s in scores if m in s) for m in MEASURES},
    )


def test_averages_weigh_each_scored_call_once_across_groups() -> None:
    strong = [{"overall": 4.5, "metrics": 5, "champion": 4}, {"overall": 4.1, "metrics": 4}]
    weak = [{"overall": 2.0, "metrics": 1, "champion": 2}]
    unscored = [{}, {}]
    counted = tally(
        [
            group("completed", "Strong", strong),
            group("completed", "Weak", weak),
            group("pending", None, unscored),
        ]
    )
    calls = strong + weak
    assert counted.averages["overall"] == round(fmean(c["overall"] for c in calls), 3)
    assert counted.averages["metrics"] == round(fmean(c["metrics"] for c in calls), 3)
    # The champion was scored on two calls of three: those two are its average.
    assert counted.averages["champion"] == 3.0
    assert counted.averages["economic_buyer"] is None
    assert counted.by_status == {"completed": 3, "pending": 2}
    assert counted.by_qualification == {"Strong": 2, "Weak": 1}


def test_a_scope_without_calls_has_no_average_and_empty_distributions() -> None:
    counted = tally([])
    assert counted.by_status == {} and counted.by_qualification == {}
    assert set(counted.averages) == set(MEASURES)
    assert all(v is None for v in counted.averages.values())


def test_calls_of_one_status_in_several_qualifications_add_up() -> None:
    counted = tally(
        [
            group("completed", "Medium", [{"overall": 3.0}]),
            group("completed", "At Risk", [{"overall": 1.5}]),
            group("completed", "", [{"overall": 2.0}]),
        ]
    )
    assert counted.by_status == {"completed": 3}
    assert counted.by_qualification == {"Medium": 1, "At Risk": 1}
    assert counted.averages["overall"] == round((3.0 + 1.5 + 2.0) / 3, 3)
