"""Performance of a rep or a team over a period, from per-(rep, week) aggregates.

PostgreSQL does the heavy grouping; this module merges the buckets into the figures the
API shows (weighted by the number of analysed calls in each bucket), so the arithmetic is
tested without a database.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from pydantic import BaseModel

from callstream_common.contracts import MeddicDimension


class PerfBucket(BaseModel):
    rep_id: str
    week: date
    calls: int
    analysed: int
    average_overall: float | None = None
    average_by_dimension: dict[str, float] = {}
    qualification: dict[str, int] = {}


class WeekPoint(BaseModel):
    week: date
    calls: int
    analysed: int
    average_overall: float | None


class Performance(BaseModel):
    calls: int
    analysed: int
    average_overall: float | None
    average_by_dimension: dict[str, float | None]
    strongest_dimension: str | None
    weakest_dimension: str | None
    qualification_mix: dict[str, int]
    trend: list[WeekPoint]


class RepRow(BaseModel):
    rep_id: str
    calls: int
    analysed: int
    average_overall: float | None
    strongest_dimension: str | None
    weakest_dimension: str | None


def _weighted(pairs: list[tuple[float | None, int]]) -> float | None:
    total = sum(n for v, n in pairs if v is not None)
    if total == 0:
        return None
    return round(sum(v * n for v, n in pairs if v is not None) / total, 3)


def summarise(buckets: list[PerfBucket]) -> Performance:
    by_dim = {
        d.value: _weighted([(b.average_by_dimension.get(d.value), b.analysed) for b in buckets])
        for d in MeddicDimension
    }
    known = {k: v for k, v in by_dim.items() if v is not None}
    mix: dict[str, int] = defaultdict(int)
    for b in buckets:
        for status, n in b.qualification.items():
            mix[status] += n
    weeks: dict[date, list[PerfBucket]] = defaultdict(list)
    for b in buckets:
        weeks[b.week].append(b)
    return Performance(
        calls=sum(b.calls for b in buckets),
        analysed=sum(b.analysed for b in buckets),
        average_overall=_weighted([(b.average_overall, b.analysed) for b in buckets]),
        average_by_dimension=by_dim,
        strongest_dimension=max(known, key=lambda k: (known[k], k)) if known else None,
        weakest_dimension=min(known, key=lambda k: (known[k], k)) if known else None,
        qualification_mix=dict(sorted(mix.items())),
        trend=[
            WeekPoint(
                week=week,
                calls=sum(b.calls for b in group),
                analysed=sum(b.analysed for b in group),
                average_overall=_weighted([(b.average_overall, b.analysed) for b in group]),
            )
            for week, group in sorted(weeks.items())
        ],
    )


def compare_reps(buckets: list[PerfBucket]) -> list[RepRow]:
    """The team view's per-rep table, best average first (reps without analyses last)."""
    per_rep: dict[str, list[PerfBucket]] = defaultdict(list)
    for b in buckets:
        per_rep[b.rep_id].append(b)
    rows = []
    for rep_id, group in per_rep.items():
        perf = summarise(group)
        rows.append(
            RepRow(
                rep_id=rep_id,
                calls=perf.calls,
                analysed=perf.analysed,
                average_overall=perf.average_overall,
                strongest_dimension=perf.strongest_dimension,
                weakest_dimension=perf.weakest_dimension,
            )
        )
    return sorted(
        rows,
        key=lambda r: (r.average_overall is None, -(r.average_overall or 0), r.rep_id),
    )
