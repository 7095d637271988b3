"""The pipeline benchmark learns completions from PostgreSQL, not from the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bench.completions import asyncpg_dsn, view_of
from bench.pipeline import stage_segments


def test_the_sqlalchemy_url_becomes_an_asyncpg_dsn() -> None:
    url = "postgresql+asyncpg://u:p@127.0.0.1:15432/callstream"
    assert asyncpg_dsn(url) == "postgresql://u:p@127.0.0.1:15432/callstream"
    assert asyncpg_dsn("postgresql://h/db") == "postgresql://h/db"


def test_a_finished_row_gives_the_segments_the_api_view_gave() -> None:
    started = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    timings = {
        "upload": {
            "started_at": "2026-01-01T12:00:00+00:00",
            "finished_at": "2026-01-01T12:00:01+00:00",
        },
        "transcription": {
            "started_at": "2026-01-01T12:00:02+00:00",
            "finished_at": "2026-01-01T12:00:03+00:00",
        },
    }
    row = {
        "status": "completed",
        "timings": json.dumps(timings),
        "completed_at": datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC),
    }
    view = view_of(row)
    segments = stage_segments(view, started.timestamp())
    assert view["status"] == "completed"
    assert segments["upload"] == 1 and segments["hop 1"] == 1 and segments["transcription"] == 1
    assert segments["total"] == 5
    assert view_of({"status": "failed", "timings": None, "completed_at": None})["timings"] == {}
