"""Chart specs (pure): what console.js hands to Chart.js, built from the read side's
figures. A spec is plain JSON placed in a non-executing <script type="application/json">
island, so the page needs no inline script."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callstream_common.contracts import QualificationStatus

MEDDIC_ORDER = (
    "metrics",
    "economic_buyer",
    "decision_criteria",
    "decision_process",
    "identify_pain",
    "champion",
)
QUALIFICATION_ORDER = tuple(q.value for q in QualificationStatus)
QUALIFICATION_COLOURS = {
    QualificationStatus.STRONG.value: "#146c2e",
    QualificationStatus.MEDIUM.value: "#1f5fbf",
    QualificationStatus.WEAK.value: "#8a4b00",
    QualificationStatus.AT_RISK.value: "#a4161a",
}


def dimension_label(name: str) -> str:
    return name.replace("_", " ").title()


def radar(scores: Mapping[str, float | None]) -> dict[str, Any]:
    return {
        "type": "radar",
        "labels": [dimension_label(n) for n in MEDDIC_ORDER],
        "datasets": [{"label": "Score (1 to 5)", "data": [scores.get(n) for n in MEDDIC_ORDER]}],
        "scale": {"min": 0, "max": 5},
    }


def qualification_doughnut(counts: dict[str, int]) -> dict[str, Any]:
    names = [q for q in QUALIFICATION_ORDER if q in counts] + sorted(
        q for q in counts if q not in QUALIFICATION_ORDER
    )
    return {
        "type": "doughnut",
        "labels": names,
        "datasets": [{"label": "Calls", "data": [counts[n] for n in names]}],
        "colours": [QUALIFICATION_COLOURS.get(n, "#4a5363") for n in names],
    }


def dimension_bars(
    averages: Mapping[str, float | None],
    label: str = "Average score",
    second: tuple[str, Mapping[str, float | None]] | None = None,
) -> dict[str, Any]:
    datasets = [{"label": label, "data": [averages.get(n) for n in MEDDIC_ORDER]}]
    if second is not None:
        datasets.append({"label": second[0], "data": [second[1].get(n) for n in MEDDIC_ORDER]})
    return {
        "type": "bar",
        "labels": [dimension_label(n) for n in MEDDIC_ORDER],
        "datasets": datasets,
        "scale": {"min": 0, "max": 5},
    }


def weekly_bars(
    labels: list[str],
    series: dict[str, list[Any]],
    kind: str = "bar",
    scale: tuple[float, float] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": kind,
        "labels": labels,
        "datasets": [{"label": name, "data": values} for name, values in series.items()],
    }
    if scale is not None:
        spec["scale"] = {"min": scale[0], "max": scale[1]}
    return spec
