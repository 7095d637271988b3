"""The console's pure parts: the pipeline timeline, the sign-in
redirect guard, the chart spec of the radar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callstream_ingest.console.charts import qualification_doughnut, radar
from callstream_ingest.console.signin import safe_next
from callstream_ingest.console.timeline import DeadLetterVisit, build_timeline


def test_timeline_shows_durations_retries_and_dead_letter_visits() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    visit = DeadLetterVisit("e1", "TimeoutError", "slow", 3, "replayed", at)
    steps = build_timeline(
        {
            "upload": {"started_at": "a", "finished_at": "b", "seconds": 0.2},
            "transcription": {"started_at": "c", "finished_at": "d", "seconds": 4.0},
            "analysis": {"started_at": "e"},
        },
        [visit],
        ["analyzer"],
        "processing",
        None,
    )
    assert [s.state for s in steps] == ["done", "done", "running", "waiting"]
    assert steps[1].seconds == 4.0
    assert steps[2].dead_letters == [visit] and steps[2].retries == 2


def test_a_failed_stage_is_marked_failed() -> None:
    steps = build_timeline(
        {"upload": {"started_at": "a", "finished_at": "b"}}, [], [], "failed", "transcriber"
    )
    assert [s.state for s in steps] == ["done", "failed", "waiting", "waiting"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/console/conversations/1", "/console/conversations/1"),
        ("https://evil.example/console", "/console/"),
        ("//evil.example/console", "/console/"),
        ("/console//evil.example", "/console/"),
        ("/v1/ops/dlq", "/console/"),
        (None, "/console/"),
    ],
)
def test_sign_in_only_redirects_inside_the_console(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected


def test_radar_lists_the_six_dimensions_in_meddic_order() -> None:
    spec = radar({"champion": 4, "metrics": 2})
    assert spec["labels"][0] == "Metrics" and spec["labels"][-1] == "Champion"
    assert spec["datasets"][0]["data"] == [2, None, None, None, None, 4]


def test_qualification_chart_keeps_a_fixed_order_and_colours() -> None:
    spec = qualification_doughnut({"At Risk": 1, "Strong": 3, "Unknown": 2})
    assert spec["labels"] == ["Strong", "At Risk", "Unknown"]
    assert spec["colours"][0] != spec["colours"][2], "the analyzer's statuses have colours"
    assert spec["datasets"][0]["data"] == [3, 1, 2]
    assert len(spec["colours"]) == 3
